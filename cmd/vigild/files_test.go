package main

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/ctl"
	"github.com/vigil-ha/vigil/testnet"
)

// The files vigild writes as root (dump files, pid file, control socket)
// attacked by a local user, nobody, who can write to the directory they
// are in: a fresh world-writable sticky directory, as /tmp is. Written
// with the kernel's fs.protected_symlinks / protected_regular /
// protected_fifos off (as here), the attacks below succeed against a
// vigild that uses plain os.WriteFile; with them on, the kernel itself
// stops some of them in sticky directories, and vigild must not depend on
// that.

// filesWait bounds every wait in these tests; generous, for a loaded
// machine.
const filesWait = 30 * time.Second

// routerLab is one router on a switch: enough for vigild to run.
func routerLab(t *testing.T) *testnet.Host {
	t.Helper()
	l := testnet.New(t)
	h := l.Host("r1")
	i := l.Switch("sw").Attach(h, "eth0")
	i.AddAddr(t, r1v4+"/24")
	i.AddAddr(t, r1v6+"/64")
	return h
}

// rootSecret writes a root-only file the attacker wants overwritten.
func rootSecret(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte("root's data\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func secretChanged(path string) bool {
	b, err := os.ReadFile(path)
	return err != nil || string(b) != "root's data\n"
}

// nobodyDoes runs a command as nobody and fails the test if it fails.
func nobodyDoes(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := testnet.AsNobody(t, name, args...); err != nil {
		t.Fatalf("as nobody: %s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// rootRegular checks that path is a regular root file with mode perm and
// one link, and returns its contents.
func rootRegular(t *testing.T, path string, perm fs.FileMode) []byte {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if !fi.Mode().IsRegular() || fi.Mode().Perm() != perm || st.Uid != 0 || st.Nlink != 1 {
		t.Fatalf("%s: mode %v uid %d links %d, want a regular root file %v", path, fi.Mode(), st.Uid, st.Nlink, perm)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// isDump checks that b is vigild's status document.
func isDump(t *testing.T, b []byte) {
	t.Helper()
	var s ctl.Status
	if err := json.Unmarshal(b, &s); err != nil || len(s.Instances) == 0 {
		t.Errorf("dump is not vigild's status (%v): %.200q", err, b)
	}
}

// TestDumpSymlinkAttack: nobody points the dump file's name at a root
// file; SIGUSR1 leaves the root file as it was, and the dump replaces the
// symlink (logged) instead of following it.
func TestDumpSymlinkAttack(t *testing.T) {
	h := routerLab(t)
	dir, target := testnet.SharedDir(t), rootSecret(t)
	path := filepath.Join(dir, "vigild.data")
	v := startVigild(t, h, conf("", 150, ""), "-i", "r1", "--dump-dir", dir)
	v.Instance(t, "VI_1")
	nobodyDoes(t, "ln", "-s", target, path)
	v.Signal(syscall.SIGUSR1)
	testnet.Eventually(t, filesWait, func() bool {
		fi, err := os.Lstat(path)
		return secretChanged(target) || (err == nil && fi.Mode().IsRegular())
	}, "SIGUSR1 dealt with %s", path)
	if secretChanged(target) {
		t.Fatalf("SIGUSR1 wrote through nobody's symlink into %s", target)
	}
	isDump(t, rootRegular(t, path, 0o600))
	v.WaitOutput(t, "was=\"a symlink owned by uid", filesWait)
}

// TestDumpFIFODoesNotBlockReload: a FIFO at the dump file's name must not
// hold vigild up: after SIGUSR1, a SIGHUP with a new priority is applied.
func TestDumpFIFODoesNotBlockReload(t *testing.T) {
	h := routerLab(t)
	dir := testnet.SharedDir(t)
	path := filepath.Join(dir, "vigild.data")
	good := conf("", 150, "")
	v := startVigild(t, h, good, "-i", "r1", "--dump-dir", dir)
	v.Instance(t, "VI_1")
	nobodyDoes(t, "mkfifo", "-m", "0666", path)
	v.Signal(syscall.SIGUSR1)
	if err := os.WriteFile(v.Conf, []byte(strings.Replace(good, "priority 150", "priority 200", 2)), 0o644); err != nil {
		t.Fatal(err)
	}
	v.Signal(syscall.SIGHUP)
	testnet.Eventually(t, filesWait, func() bool { return v.Instance(t, "VI_1").Priority == 200 },
		"SIGHUP after SIGUSR1 onto a FIFO applied (priority 200)")
	testnet.Eventually(t, filesWait, func() bool {
		fi, err := os.Lstat(path)
		return err == nil && fi.Mode().IsRegular()
	}, "the FIFO replaced by the dump")
	isDump(t, rootRegular(t, path, 0o600))
}

// TestDumpForeignFile: nobody pre-creates the stats file, world-readable,
// and keeps it open; SIGUSR2 must not put the counters into it.
func TestDumpForeignFile(t *testing.T) {
	h := routerLab(t)
	dir := testnet.SharedDir(t)
	path := filepath.Join(dir, "vigild.stats")
	v := startVigild(t, h, conf("", 150, ""), "-i", "r1", "--dump-dir", dir)
	v.Instance(t, "VI_1")
	nobodyDoes(t, "sh", "-c", "umask 0; echo mine > "+path)
	held, err := os.Open(path) // the attacker's open descriptor
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	heldInfo, err := held.Stat()
	if err != nil {
		t.Fatal(err)
	}
	v.Signal(syscall.SIGUSR2)
	b := make([]byte, 4096)
	var n int
	testnet.Eventually(t, filesWait, func() bool {
		n, _ = held.ReadAt(b, 0)
		fi, err := os.Lstat(path)
		return string(b[:n]) != "mine\n" || (err == nil && !os.SameFile(fi, heldInfo))
	}, "SIGUSR2 dealt with %s", path)
	if string(b[:n]) != "mine\n" {
		t.Fatalf("nobody's file received the status: %.200q", b[:n])
	}
	isDump(t, rootRegular(t, path, 0o600))
	if out, err := testnet.AsNobody(t, "cat", path); err == nil {
		t.Errorf("nobody can read the stats file: %.200q", out)
	}
}

// TestDefaultDumpDir: without --dump-dir the dumps go to /run/vigild,
// created 0700 root; an existing /run/vigild that others may write to is
// refused. vigild runs in a mount namespace of its own with a fresh
// tmpfs on /run, so the host's /run is not touched.
func TestDefaultDumpDir(t *testing.T) {
	for _, c := range []struct {
		name, prepare string
		ok            bool
	}{
		{"created", "", true},
		{"world-writable", "mkdir -m 1777 /run/vigild && ", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			testnet.NeedRoot(t, "unshare", "nsenter", "mount", "stat")
			h := routerLab(t)
			dir := t.TempDir()
			cf := filepath.Join(dir, "keepalived.conf")
			if err := os.WriteFile(cf, []byte(conf("", 150, "")), 0o644); err != nil {
				t.Fatal(err)
			}
			v := &vigild{Host: h, Dir: dir, Conf: cf, Control: filepath.Join(dir, "ctl.sock")}
			script := "mount -t tmpfs -o mode=0755 vigil-test /run && " + c.prepare +
				"exec env VIGILD_AS_MAIN=1 \"$0\" -n -l -D -i r1 -f \"$1\" -p \"$2\" --control \"$3\""
			v.Proc = h.Start(t, "unshare", "--mount", "--propagation", "private", "sh", "-c", script,
				os.Args[0], cf, filepath.Join(dir, "vigild.pid"), v.Control)
			v.Instance(t, "VI_1")
			v.Signal(syscall.SIGUSR1)
			pid := strconv.Itoa(v.Pid())
			if !c.ok {
				v.WaitOutput(t, "Dump refused", filesWait)
				out, _ := h.Command(t.Context(), "nsenter", "-t", pid, "-m", "stat", "-c", "%F", "/run/vigild/vigild.data").CombinedOutput()
				if !strings.Contains(string(out), "No such file") {
					t.Errorf("a dump was written into a world-writable /run/vigild: %s", out)
				}
				return
			}
			v.WaitOutput(t, "Wrote dump file", filesWait)
			out, err := h.Command(t.Context(), "nsenter", "-t", pid, "-m", "stat", "-c", "%a %u %g %F",
				"/run/vigild", "/run/vigild/vigild.data").CombinedOutput()
			if err != nil {
				t.Fatalf("stat in vigild's mount namespace: %v\n%s", err, out)
			}
			if want := "700 0 0 directory\n600 0 0 regular file\n"; string(out) != want {
				t.Errorf("/run/vigild and its dump: %q, want %q", out, want)
			}
		})
	}
}

// TestPIDFileSymlinkAttack: nobody points the pid file's name at a root
// file; vigild starts, the root file is untouched, and the pid file is
// vigild's own.
func TestPIDFileSymlinkAttack(t *testing.T) {
	h := routerLab(t)
	dir, target := testnet.SharedDir(t), rootSecret(t)
	pidPath := filepath.Join(dir, "vigild.pid")
	nobodyDoes(t, "ln", "-s", target, pidPath)
	v := startVigild(t, h, conf("", 150, ""), "-i", "r1", "-p", pidPath)
	v.Instance(t, "VI_1")
	if secretChanged(target) {
		t.Fatalf("vigild wrote its pid through nobody's symlink into %s", target)
	}
	if b := rootRegular(t, pidPath, 0o644); string(b) != strconv.Itoa(v.Pid())+"\n" {
		t.Errorf("pid file holds %q, want vigild's pid %d", b, v.Pid())
	}
	v.WaitOutput(t, "was=\"a symlink owned by uid", filesWait)
}

// TestPIDFileStaleForeignPID: a pid file naming a live process that is not
// vigild (pid 1), planted by nobody, does not keep vigild from starting.
func TestPIDFileStaleForeignPID(t *testing.T) {
	h := routerLab(t)
	dir := testnet.SharedDir(t)
	pidPath := filepath.Join(dir, "vigild.pid")
	nobodyDoes(t, "sh", "-c", "echo 1 > "+pidPath)
	v := startVigild(t, h, conf("", 150, ""), "-i", "r1", "-p", pidPath)
	v.Instance(t, "VI_1")
	if b := rootRegular(t, pidPath, 0o644); string(b) != strconv.Itoa(v.Pid())+"\n" {
		t.Errorf("pid file holds %q, want vigild's pid %d", b, v.Pid())
	}
}

// TestPIDFileSecondVigild: a second vigild with the same pid file refuses
// to start, says why, and leaves the first one and its pid file alone; the
// first one removes the file when it stops.
func TestPIDFileSecondVigild(t *testing.T) {
	h := routerLab(t)
	pidPath := filepath.Join(t.TempDir(), "vigild.pid")
	v1 := startVigild(t, h, conf("", 150, ""), "-i", "r1", "-p", pidPath)
	v1.Instance(t, "VI_1")
	v2 := startVigild(t, h, conf("", 150, ""), "-i", "r1", "-p", pidPath)
	code, err := v2.Wait(filesWait)
	if err != nil || code != 1 {
		t.Fatalf("second vigild: exit %d, %v; want exit 1\n%s", code, err, v2.Output())
	}
	if out := v2.Output(); !strings.Contains(out, "Another vigild holds the pid file") || !strings.Contains(out, "pid "+strconv.Itoa(v1.Pid())) {
		t.Errorf("second vigild does not say who holds the pid file:\n%s", out)
	}
	if v1.Exited() {
		t.Fatal("the first vigild stopped")
	}
	if b := rootRegular(t, pidPath, 0o644); string(b) != strconv.Itoa(v1.Pid())+"\n" {
		t.Errorf("pid file holds %q, want the first vigild's pid %d", b, v1.Pid())
	}
	v1.Signal(syscall.SIGTERM)
	if code, err := v1.Wait(filesWait); err != nil || code != 0 {
		t.Fatalf("first vigild: exit %d, %v", code, err)
	}
	if _, err := os.Lstat(pidPath); !os.IsNotExist(err) {
		t.Errorf("pid file left after a clean stop: %v", err)
	}
}

// controlClient is a tiny unix-socket client run as nobody: it sends one
// command and prints the answer, or fails to connect.
const controlClient = `use IO::Socket::UNIX;
my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM(), Peer => $ARGV[0]) or die "connect: $!\n";
print $s "$ARGV[1]\n";
print while <$s>;`

// TestControlSocketNobody: the control socket is 0600 root, so nobody
// cannot connect; and were its mode widened, vigild still refuses a
// client that is not root (SO_PEERCRED), without reloading, and counts it.
func TestControlSocketNobody(t *testing.T) {
	testnet.NeedRoot(t, "perl")
	h := routerLab(t)
	dir := testnet.SharedDir(t)
	v := startVigild(t, h, conf("", 150, ""), "-i", "r1", "--control", filepath.Join(dir, "ctl.sock"))
	v.Control = filepath.Join(dir, "ctl.sock")
	v.Instance(t, "VI_1")
	fi, err := os.Lstat(v.Control)
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o600 || st.Uid != 0 {
		t.Errorf("control socket: mode %v uid %d, want a 0600 root socket", fi.Mode(), st.Uid)
	}
	if out, err := testnet.AsNobody(t, "perl", "-e", controlClient, v.Control, "reload"); err == nil || !strings.Contains(string(out), "Permission denied") {
		t.Errorf("nobody connected to the 0600 control socket: %v\n%s", err, out)
	}

	// The second wall: the socket's mode widened by mistake.
	if err := os.Chmod(v.Control, 0o666); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"reload", "status"} {
		out, err := testnet.AsNobody(t, "perl", "-e", controlClient, v.Control, cmd)
		if err != nil || !strings.Contains(string(out), "permission denied: uid") || strings.Contains(string(out), "instances") {
			t.Errorf("nobody's %q on a 0666 control socket: %v\n%s", cmd, err, out)
		}
	}
	s := v.MustStatus(t)
	if s.Reloads != 0 || s.ReloadFailures != 0 {
		t.Errorf("nobody drove a reload: %d reloads, %d failed", s.Reloads, s.ReloadFailures)
	}
	if s.ControlRefused != 2 {
		t.Errorf("control_refused = %d, want 2", s.ControlRefused)
	}
}

// TestControlSocketKeepsOtherFile: a --control path naming something that
// is not a socket (a mistyped path, or a link planted by someone) is left
// alone: vigild says so and runs without a control socket.
func TestControlSocketKeepsOtherFile(t *testing.T) {
	h := routerLab(t)
	target := rootSecret(t)
	link := filepath.Join(t.TempDir(), "link.sock")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{target, link} {
		v := startVigild(t, h, conf("", 150, ""), "-i", "r1", "--control", path)
		v.WaitOutput(t, "something other than a socket is there", filesWait)
		v.Signal(syscall.SIGTERM)
		if _, err := v.Wait(filesWait); err != nil {
			t.Fatal(err)
		}
		if secretChanged(target) {
			t.Fatalf("--control %s: %s removed or changed", path, target)
		}
		if fi, err := os.Lstat(link); err != nil || fi.Mode().Type() != fs.ModeSymlink {
			t.Fatalf("--control %s: the symlink %s was removed: %v", path, link, err)
		}
	}
}

// TestConfigTestFileSymlinkAttack: an operator runs vigild -t=FILE as
// root with FILE in a shared directory where nobody planted a symlink to a
// root file. The report is not appended through it: vigild says why and
// exits 4, and the root file is as it was.
func TestConfigTestFileSymlinkAttack(t *testing.T) {
	dir, target := testnet.SharedDir(t), rootSecret(t)
	report := filepath.Join(dir, "check.log")
	nobodyDoes(t, "ln", "-s", target, report)
	conf := filepath.Join(t.TempDir(), "keepalived.conf")
	if err := os.WriteFile(conf, []byte("global_defs {\n    no_such_keyword 1\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr strings.Builder
	code := run([]string{"--config-test=" + report, "-f", conf}, &stdout, &stderr)
	if secretChanged(target) {
		t.Fatalf("vigild -t=%s appended through nobody's symlink into %s", report, target)
	}
	if code != 4 || !strings.Contains(stderr.String(), "symlink") {
		t.Fatalf("vigild -t=FILE over a symlink: exit %d, stderr %q; want 4 naming the symlink", code, stderr.String())
	}
}
