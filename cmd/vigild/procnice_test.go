package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/vigil-ha/vigil/testnet"
)

// TestVRRPPriority: vrrp_priority gives every thread of vigild the nice
// value, those the runtime started after it too (the instance comes up
// first, which starts more), and says so in its log; the notify script
// runs at the value vigild started with, as keepalived's scripts do; a
// reload that changes it gives every thread the new value, as keepalived's
// reload does for its VRRP process.
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
	script, out := filepath.Join(dir, "master"), filepath.Join(dir, "stat")
	body := "#!/bin/sh\ncat /proc/$$/stat > " + out + ".tmp && mv " + out + ".tmp " + out + "\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	c := conf("    vrrp_priority 6", 150, "    notify_master "+script)
	v := startVigild(t, l.R1, c, "-i", "r1")
	waitAddr(t, l.R1, "eth0", vip4, true, settle)
	v.WaitOutput(t, "Set the nice value (vrrp_priority)", settle)
	nices := threadNices(t, v.Pid())
	if len(nices) < 3 {
		t.Fatalf("vigild has %d threads: %v", len(nices), nices)
	}
	for tid, n := range nices {
		if n != 6 {
			t.Errorf("thread %d has nice %d, want 6 (all: %v)", tid, n, nices)
		}
	}
	var stat []byte
	testnet.Eventually(t, settle, func() bool {
		var err error
		stat, err = os.ReadFile(out)
		return err == nil
	}, "notify_master did not run")
	own, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := statNice(t, string(stat)), statNice(t, string(own)); got != want {
		t.Errorf("notify_master ran at nice %d, want %d (vigild's before vrrp_priority)", got, want)
	}
	if err := os.WriteFile(v.Conf, []byte(strings.Replace(c, "vrrp_priority 6", "vrrp_priority 2", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	v.Signal(syscall.SIGHUP)
	v.WaitOutput(t, "vrrp_priority=2", settle)
	for tid, n := range threadNices(t, v.Pid()) {
		if n != 2 {
			t.Errorf("after the reload, thread %d has nice %d, want 2", tid, n)
		}
	}
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
