package check

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/testnet"
)

// TestInitTrackFileSymlinkAttack: nobody plants a symlink at an init_file
// path in a /tmp-like folder, pointing at a file only root may write.
// vigild (root) must neither create nor overwrite through it.
func TestInitTrackFileSymlinkAttack(t *testing.T) {
	d := testnet.SharedDir(t)
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("precious\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tf := filepath.Join(d, "track")
	if out, err := testnet.AsNobody(t, "ln", "-s", victim, tf); err != nil {
		t.Fatalf("nobody: ln -s: %v: %s", err, out)
	}
	for _, overwrite := range []bool{false, true} {
		if err := InitTrackFile(tf, 42, overwrite); err == nil {
			t.Errorf("InitTrackFile(overwrite=%v) through nobody's symlink succeeded", overwrite)
		}
		if b, _ := os.ReadFile(victim); string(b) != "precious\n" {
			t.Fatalf("overwrite=%v: the symlink's target now holds %q", overwrite, b)
		}
	}
}

// TestTrackFileFIFOAttack: nobody plants a FIFO at a track_file path.
// Reading it (at start-up, reload and on every change) and init_file must
// return at once with an error, not wait for a writer that never comes.
func TestTrackFileFIFOAttack(t *testing.T) {
	d := testnet.SharedDir(t)
	tf := filepath.Join(d, "track")
	if out, err := testnet.AsNobody(t, "mkfifo", "-m", "0666", tf); err != nil {
		t.Fatalf("nobody: mkfifo: %v: %s", err, out)
	}
	done := make(chan error, 2)
	go func() { _, err := ReadTrackFile(tf); done <- err }()
	go func() { done <- InitTrackFile(tf, 1, true) }()
	for range 2 {
		select {
		case err := <-done:
			if err == nil {
				t.Errorf("a FIFO at the track file path gave no error")
			}
		case <-time.After(10 * time.Second):
			t.Fatal("reading or initialising a track file blocked on a FIFO")
		}
	}
}

// TestInitTrackFileHardlink: a file with a second name (a hard link into
// another folder) is not overwritten: the other name may be anything.
func TestInitTrackFileHardlink(t *testing.T) {
	d := t.TempDir()
	a, b := filepath.Join(d, "a"), filepath.Join(d, "b")
	if err := os.WriteFile(a, []byte("7\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(a, b); err != nil {
		t.Fatal(err)
	}
	if err := InitTrackFile(b, 1, true); err == nil {
		t.Fatal("InitTrackFile overwrote a file with two links")
	}
	if got, _ := os.ReadFile(a); string(got) != "7\n" {
		t.Fatalf("the other link now holds %q", got)
	}
}
