package notify_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/notify"
	"github.com/vigil-ha/vigil/testnet"
)

// secTree is a root-owned 0755 base with a root-owned 0755 bin folder for
// the scripts and a world-writable out folder for what they record.
func secTree(t *testing.T) (base, bin, out string) {
	t.Helper()
	base, err := os.MkdirTemp("", "vigil-notifysec-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	bin, out = filepath.Join(base, "bin"), filepath.Join(base, "out")
	for d, mode := range map[string]os.FileMode{base: 0o755, bin: 0o755, out: 0o777} {
		if d != base {
			if err := os.Mkdir(d, mode); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chmod(d, mode); err != nil {
			t.Fatal(err)
		}
	}
	return base, bin, out
}

// swapAsNobody moves dir away, puts a world-writable folder in its place
// and has nobody write each script there with body.
func swapAsNobody(t *testing.T, dir, body string, scripts ...string) {
	t.Helper()
	if err := os.Rename(dir, dir+".old"); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	for _, s := range scripts {
		sh := "printf '%s\\n' '#!/bin/sh' '" + body + "' > '" + s + "' && chmod 755 '" + s + "'"
		if out, err := testnet.AsNobody(t, "sh", "-c", sh); err != nil {
			t.Fatalf("nobody plants %s: %v\n%s", s, err, out)
		}
	}
}

func readTrim(path string) string {
	b, _ := os.ReadFile(path)
	return strings.TrimSpace(string(b))
}

// TestNotifyRefusesScriptMadeUnsafe: a notify script that was safe runs as
// root; after its folder is swapped for one nobody can write and nobody
// plants a script under its name, the next notification refuses it right
// before exec and counts it, and the planted script never runs. With
// AllowUnsafe (no enable_script_security) it runs, as in keepalived.
func TestNotifyRefusesScriptMadeUnsafe(t *testing.T) {
	testnet.Nobody(t)
	_, bin, out := secTree(t)
	good, planted := filepath.Join(out, "good"), filepath.Join(out, "planted")
	script := testnet.WriteScript(t, bin, "master.sh", "id -u >> "+good)
	n := notify.New(notify.Config{Log: quiet})
	defer n.Close()
	notifyOnce := func(cmd *notify.Command) {
		t.Helper()
		n.Notify(notify.Event{Kind: notify.KindInstance, Name: "VI_1", State: notify.StateMaster, Priority: 100},
			notify.Scripts{Master: cmd})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := n.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	cmd := &notify.Command{Argv: []string{script}}
	notifyOnce(cmd)
	if got := readTrim(good); got != "0" {
		t.Fatalf("the safe script ran as %q, want 0", got)
	}
	swapAsNobody(t, bin, "id -u >> "+planted, script)
	notifyOnce(cmd)
	if st := n.Stats(); st.Runs != 2 || st.Succeeded != 1 || st.Refused != 1 || st.Errors != 1 {
		t.Errorf("stats %+v, want one success and one refusal", st)
	}
	if got := readTrim(planted); got != "" {
		t.Fatalf("the planted script ran, as uid %q", got)
	}
	notifyOnce(&notify.Command{Argv: []string{script}, AllowUnsafe: true})
	if got := readTrim(planted); got != "0" {
		t.Errorf("AllowUnsafe: the script ran as %q, want 0", got)
	}
}

// TestFIFOScriptRefused: a notify_fifo_script that nobody could replace is
// not started; the FIFO still opens and takes lines, and the refusal is
// counted.
func TestFIFOScriptRefused(t *testing.T) {
	testnet.Nobody(t)
	base, bin, out := secTree(t)
	planted := filepath.Join(out, "planted")
	script := filepath.Join(bin, "reader")
	swapAsNobody(t, bin, "id -u >> "+planted, script)
	f, err := notify.OpenFIFO(notify.FIFOConfig{Path: filepath.Join(base, "fifo"), Script: &notify.Command{Argv: []string{script}}, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.WriteLine("INSTANCE \"VI_1\" MASTER 100\n"); err != nil {
		t.Errorf("FIFO without its script: %v", err)
	}
	if st := f.Stats(); st.ScriptRefused != 1 || st.Lines != 1 {
		t.Errorf("stats %+v, want 1 refused script and 1 line", st)
	}
	time.Sleep(500 * time.Millisecond)
	if got := readTrim(planted); got != "" {
		t.Fatalf("the planted FIFO script ran, as uid %q", got)
	}
}
