package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/testnet"
)

// TestIncludeFIFOAttack: keepalived.conf includes a glob in a folder
// other users can write (here a /tmp-like one). nobody plants a FIFO that
// the glob matches. Loading (vigild -t, start-up, reload) must not wait
// for a writer that never comes: it names the file and goes on.
func TestIncludeFIFOAttack(t *testing.T) {
	shared := testnet.SharedDir(t)
	if out, err := testnet.AsNobody(t, "mkfifo", "-m", "0666", filepath.Join(shared, "evil.conf")); err != nil {
		t.Fatalf("nobody: mkfifo: %v: %s", err, out)
	}
	main := filepath.Join(t.TempDir(), "keepalived.conf")
	conf := "global_defs {\n    router_id test\n}\ninclude " + shared + "/*.conf\n"
	if err := os.WriteFile(main, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	type result struct {
		errs []*Error
		err  error
	}
	done := make(chan result, 1)
	go func() {
		_, errs, err := Load(main, Options{ConfigID: "x"})
		done <- result{errs, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatalf("Load: %v", r.err)
		}
		var named bool
		for _, e := range r.errs {
			named = named || strings.Contains(e.Error(), "evil.conf") && strings.Contains(e.Error(), "not a regular file")
		}
		if !named {
			t.Errorf("no complaint names the FIFO: %v", r.errs)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("loading a configuration blocked on a FIFO an include glob matched")
	}
}

// TestReadFileBounds: only regular files, at most maxFileBytes.
func TestReadFileBounds(t *testing.T) {
	dir := t.TempDir()
	if _, err := readFile(dir); err == nil {
		t.Error("readFile read a directory")
	}
	big := filepath.Join(dir, "big.conf")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(maxFileBytes + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := readFile(big); err == nil {
		t.Error("readFile read a file larger than maxFileBytes")
	}
	small := filepath.Join(dir, "ok.conf")
	os.WriteFile(small, []byte("global_defs {}\n"), 0o644)
	if b, err := readFile(small); err != nil || string(b) != "global_defs {}\n" {
		t.Errorf("readFile(ok.conf) = %q, %v", b, err)
	}
}
