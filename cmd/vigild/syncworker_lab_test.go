package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/ctl"
	"github.com/vigil-ha/vigil/internal/memtrim"
	"github.com/vigil-ha/vigil/internal/syncworker"
	"github.com/vigil-ha/vigil/testnet"
	"github.com/vigil-ha/vigil/testnet/harness"
)

// syncWorkers returns the pids of the sync workers whose parent is pid,
// and the environment of each.
func syncWorkers(t testing.TB, pid int) map[int][]string {
	t.Helper()
	out := map[int][]string{}
	for child := range testnet.GroupStates(pid) { // the worker is in the daemon's group
		f, err := testnet.StatFields(child)
		if err != nil || f[1] != strconv.Itoa(pid) { // f[1]: the parent
			continue
		}
		env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", child))
		if err != nil {
			continue // gone meanwhile
		}
		vars := strings.Split(string(env), "\x00")
		if slices.Contains(vars, syncworker.WorkerEnv+"=1") {
			out[child] = vars
		}
	}
	return out
}

// niceOf returns the nice value of process pid's main thread.
func niceOf(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	return statNice(t, string(b))
}

// oneWorker waits until pid has exactly one sync worker other than
// not, and returns it.
func oneWorker(t testing.TB, pid, not int) (int, []string) {
	t.Helper()
	var w int
	var env []string
	testnet.Eventually(t, 30*time.Second, func() bool {
		ws := syncWorkers(t, pid)
		if len(ws) != 1 {
			return false
		}
		for w, env = range ws {
		}
		return w != not
	}, "vigild %d: one sync worker (not %d)", pid, not)
	return w, env
}

// The replicator runs in a worker process with one P: the daemon starts
// it, starts it again when it dies (and the sync carries on: the link is
// established again and new flows reach the peer), from its own build
// when the file at its path has been replaced; it commits with two Ps;
// and it dies with the daemon.
//
// The worker's socket is the daemon's and the worker's alone: a script the
// daemon runs as nobody while the worker is up holds no socket (it could
// otherwise commit forged connections or read the tables through it).
func TestSyncWorkerLifecycle(t *testing.T) {
	l := newFWLab(t)
	dir := t.TempDir()
	// nobody runs the script from here and writes its listing here.
	if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	script, fds := filepath.Join(dir, "fds.sh"), filepath.Join(dir, "fds.txt")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nls -l /proc/$$/fd/ >"+fds+".new && mv "+fds+".new "+fds+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	withScript := func(conf string) string {
		conf = strings.Replace(conf, "vrrp_sync_group FW {", strings.Replace(trkScript("fds", script, 1, 2, 0), "    rise 1\n", "    user nobody\n    rise 1\n", 1)+"vrrp_sync_group FW {", 1)
		return strings.Replace(conf, "vrrp_instance VI_IN {\n", "vrrp_instance VI_IN {\n    track_script {\n        fds\n    }\n", 1)
	}
	// vrrp_priority is the daemon's nice value, not the worker's.
	c1 := strings.Replace(withScript(fwConf("fw1", 150, fwSync1, fwSync2, true)),
		"    vrrp_garp_master_delay 1\n", "    vrrp_garp_master_delay 1\n    vrrp_priority -5\n", 1)
	if !strings.Contains(c1, "track_script") || !strings.Contains(c1, "user nobody") || !strings.Contains(c1, "vrrp_priority -5") {
		t.Fatalf("the script is not in the configuration:\n%s", c1)
	}
	// fw1 runs from a copy of the binary, which is replaced below as an
	// upgrade in place replaces it.
	bin, cmd := copiedVigild(t)
	v1 := harness.StartVigild(t, l.FW1, cmd, c1, "-D", "-i", "fw1")
	v2 := startVigild(t, l.FW2, fwConf("fw2", 100, fwSync2, fwSync1, true), "-i", "fw2")
	for _, in := range []string{"VI_IN", "VI_OUT"} {
		v1.WaitState(t, in, "MASTER")
		v2.WaitState(t, in, "BACKUP")
	}
	l.SettleNeighbours(t, l.FW1)
	testnet.Eventually(t, fwSettle, func() bool { return v1.Conntrack(t).Established && v2.Conntrack(t).Established },
		"sync link established both ways")
	w, env := oneWorker(t, v1.Pid(), 0)
	if !slices.Contains(env, "GOMAXPROCS=1") {
		t.Errorf("worker %d's environment has no GOMAXPROCS=1: %q", w, env)
	}
	testnet.Eventually(t, 10*time.Second, func() bool {
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", w))
		return string(comm) == syncworker.WorkerComm+"\n"
	}, "worker %d named %s in ps", w, syncworker.WorkerComm)
	own := niceOf(t, os.Getpid())
	testnet.Eventually(t, 10*time.Second, func() bool { return niceOf(t, v1.Pid()) == -5 }, "the daemon at vrrp_priority -5")
	if n := niceOf(t, w); n != own {
		t.Errorf("the worker's nice value %d, want %d (vigild's at its start, not vrrp_priority's)", n, own)
	}
	// Neither process is backed by transparent huge pages, whatever the
	// host's mode: their memory is the same on every host.
	for _, pid := range []int{v1.Pid(), w} {
		if got := thpEnabled(t, pid); got != "0" {
			t.Errorf("process %d: THP_enabled %q in its status, want 0 (huge pages off)", pid, got)
		}
	}
	// A run of the script that started after the worker.
	_ = os.Remove(fds)
	var listing []byte
	testnet.Eventually(t, 30*time.Second, func() bool {
		var err error
		listing, err = os.ReadFile(fds)
		return err == nil
	}, "the script ran as nobody with the worker up")
	if bytes.Contains(listing, []byte("socket:")) {
		t.Errorf("a script run as nobody holds a socket:\n%s", listing)
	}
	// The daemon's signals, sent to its whole process group, are not the
	// worker's: a reload keeps it.
	if err := syscall.Kill(-v1.Pid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testnet.Eventually(t, 30*time.Second, func() bool { return v1.MustStatus(t).Reloads >= 1 }, "the daemon reloaded")
	if ws := syncWorkers(t, v1.Pid()); len(ws) != 1 || ws[w] == nil {
		t.Fatalf("after SIGHUP to the group: workers %v, want %d alone", ws, w)
	}
	ctLoadFlows(t, l.FW1, 50, 0)
	testnet.Eventually(t, 30*time.Second, func() bool { return v2.Conntrack(t).External >= 50 },
		"the peer holds the first 50 flows")

	// The binary on disk is now another program. A worker started again
	// is of the daemon's own build, not of the file now at its path.
	upgraded := filepath.Join(dir, "upgraded-ran")
	if err := os.WriteFile(bin+".new", []byte("#!/bin/sh\ntouch "+upgraded+"\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(bin+".new", bin); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(w, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	w2, _ := oneWorker(t, v1.Pid(), w)
	if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", w2)); err != nil || exe != bin+" (deleted)" {
		t.Errorf("the new worker runs %q (%v), want the daemon's replaced build %q", exe, err, bin+" (deleted)")
	}
	if n := niceOf(t, w2); n != own {
		t.Errorf("the new worker's nice value %d, want %d", n, own)
	}
	testnet.Eventually(t, 30*time.Second, func() bool { return v1.Conntrack(t).Established },
		"the new worker's sync link established")
	if st := v1.MustStatus(t); st.Conntrack == nil || st.Conntrack.RunError == "" {
		t.Errorf("the worker's death is not in the status: %+v", st.Conntrack)
	}
	ctLoadFlows(t, l.FW1, 50, 50)
	testnet.Eventually(t, 30*time.Second, func() bool { return v2.Conntrack(t).External >= 100 },
		"the peer holds the next 50 flows, sent by the new worker")

	if _, err := os.Stat(upgraded); err == nil {
		t.Errorf("the daemon started the binary now on disk as its worker")
	}

	// The worker commits with CommitProcs Ps (as many as there are CPUs,
	// if fewer): fw2 commits fw1's flows.
	c2 := &ctl.Client{Path: v2.Control}
	if done, err := c2.Operate(t.Context(), ctl.Request{Cmd: ctl.CmdCTCommit}); err != nil {
		t.Fatalf("ct commit on fw2: %q, %v", done, err)
	}
	v2.WaitOutput(t, fmt.Sprintf(" procs=%d", min(syncworker.CommitProcs, runtime.NumCPU())), 30*time.Second)

	// The daemon alone, not its process group (which holds the worker).
	if err := syscall.Kill(v1.Pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testnet.Eventually(t, 10*time.Second, func() bool { return syscall.Kill(w2, 0) == syscall.ESRCH },
		"the worker %d ends with its daemon", w2)
}

// copiedVigild copies vigild's binary (this test binary or
// $VIGILD_BINARY) into a directory of the test's and returns the copy's
// path and the command that runs it.
func copiedVigild(t *testing.T) (string, harness.Command) {
	t.Helper()
	cmd := slices.Clone(vigildCommand)
	src := cmd[len(cmd)-1]
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "vigild")
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd[len(cmd)-1] = bin
	return bin, cmd
}

// thpEnabled returns the THP_enabled field of process pid's status: "0"
// when transparent huge pages are off for it.
func thpEnabled(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "THP_enabled:"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("process %d: no THP_enabled in its status", pid)
	return ""
}

// TestStartAgainWithoutHugePages starts vigild as on a host whose
// transparent huge page mode is "always" (Debian's default): it turns them
// off, starts itself again with the same pid and name, and then runs as
// ever. Its pid file names that pid, the sync link comes up, the sync
// worker inherits the setting, and nothing vigild starts sees the
// variable that carried the name over.
func TestStartAgainWithoutHugePages(t *testing.T) {
	l := newFWLab(t)
	mode := filepath.Join(t.TempDir(), "thp-enabled")
	if err := os.WriteFile(mode, []byte("[always] madvise never\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// This test binary as vigild, whatever VIGILD_BINARY says: the mode
	// file is read by its TestMain.
	cmd := harness.Command{"env", "VIGILD_AS_MAIN=1", hugePagesModeEnv + "=" + mode, os.Args[0]}
	v1 := harness.StartVigild(t, l.FW1, cmd, fwConf("fw1", 150, fwSync1, fwSync2, true), "-D", "-i", "fw1")
	v2 := startVigild(t, l.FW2, fwConf("fw2", 100, fwSync2, fwSync1, true), "-i", "fw2")
	for _, in := range []string{"VI_IN", "VI_OUT"} {
		v1.WaitState(t, in, "MASTER")
		v2.WaitState(t, in, "BACKUP")
	}
	testnet.Eventually(t, fwSettle, func() bool { return v1.Conntrack(t).Established && v2.Conntrack(t).Established },
		"sync link established both ways")

	pid := v1.Pid()
	name := filepath.Base(os.Args[0])
	if len(name) > 15 {
		name = name[:15] // the kernel's length for a process name
	}
	// The image started again got the name in its first environment
	// (which /proc keeps as it was at the exec).
	environ, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(strings.Split(string(environ), "\x00"), memtrim.StartedAgainEnv+"="+name) {
		t.Errorf("vigild %d was not started again: no %s=%s in its first environment", pid, memtrim.StartedAgainEnv, name)
	}
	if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err != nil || strings.TrimSpace(string(comm)) != name {
		t.Errorf("vigild %d is named %q (%v), want %q as before it started again", pid, comm, err, name)
	}
	if b, err := os.ReadFile(filepath.Join(v1.Dir, "vigild.pid")); err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(pid) {
		t.Errorf("pid file %q (%v), want %d", b, err, pid)
	}
	w, env := oneWorker(t, pid, 0)
	for _, kv := range env {
		if strings.HasPrefix(kv, memtrim.StartedAgainEnv+"=") {
			t.Errorf("the sync worker %d got %s", w, kv)
		}
	}
	for _, p := range []int{pid, w} {
		if got := thpEnabled(t, p); got != "0" {
			t.Errorf("process %d: THP_enabled %q in its status, want 0 (huge pages off)", p, got)
		}
	}
	if out := v1.Output(); strings.Contains(out, "transparent huge pages") {
		t.Errorf("vigild warned about huge pages:\n%s", out)
	}
}
