package main

import (
	"fmt"
	"strings"
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
// cut. Its kernel worker stood by before that takeover, and never while it
// heard the master (ten of its adverts); r1's stood by before its own
// takeover at start (the standby needs two Ps: GOMAXPROCS=2 whatever this
// machine's CPUs), unless the loop woke too late for it (standbyWakeLate).
// r2 may have taken over at start too, before it heard r1, when it started
// first: its count is taken once r1 is master.
func TestFailoverLinkCut(t *testing.T) {
	t.Setenv("GOMAXPROCS", "2")
	l := newLab(t)
	v1, v2 := startPair(t, l, "")
	if n := v1.MustStatus(t).WorkerStandbys; n < 1 {
		if tl, late := standbyWakeLate(v1.Output(), 0); late {
			t.Logf("r1's worker did not stand by before its takeover at start: the loop's timer, armed for the standby, fired %v before the deadline and its turn ran %v after it", -tl.Woke, tl.Ran)
		} else {
			t.Errorf("r1's worker stood by %d times before its takeover, want at least 1", n)
		}
	}
	heard := v2.MustStatus(t).WorkerStandbys
	time.Sleep(time.Second) // ten adverts (advert_int 0.1)
	if s := v2.Instance(t, "VI_1"); s.State != "BACKUP" {
		t.Fatalf("r2 VI_1 state %s while r1 advertises, want BACKUP", s.State)
	}
	if n := v2.MustStatus(t).WorkerStandbys; n != heard {
		t.Errorf("r2's worker stood by %d times while it heard its master, want 0", n-heard)
	}
	l.If1.Cut(t)
	takeover(t, l, v2)
	if n := v2.MustStatus(t).WorkerStandbys; n <= heard {
		if tl, late := standbyWakeLate(v2.Output(), -1); late {
			t.Logf("r2's worker did not stand by before its takeover: the loop's timer, armed for the standby, fired %v before the deadline and its turn ran %v after it", -tl.Woke, tl.Ran)
		} else {
			t.Errorf("r2's worker stood by %d times before its takeover, want at least 1", n-heard)
		}
	}
	// Back: r1 preempts (higher priority) and r2 releases the VIPs.
	l.If1.Restore(t)
	waitAddr(t, l.R2, "eth0", vip4, false, settle)
	waitAddr(t, l.R1, "eth0", vip4, true, settle)
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

// standbyWakeLate reads the takeover timeline of VI_1 at index i of those
// in log (negative: from the end) and reports whether the loop's timer
// woke before the deadline and the same turn ran the takeover: the timer
// was armed standbyLead before the deadline, for the worker's standby,
// and fired so late that the takeover was due once its turn ran. The
// worker cannot have stood by then; a machine busy enough for that (a
// daemon starting beside another under the race detector) says nothing
// of the standby. A timeline missing from log is not late.
func standbyWakeLate(log string, i int) (daemon.LoggedTakeover, bool) {
	var vi1 []daemon.LoggedTakeover
	for _, tl := range daemon.ParseLoggedTakeovers(log) {
		if tl.Instance == "VI_1" {
			vi1 = append(vi1, tl)
		}
	}
	if i < 0 {
		i += len(vi1)
	}
	if i < 0 || i >= len(vi1) {
		return daemon.LoggedTakeover{}, false
	}
	tl := vi1[i]
	return tl, tl.Complete && tl.Woke < 0 && tl.Ran >= 0
}

// TestStandbyWakeLate reads the two kinds of takeover timeline: a turn
// woken for the standby that ran the takeover itself (late), and a
// takeover's own wake-up after the deadline (not late).
func TestStandbyWakeLate(t *testing.T) {
	const line = `time=2026-12-07T11:49:05.555Z level=DEBUG msg="(VI_1) takeover timeline" instance=VI_1 vrid=51 iface=eth0 due_unix_ns=1796644145553934784 woke_us=%s ran_us=%s add_start_us=525.8 add_done_us=719.4 announced_us=905.3 add_failed=false announce_failed=false loop_cpu=0 worker_cpu=1` + "\n"
	late := fmt.Sprintf(line, "-96.9", "83.9")
	onTime := fmt.Sprintf(line, "42.3", "44.7")
	vi6 := strings.ReplaceAll(late, "VI_1", "VI_6")
	for _, c := range []struct {
		log  string
		i    int
		want bool
	}{
		{late, 0, true},
		{onTime, 0, false},
		{late + onTime, -1, false},
		{onTime + late, -1, true},
		{vi6 + onTime, 0, false}, // VI_6's timelines are not counted
		{"", 0, false},
	} {
		if _, got := standbyWakeLate(c.log, c.i); got != c.want {
			t.Errorf("standbyWakeLate(%q, %d) = %v, want %v", c.log, c.i, got, c.want)
		}
	}
}
