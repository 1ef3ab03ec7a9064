package ctl_test

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigil-ha/vigil/internal/ctl"
	"github.com/vigil-ha/vigil/testnet"
)

// TestNobodyRefused: a client running as nobody, on a control socket whose
// mode an operator widened, is refused by its SO_PEERCRED credentials for
// every command (demote included), nothing reaches the handler but the
// refusal, and no audit line claims the command ran.
func TestNobodyRefused(t *testing.T) {
	uid, gid := testnet.Nobody(t)
	h := &handler{}
	path, _ := start(t, h)
	// The widened socket: nobody may reach and connect to it.
	for d := filepath.Dir(path); d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"demote VI_1", "maintenance on", "events", "status"} {
		c, err := dialAs(path, uid, gid)
		if err != nil {
			t.Fatalf("connect as nobody: %v", err)
		}
		c.SetDeadline(time.Now().Add(time.Minute))
		c.Write([]byte(cmd + "\n"))
		b := make([]byte, 4096)
		n, _ := c.Read(b)
		c.Close()
		if !strings.Contains(string(b[:n]), fmt.Sprintf("permission denied: uid %d may not use", uid)) {
			t.Errorf("%s as nobody: answered %q", cmd, b[:n])
		}
	}
	if got := h.refused.Load(); got != 4 {
		t.Errorf("%d refusals told to the handler, want 4", got)
	}
	h.mu.Lock()
	if len(h.ops) != 0 || len(h.audits) != 0 {
		t.Errorf("a refused client ran %v, audited %v", h.ops, h.audits)
	}
	h.mu.Unlock()
	// And root still gets in.
	if _, err := (&ctl.Client{Path: path}).Operate(t.Context(), ctl.Request{Cmd: ctl.CmdDemote, Target: "VI_1"}); err != nil {
		t.Errorf("root: %v", err)
	}
}

// dialAs connects to the unix socket at path from a thread whose
// credentials are uid and gid (the rest of the process keeps root's); the
// thread is thrown away afterwards.
func dialAs(path string, uid, gid uint32) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		// Never unlocked: the goroutine's thread ends with it, and with it
		// the changed credentials.
		runtime.LockOSThread()
		if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(gid), uintptr(gid), uintptr(gid)); e != 0 {
			ch <- result{err: e}
			return
		}
		if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(uid), uintptr(uid), uintptr(uid)); e != 0 {
			ch <- result{err: e}
			return
		}
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			ch <- result{err: err}
			return
		}
		if err := unix.Connect(fd, &unix.SockaddrUnix{Name: path}); err != nil {
			unix.Close(fd)
			ch <- result{err: err}
			return
		}
		f := os.NewFile(uintptr(fd), path)
		c, err := net.FileConn(f)
		f.Close()
		ch <- result{c, err}
	}()
	r := <-ch
	if r.c == nil && r.err == nil {
		r.err = errors.New("no connection")
	}
	return r.c, r.err
}
