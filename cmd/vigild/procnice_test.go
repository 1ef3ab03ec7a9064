package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/testnet"
)

// TestVRRPPriority: vrrp_priority gives every thread of vigild the nice
// value, those the runtime started after it too (the instance comes up
// first, which starts more), and says so in its log; the notify scripts
// run at the value vigild started with, as keepalived's scripts do; a
// reload that changes it gives every thread the new value, as keepalived's
// reload does for its VRRP process, and a notify FIFO's script that the
// reload starts runs at the starting value too.
func TestVRRPPriority(t *testing.T) {
	l := newLab(t)
	dir := filepath.Join(t.TempDir(), "bin")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil { // script security: nobody else may write there
			t.Fatal(err)
		}
	}
	// The notify script writes its own stat line to stat.INSTANCE.STATE
	// (its second and third arguments).
	script := filepath.Join(dir, "notify")
	body := "#!/bin/sh\nout=" + dir + "/stat.$2.$3\ncat /proc/$$/stat > $out.tmp && mv $out.tmp $out\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	c := conf("    vrrp_priority 6", 150, "    notify "+script)
	v := startVigild(t, l.R1, c, "-i", "r1")
	waitAddr(t, l.R1, "eth0", vip4, true, settle)
	v.WaitOutput(t, "Set the nice value (vrrp_priority)", settle)
	own, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Fatal(err)
	}
	for _, inst := range []string{"VI_1", "VI_6"} {
		var stat []byte
		testnet.Eventually(t, settle, func() bool {
			stat, err = os.ReadFile(filepath.Join(dir, "stat."+inst+".MASTER"))
			return err == nil
		}, "the notify script of %s did not run for MASTER", inst)
		if got, want := statNice(t, string(stat)), statNice(t, string(own)); got != want {
			t.Errorf("the notify script of %s ran at nice %d, want %d (vigild's before vrrp_priority)", inst, got, want)
		}
	}
	// Once the scripts have started, every thread has the value: the
	// thread that forks a script has vigild's first value only for the
	// call (procnice.Start).
	allAt(t, v.Pid(), 6)
	// The reload sets the new value, then opens a notify FIFO whose
	// script starts at the starting value too (it writes stat.fifo, then
	// reads the FIFO, its last argument, as such scripts do).
	fifoScript := filepath.Join(dir, "fifo-script")
	body = "#!/bin/sh\ncat /proc/$$/stat > " + dir + "/stat.fifo.tmp && mv " + dir + "/stat.fifo.tmp " + dir + "/stat.fifo\nexec cat \"$1\" > /dev/null\n"
	if err := os.WriteFile(fifoScript, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	global := "    vrrp_priority 2\n    notify_fifo " + filepath.Join(dir, "fifo") + "\n    notify_fifo_script " + fifoScript
	if err := os.WriteFile(v.Conf, []byte(conf(global, 150, "    notify "+script)), 0o644); err != nil {
		t.Fatal(err)
	}
	v.Signal(syscall.SIGHUP)
	v.WaitOutput(t, "vrrp_priority=2", settle)
	var stat []byte
	testnet.Eventually(t, settle, func() bool {
		stat, err = os.ReadFile(filepath.Join(dir, "stat.fifo"))
		return err == nil
	}, "the notify FIFO's script did not start")
	if got, want := statNice(t, string(stat)), statNice(t, string(own)); got != want {
		t.Errorf("the notify FIFO's script started at nice %d, want %d (vigild's before vrrp_priority)", got, want)
	}
	allAt(t, v.Pid(), 2)
}

// allAt waits until every thread of process pid has the nice value want
// (a few seconds at most), and fails the test with the values it saw.
func allAt(t *testing.T, pid, want int) {
	t.Helper()
	var nices map[int]int
	ok := false
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		nices = threadNices(t, pid)
		ok = len(nices) >= 3
		for _, n := range nices {
			ok = ok && n == want
		}
		if ok {
			return
		}
	}
	t.Errorf("vigild's threads have nice values %v, want %d for all (and at least 3 threads)", nices, want)
}

// threadNices returns the nice value of every thread of process pid.
func threadNices(t *testing.T, pid int) map[int]int {
	t.Helper()
	dir := "/proc/" + strconv.Itoa(pid) + "/task/"
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]int{}
	for _, e := range ents {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(dir + e.Name() + "/stat")
		if err != nil {
			continue // the thread ended
		}
		out[tid] = statNice(t, string(b))
	}
	return out
}

// statNice is the nice value of a /proc/.../stat line: after the
// command's closing parenthesis, state is the first field and nice the
// 17th.
func statNice(t *testing.T, s string) int {
	t.Helper()
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 17 {
		t.Fatalf("stat %q: too few fields", s)
	}
	n, err := strconv.Atoi(f[16])
	if err != nil {
		t.Fatalf("stat %q: nice %q: %v", s, f[16], err)
	}
	return n
}
