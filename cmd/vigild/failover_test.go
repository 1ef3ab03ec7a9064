package main

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/daemon"
	"github.com/vigil-ha/vigil/testnet"
)

// settle is the generous bound for anything VRRP does at advert_int 0.1 s
// (master down interval about 0.35 s) plus process start-up.
const settle = 10 * time.Second

// startPair starts vigild on both routers (r1 priority 150, r2 100) and
// waits until r1 holds both VIPs and r2 holds none.
func startPair(t *testing.T, l *lab, instanceExtra string) (v1, v2 *vigild) {
	t.Helper()
	v1 = startVigild(t, l.R1, conf("", 150, instanceExtra), "-i", "r1")
	v2 = startVigild(t, l.R2, conf("", 100, instanceExtra), "-i", "r2")
	waitAddr(t, l.R1, "eth0", vip4, true, settle)
	waitAddr(t, l.R1, "eth0", vip6, true, settle)
	// The backup must have seen the master and stay backup.
	testnet.Eventually(t, settle, func() bool {
		return v2.Instance(t, "VI_1").State == "BACKUP" && v2.Instance(t, "VI_6").State == "BACKUP"
	}, "r2 backup")
	if hasAddr(t, l.R2, "eth0", vip4) || hasAddr(t, l.R2, "eth0", vip6) {
		t.Fatalf("backup r2 holds a VIP")
	}
	return v1, v2
}

// TestElection: the higher priority becomes master, the VIPs are only
// there, the client reaches them and its neighbour entries hold the
// master's MAC (learnt from GARP / NA and the replies).
func TestElection(t *testing.T) {
	l := newLab(t)
	v1, v2 := startPair(t, l, "")
	if s := v1.Instance(t, "VI_1"); s.State != "MASTER" || s.Priority != 150 {
		t.Fatalf("r1 VI_1 = %s prio %d, want MASTER 150", s.State, s.Priority)
	}
	if s := v2.Instance(t, "VI_6"); s.Master == "" {
		t.Errorf("r2 VI_6 does not know its master")
	}
	testnet.Eventually(t, settle, func() bool { return ping(t, l.Client, vip4) }, "client pings %s", vip4)
	testnet.Eventually(t, settle, func() bool { return ping(t, l.Client, vip6) }, "client pings %s", vip6)
	if got, want := neighMAC(t, l.Client, vip4), macString(l.If1); got != want {
		t.Errorf("client neighbour %s = %q, want r1's %s", vip4, got, want)
	}
	if got, want := neighMAC(t, l.Client, vip6), macString(l.If1); got != want {
		t.Errorf("client neighbour %s = %q, want r1's %s", vip6, got, want)
	}
	s := v1.Instance(t, "VI_1")
	if s.AdvertsSent == 0 || s.Announcements == 0 {
		t.Errorf("master counters: %+v", s)
	}
	if v2.Instance(t, "VI_1").Received["ok"] == 0 {
		t.Errorf("backup accepted no advert: %+v", v2.Instance(t, "VI_1").Received)
	}
}

// takeover asserts that r2 takes both VIPs and the client's neighbour
// entries move to r2's MAC (GARP / unsolicited NA).
func takeover(t *testing.T, l *lab, v2 *vigild) {
	t.Helper()
	waitAddr(t, l.R2, "eth0", vip4, true, settle)
	waitAddr(t, l.R2, "eth0", vip6, true, settle)
	if s := v2.Instance(t, "VI_1"); s.State != "MASTER" {
		t.Fatalf("r2 VI_1 state %s, want MASTER", s.State)
	}
	want := macString(l.If2)
	testnet.Eventually(t, settle, func() bool { return neighMAC(t, l.Client, vip4) == want },
		"client's neighbour entry for %s moves to r2 (%s), has %s", vip4, want, neighMAC(t, l.Client, vip4))
	testnet.Eventually(t, settle, func() bool { return ping(t, l.Client, vip4) && ping(t, l.Client, vip6) },
		"client pings the VIPs through r2")
	testnet.Eventually(t, settle, func() bool { return neighMAC(t, l.Client, vip6) == want },
		"client's neighbour entry for %s moves to r2", vip6)
}

// TestFailoverLinkCut: the backup takes over when the master's link is
// cut, and its kernel worker stood by before that takeover and never while
// it heard the master (ten of its adverts; the standby needs two Ps:
// GOMAXPROCS=2 whatever this machine's CPUs). The loop's timer is armed
// standbyLead before the deadline for the standby; a machine busy enough
// to wake it later than that (under the race detector, beside other
// daemons) leaves no time to stand by, so the cut is repeated, up to
// three takeovers, and at least one of them must have had its standby. A
// build without the standby fails all three. r1's takeover at start is
// logged when it had none, for the same reason. r2 may have taken over at
// start too, before it heard r1, when it started first: its count is taken
// once r1 is master.
func TestFailoverLinkCut(t *testing.T) {
	t.Setenv("GOMAXPROCS", "2")
	l := newLab(t)
	v1, v2 := startPair(t, l, "")
	if n := v1.MustStatus(t).WorkerStandbys; n < 1 {
		t.Logf("r1's worker did not stand by before its takeover at start: %s", vi1Timeline(v1.Output(), 0))
	}
	heard := v2.MustStatus(t).WorkerStandbys
	time.Sleep(time.Second) // ten adverts (advert_int 0.1)
	if s := v2.Instance(t, "VI_1"); s.State != "BACKUP" {
		t.Fatalf("r2 VI_1 state %s while r1 advertises, want BACKUP", s.State)
	}
	if n := v2.MustStatus(t).WorkerStandbys; n != heard {
		t.Errorf("r2's worker stood by %d times while it heard its master, want 0", n-heard)
	}
	const takeovers = 3
	for i := 1; ; i++ {
		before := v2.MustStatus(t).WorkerStandbys
		l.If1.Cut(t)
		takeover(t, l, v2)
		stood := v2.MustStatus(t).WorkerStandbys > before
		// Back: r1 preempts (higher priority) and r2 releases the VIPs.
		l.If1.Restore(t)
		waitAddr(t, l.R2, "eth0", vip4, false, settle)
		waitAddr(t, l.R1, "eth0", vip4, true, settle)
		if stood {
			break
		}
		if i == takeovers {
			t.Errorf("r2's worker stood by before none of its %d takeovers; the last: %s", takeovers, vi1Timeline(v2.Output(), -1))
			break
		}
		t.Logf("r2's worker did not stand by before takeover %d of at most %d, cutting again: %s", i, takeovers, vi1Timeline(v2.Output(), -1))
		testnet.Eventually(t, settle, func() bool { return v2.Instance(t, "VI_1").State == "BACKUP" }, "r2 backup again")
	}
}

// TestFailoverBusyCPU: on a machine with no CPU to spare (r2's vigild
// held to one CPU, where a shell spins at the same priority), the backup's
// kernel worker, which stands by spinning and yielding, is not run in
// time, and the loop runs the takeover's jobs itself: r2 takes both VIPs
// and announces them, and its status counts the jobs its loop ran. Without
// the loop's part the worker runs them when the kernel lets it, and the
// count stays 0.
func TestFailoverBusyCPU(t *testing.T) {
	t.Setenv("GOMAXPROCS", "2") // the standby, as on a machine of two cores
	l := newLab(t)
	_, v2 := startPair(t, l, "")
	cpus, err := testnet.AllowedCPUs()
	if err != nil {
		t.Fatal(err)
	}
	if err := testnet.PinToCPU(v2.Pid(), cpus[0]); err != nil {
		t.Fatal(err)
	}
	stop, err := testnet.BusyCPUs(cpus[:1])
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	l.If1.Cut(t)
	takeover(t, l, v2)
	stop()
	if n := v2.MustStatus(t).WorkerJobsOnLoop; n < 1 {
		t.Errorf("r2's loop ran %d of its takeover's jobs, want at least 1 (its worker was not run in time)", n)
	}
}

func TestFailoverKillAndCut(t *testing.T) {
	l := newLab(t)
	v1, v2 := startPair(t, l, "")
	if err := v1.Kill(); err != nil {
		t.Fatal(err)
	}
	l.If1.Cut(t)
	takeover(t, l, v2)
}

// TestFailoverSIGTERM: a stopping master sends priority 0 and removes its
// VIPs; the backup takes over after Skew_Time.
func TestFailoverSIGTERM(t *testing.T) {
	l := newLab(t)
	v1, v2 := startPair(t, l, "")
	if err := v1.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code, err := v1.Wait(settle); err != nil || code != 0 {
		t.Fatalf("vigild exit %d, %v\n%s", code, err, v1.Output())
	}
	if hasAddr(t, l.R1, "eth0", vip4) || hasAddr(t, l.R1, "eth0", vip6) {
		t.Errorf("stopped master still holds a VIP")
	}
	takeover(t, l, v2)
	if s := v2.Instance(t, "VI_1"); s.Reason != "priority_zero" {
		t.Errorf("r2 took over for reason %q", s.Reason)
	}
}

// TestFailoverSIGSTOP: a frozen master is replaced; once thawed there is
// one master again (the higher priority one preempts back) and it
// re-announces.
func TestFailoverSIGSTOP(t *testing.T) {
	l := newLab(t)
	v1, v2 := startPair(t, l, "")
	before := v1.Instance(t, "VI_1").Announcements
	// The client must already know both VIPs through r1: a frozen master's
	// kernel still holds them and answers a multicast solicitation, so an
	// entry the client created only after the takeover would go to
	// whichever router answered last. An existing entry is overridden by
	// r2's announcements and then probed by unicast, which only r2 answers.
	testnet.Eventually(t, settle, func() bool { return ping(t, l.Client, vip4) && ping(t, l.Client, vip6) },
		"client pings the VIPs through r1")
	if err := v1.Freeze(); err != nil {
		t.Fatal(err)
	}
	takeover(t, l, v2)
	if err := v1.Thaw(); err != nil {
		t.Fatal(err)
	}
	// r1 (150) keeps or regains mastership; r2 must step down.
	testnet.Eventually(t, settle, func() bool {
		return v2.Instance(t, "VI_1").State == "BACKUP" && v1.Instance(t, "VI_1").State == "MASTER"
	}, "one master again after SIGCONT")
	waitAddr(t, l.R2, "eth0", vip4, false, settle)
	waitAddr(t, l.R1, "eth0", vip4, true, settle)
	testnet.Eventually(t, settle, func() bool { return neighMAC(t, l.Client, vip4) == macString(l.If1) },
		"client's neighbour entry back on r1 (re-announce)")
	if after := v1.Instance(t, "VI_1").Announcements; after <= before {
		t.Errorf("r1 did not re-announce after SIGCONT: %d -> %d", before, after)
	}
}

// TestNopreempt: with nopreempt, a higher-priority router that comes up
// later does not take over from a working master.
func TestNopreempt(t *testing.T) {
	l := newLab(t)
	v2 := startVigild(t, l.R2, conf("", 100, "nopreempt"), "-i", "r2")
	waitAddr(t, l.R2, "eth0", vip4, true, settle)
	v1 := startVigild(t, l.R1, conf("", 150, "nopreempt"), "-i", "r1")
	testnet.Eventually(t, settle, func() bool { return v1.Instance(t, "VI_1").State == "BACKUP" }, "r1 backup")
	time.Sleep(2 * time.Second) // many master-down intervals: r1 must stay backup
	if s := v1.Instance(t, "VI_1"); s.State != "BACKUP" {
		t.Fatalf("nopreempt r1 became %s", s.State)
	}
	if !hasAddr(t, l.R2, "eth0", vip4) || hasAddr(t, l.R1, "eth0", vip4) {
		t.Fatal("VIP moved despite nopreempt")
	}
	// The lower-priority master leaving still hands over.
	v2.Signal(syscall.SIGTERM)
	waitAddr(t, l.R1, "eth0", vip4, true, settle)
}

// TestPreemptDelay: a higher-priority router waits preempt_delay before it
// takes over from a lower-priority master.
func TestPreemptDelay(t *testing.T) {
	l := newLab(t)
	startVigild(t, l.R2, conf("", 100, "preempt_delay 3"), "-i", "r2")
	waitAddr(t, l.R2, "eth0", vip4, true, settle)
	start := time.Now()
	v1 := startVigild(t, l.R1, conf("", 150, "preempt_delay 3"), "-i", "r1")
	waitAddr(t, l.R1, "eth0", vip4, true, settle)
	if el := time.Since(start); el < 2*time.Second {
		t.Errorf("r1 preempted after %v, before preempt_delay 3 s", el)
	}
	waitAddr(t, l.R2, "eth0", vip4, false, settle)
	if s := v1.Instance(t, "VI_1"); s.State != "MASTER" {
		t.Errorf("r1 state %s", s.State)
	}
}

// vi1Timeline describes VI_1's takeover timeline at index i of those in
// log (negative: from the end): when the loop woke and its turn ran,
// against the deadline.
func vi1Timeline(log string, i int) string {
	var vi1 []daemon.LoggedTakeover
	for _, tl := range daemon.ParseLoggedTakeovers(log) {
		if tl.Instance == "VI_1" {
			vi1 = append(vi1, tl)
		}
	}
	if i < 0 {
		i += len(vi1)
	}
	if i < 0 || i >= len(vi1) || !vi1[i].Complete {
		return "VI_1's takeover timeline is not in the log"
	}
	return fmt.Sprintf("the loop woke %v after VI_1's deadline (negative: before it) and its turn ran %v after it", vi1[i].Woke, vi1[i].Ran)
}
