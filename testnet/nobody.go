package testnet

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Nobody returns the uid and gid of the unprivileged user "nobody", the
// local attacker of the security tests. It skips loudly (fails under
// CI=true) when the user does not exist or the test does not run as root.
func Nobody(t testing.TB) (uid, gid uint32) {
	t.Helper()
	NeedRoot(t)
	u, err := user.Lookup("nobody")
	if err != nil {
		skipOrFail(t, "%s needs the user nobody: %v", t.Name(), err)
		return 0, 0
	}
	id, err1 := strconv.ParseUint(u.Uid, 10, 32)
	g, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		t.Fatalf("user nobody: uid %q gid %q", u.Uid, u.Gid)
	}
	return uint32(id), uint32(g)
}

// AsNobody runs name with args as the user nobody (no supplementary
// groups) and returns its combined output. The command is killed after a
// minute.
func AsNobody(t testing.TB, name string, args ...string) ([]byte, error) {
	t.Helper()
	uid, gid := Nobody(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid, Groups: []uint32{}}}
	cmd.Dir = "/"
	return cmd.CombinedOutput()
}

// SharedDir returns a fresh folder as /tmp is: root's, world-writable with
// the sticky bit, inside a parent nobody can reach. It is where the local
// attacker plants symlinks, FIFOs and files for root to trip on; removed
// when the test ends.
func SharedDir(t testing.TB) string {
	t.Helper()
	Nobody(t)
	d := t.TempDir()
	if err := os.Chmod(filepath.Dir(d), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(d, 0o777|fs.ModeSticky); err != nil {
		t.Fatal(err)
	}
	return d
}
