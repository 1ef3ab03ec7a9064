package ctl

import (
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestListen: the socket is 0600 whatever the umask, a stale
// socket is replaced, anything else at the path is kept, and Close
// removes only the socket it created.
func TestListen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ctl.sock")
	old := syscall.Umask(0)
	defer syscall.Umask(old)

	// A stale socket from an earlier run.
	stale, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()

	l, err := listen(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Fatalf("control socket: %v, %v; want a 0600 socket", fi.Mode(), err)
	}
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("dial the control socket: %v", err)
	}
	c.Close()
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("%d entries next to the socket, want it alone (no private directory left)", len(entries))
	}

	// Replaced meanwhile (by another vigild, say): Close leaves it.
	if err := os.Rename(path, path+".old"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("other\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if b, err := os.ReadFile(path); err != nil || string(b) != "other\n" {
		t.Errorf("Close removed what replaced its socket: %q, %v", b, err)
	}

	// Not a socket: refused and kept.
	if _, err := listen(path); err == nil || !strings.Contains(err.Error(), "other than a socket") {
		t.Errorf("listen over a regular file: %v", err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "other\n" {
		t.Errorf("listen touched a regular file: %q, %v", b, err)
	}

	// Our own socket goes at Close.
	os.Remove(path)
	l, err = listen(path)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("socket left after Close: %v", err)
	}
}
