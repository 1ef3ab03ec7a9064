package main

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestVRRPPriority: vrrp_priority gives every thread of vigild the nice
// value, those the runtime started after it too (the instance comes up
// first, which starts more), and says so in its log; a reload that
// changes it warns that it applies at start, as keepalived's does.
func TestVRRPPriority(t *testing.T) {
	l := newLab(t)
	c := conf("    vrrp_priority 6", 150, "")
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
	if err := os.WriteFile(v.Conf, []byte(strings.Replace(c, "vrrp_priority 6", "vrrp_priority 2", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	v.Signal(syscall.SIGHUP)
	v.WaitOutput(t, "vrrp_priority changed: the nice value is set at start", settle)
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
		// The fields after the command's closing parenthesis: state is
		// the first, nice the 17th.
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		n, err := strconv.Atoi(f[16])
		if err != nil {
			t.Fatalf("%s/stat: nice %q: %v", dir+e.Name(), f[16], err)
		}
		out[tid] = n
	}
	return out
}
