package main

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/testnet"
)

// The VIPs a master does not hold alone, with the real binary in
// namespaces: those a killed vigild left behind (removed when vigild starts
// again, before any instance is BACKUP) and those someone deletes while it
// is MASTER (it releases MASTER and takes them back after Skew_Time, as
// keepalived 2.2.7 does).

// killMaster starts the pair, SIGKILLs r1's vigild (its VIPs stay on r1:
// nothing removed them) and waits until r2 has taken over: both routers
// now hold the VIPs.
func killMaster(t *testing.T, l *lab) (v2 *vigild) {
	t.Helper()
	v1, v2 := startPair(t, l, "")
	if err := v1.Kill(); err != nil {
		t.Fatal(err)
	}
	takeover(t, l, v2)
	if !hasAddr(t, l.R1, "eth0", vip4) || !hasAddr(t, l.R1, "eth0", vip6) {
		t.Fatal("the killed master's VIPs are gone already; the test proves nothing")
	}
	return v2
}

// firstState polls the restarted vigild's status until it answers and
// returns VI_1's state with whether r1 held each VIP right after that
// answer. vigild answers only once its loop runs, which is after the
// start-up sweep and the instances' Startup.
func firstState(t *testing.T, l *lab, v *vigild) (state string, held4, held6 bool) {
	t.Helper()
	s := v.Instance(t, "VI_1")
	return s.State, hasAddr(t, l.R1, "eth0", vip4), hasAddr(t, l.R1, "eth0", vip6)
}

// TestRestartAfterKillAsBackup: r1's vigild is killed while master, r2
// takes over, r1's vigild is started again with nopreempt so that it stays
// BACKUP. It must drop the VIPs its predecessor left before it is BACKUP:
// from its first status answer on, only r2 holds them.
func TestRestartAfterKillAsBackup(t *testing.T) {
	l := newLab(t)
	v2 := killMaster(t, l)
	restart := time.Now()
	v1 := startVigild(t, l.R1, conf("", 150, "nopreempt"), "-i", "r1")
	state, held4, held6 := firstState(t, l, v1)
	if state != "BACKUP" {
		t.Fatalf("restarted r1 VI_1 is %s, want BACKUP (nopreempt)", state)
	}
	if held4 || held6 {
		t.Fatalf("restarted r1 is BACKUP and still holds the VIPs (v4 %v, v6 %v)", held4, held6)
	}
	t.Logf("r1 answered as BACKUP without the VIPs %v after the restart", time.Since(restart).Round(time.Millisecond))
	for _, in := range []string{"VI_1", "VI_6"} {
		if s := v1.Instance(t, in); s.StartupRemoved.Addresses != 1 {
			t.Errorf("r1 %s startup_removed = %+v, want 1 address", in, s.StartupRemoved)
		}
	}
	out := v1.Output()
	for _, line := range []string{"(VI_1) removing VIPs.", "(VI_6) removing VIPs.", "left on the host by an earlier run"} {
		if !strings.Contains(out, line) {
			t.Errorf("r1's log lacks %q", line)
		}
	}
	// It stays that way: r2 keeps the VIPs, r1 stays BACKUP without them.
	time.Sleep(2 * time.Second)
	if s := v1.Instance(t, "VI_1"); s.State != "BACKUP" {
		t.Errorf("r1 became %s", s.State)
	}
	if hasAddr(t, l.R1, "eth0", vip4) || hasAddr(t, l.R1, "eth0", vip6) {
		t.Error("r1 holds a VIP as BACKUP")
	}
	if !hasAddr(t, l.R2, "eth0", vip4) || !hasAddr(t, l.R2, "eth0", vip6) || v2.Instance(t, "VI_1").State != "MASTER" {
		t.Error("r2 lost the VIPs or MASTER")
	}
}

// TestRestartAfterKillPreempts: the same, but r1 restarts with its
// priority and preempts. It must still drop the leftovers before it is
// BACKUP (the kernel's address events show it deleting and adding them
// again), and the VIPs end up on r1 only.
func TestRestartAfterKillPreempts(t *testing.T) {
	l := newLab(t)
	v2 := killMaster(t, l)
	mon := l.R1.Start(t, "ip", "-o", "monitor", "address", "dev", "eth0")
	// The monitor is listening once it reports this probe.
	probe := "198.51.100.77"
	testnet.Eventually(t, settle, func() bool {
		l.R1.Command(t.Context(), "ip", "addr", "add", probe+"/32", "dev", "eth0").Run()
		l.R1.Command(t.Context(), "ip", "addr", "del", probe+"/32", "dev", "eth0").Run()
		return strings.Contains(mon.Output(), probe)
	}, "ip monitor in r1 reports addresses")
	v1 := startVigild(t, l.R1, conf("", 150, ""), "-i", "r1")
	testnet.Eventually(t, settle, func() bool {
		return v1.Instance(t, "VI_1").State == "MASTER" && v1.Instance(t, "VI_6").State == "MASTER"
	}, "r1 preempts")
	waitAddr(t, l.R2, "eth0", vip4, false, settle)
	waitAddr(t, l.R2, "eth0", vip6, false, settle)
	waitAddr(t, l.R1, "eth0", vip4, true, settle)
	waitAddr(t, l.R1, "eth0", vip6, true, settle)
	if s := v2.Instance(t, "VI_1"); s.State != "BACKUP" {
		t.Errorf("r2 VI_1 %s", s.State)
	}
	// The leftovers were deleted and then added again, in that order.
	events := mon.Output()
	for _, a := range []string{vip4, vip6} {
		del := regexp.MustCompile(`(?m)^Deleted .*\s` + regexp.QuoteMeta(a) + `/`).FindStringIndex(events)
		if del == nil {
			t.Errorf("r1 never deleted the leftover %s before taking over:\n%s", a, events)
			continue
		}
		if !regexp.MustCompile(`(?m)^\d+: .*\s` + regexp.QuoteMeta(a) + `/`).MatchString(events[del[1]:]) {
			t.Errorf("r1 did not add %s again after deleting it:\n%s", a, events)
		}
	}
	if s := v1.Instance(t, "VI_1"); s.StartupRemoved.Addresses != 1 {
		t.Errorf("r1 startup_removed = %+v", s.StartupRemoved)
	}
}

// TestVIPDeletedWhileMaster: `ip addr del` of the master's VIPs. r1
// releases MASTER (priority 0) and, having the shorter Skew_Time, takes
// over again and puts the VIP back; counted and logged.
func TestVIPDeletedWhileMaster(t *testing.T) {
	l := newLab(t)
	v1, v2 := startPair(t, l, "")
	for i, c := range []struct{ inst, addr, cidr string }{
		{"VI_1", vip4, vip4 + "/24"},
		{"VI_6", vip6, vip6 + "/64"},
	} {
		before := v1.Instance(t, c.inst).Transitions
		// No look at r1's addresses right after the delete: r1 may have
		// taken over again and put the VIP back (its Skew_Time, 0.4 s)
		// before a loaded machine runs the next `ip`. The removal shows in
		// the VIPsRemoved counter and the log line checked below.
		l.R1.Exec(t, "ip", "addr", "del", c.cidr, "dev", "eth0")
		waitAddr(t, l.R1, "eth0", c.addr, true, settle)
		testnet.Eventually(t, settle, func() bool {
			s := v1.Instance(t, c.inst)
			return s.State == "MASTER" && s.VIPsRemoved == 1 && s.VIPsRestored == 1
		}, "r1 %s back to MASTER, removal and restore counted: %+v", c.inst, v1.Instance(t, c.inst))
		if s := v1.Instance(t, c.inst); s.Transitions < before+2 {
			t.Errorf("r1 %s transitions %d -> %d: it did not release MASTER", c.inst, before, s.Transitions)
		}
		waitAddr(t, l.R2, "eth0", c.addr, false, settle)
		testnet.Eventually(t, settle, func() bool { return v2.Instance(t, c.inst).State == "BACKUP" }, "r2 %s BACKUP", c.inst)
		if i == 0 {
			if s := v1.Instance(t, "VI_6"); s.VIPsRemoved != 0 {
				t.Errorf("VI_6 counted VI_1's removal: %+v", s)
			}
		}
	}
	out := v1.Output()
	for _, line := range []string{"VIP " + vip4 + "/24 was removed from eth0 while MASTER", "VIP " + vip6 + "/64 was removed from eth0 while MASTER"} {
		if !strings.Contains(out, line) {
			t.Errorf("r1's log lacks %q", line)
		}
	}
}
