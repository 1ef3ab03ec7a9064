package main

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/daemon"
	"github.com/vigil-ha/vigil/notify/notifytest"
	"github.com/vigil-ha/vigil/testnet"
	"github.com/vigil-ha/vigil/vrrp"
)

// Notify scripts in the races of a normal preemption, against Debian's
// keepalived 2.2.7. At advert_int 0.01 the old master's last advert is
// often still in flight when the new master takes over: the new master
// hears a lower-priority master, which must not run notify_master again.

// preemptCycles is how many times each pair swaps mastership back and
// forth (two preemptions per cycle, plus the one at start-up).
const preemptCycles = 6

// preemptRouter is one router of a preemption pair.
type preemptRouter struct {
	name string
	proc *testnet.Proc
	rec  *notifytest.Recorder
	fifo *notifytest.FIFOReader
}

// entered counts the router's "(VI_1) Entering STATE STATE" log lines:
// its real transitions, logged alike by both implementations.
func (r *preemptRouter) entered(state string) int {
	if r.proc == nil {
		return 0 // not started yet
	}
	return strings.Count(r.proc.Output(), "(VI_1) Entering "+state+" STATE")
}

// heals counts vigild's "split brain healed" lines: notify_master run
// again by the documented rule (keepalived has none).
func (r *preemptRouter) heals() int {
	if r.proc == nil {
		return 0
	}
	return strings.Count(r.proc.Output(), "split brain healed")
}

func (r *preemptRouter) masterRuns() int { return len(r.rec.Calls("master")) }

// preemptConf: r1 tracks a file (weight 1) whose value, 0 or -60, sets its
// priority to 150 or 90 around r2's 100; notify_master and the FIFO are
// what the test counts.
func preemptConf(prio int, fifo string, rec *notifytest.Recorder, trackFile string) string {
	head, track := "", ""
	if trackFile != "" {
		head = "vrrp_track_file tf {\n    file " + trackFile + "\n    weight 1\n}\n"
		track = "    track_file {\n        tf\n    }\n"
	}
	return trkGlobal("    notify_fifo "+fifo) + head +
		trkInst{Name: "VI_1", Iface: "eth0", VRID: 51, Prio: prio, Adv: "0.01", VIP: vip4 + "/24",
			Extra: track + `    notify_master "` + rec.Command("master") + `"`}.String()
}

// writeValue replaces the tracked file's content atomically (rename), as
// both daemons watch for.
func writeValue(t *testing.T, path, value string) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(value+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// preemptStep is what one preemption produced on both routers.
type preemptStep struct {
	what                 string
	masterRuns           [2]int // notify_master runs, r1 and r2
	masterEntered        [2]int // real transitions to MASTER
	heals                [2]int // split brains healed (vigild only)
	masterLines, rxLower [2]int // FIFO lines MASTER, MASTER_RX_LOWER_PRI
}

func (s preemptStep) String() string {
	return fmt.Sprintf("%-16s notify_master r1=%d r2=%d (transitions r1=%d r2=%d; heals r1=%d r2=%d; FIFO MASTER r1=%d r2=%d, MASTER_RX_LOWER_PRI r1=%d r2=%d)",
		s.what, s.masterRuns[0], s.masterRuns[1], s.masterEntered[0], s.masterEntered[1], s.heals[0], s.heals[1],
		s.masterLines[0], s.masterLines[1], s.rxLower[0], s.rxLower[1])
}

// runPreemptions runs one implementation (start starts it on a host): r2
// (100) starts alone and becomes master, r1 (150) starts and preempts it,
// then r1's tracked file swaps mastership preemptCycles times each way.
// It returns, per preemption, the notifications each router made.
func runPreemptions(t *testing.T, impl string, start func(h *testnet.Host, conf string) *testnet.Proc) []preemptStep {
	l := newLab(t)
	dir := t.TempDir()
	track := filepath.Join(dir, "r1.track")
	writeValue(t, track, "0")
	routers := [2]*preemptRouter{}
	for i, h := range []*testnet.Host{l.r1, l.r2} {
		r := &preemptRouter{name: h.Name(), rec: secureRecorder(t)}
		fifo := filepath.Join(dir, fmt.Sprintf("r%d.fifo", i+1))
		r.fifo = notifytest.ReadFIFO(t, fifo)
		routers[i] = r
	}
	r1, r2 := routers[0], routers[1]
	// A VRRP socket in each router's namespace, beside its daemon: it
	// sends the loser's last advert again just after each takeover, so
	// that every preemption has an advert crossing it (on veth pairs the
	// natural ones are rare: the loser hears the winner within
	// microseconds).
	var late [2]vrrp.Conn
	for i, h := range []*testnet.Host{l.r1, l.r2} {
		if err := h.Do(func() (err error) { late[i], err = vrrp.ListenIPv4("eth0", vrrp.ConnOptions{}); return err }); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { late[i].Close() })
	}
	prios := [2]uint8{150, 100} // r1's changes with the tracked file
	cross := func(from int) {
		p := vrrp.Packet{Version: 3, Type: 1, VRID: 51, Priority: prios[from], MaxAdvertCentis: 1,
			Addrs: []netip.Addr{netip.MustParseAddr(vip4)}}
		if err := late[from].WriteTo(&p, netip.MustParseAddr("224.0.0.18")); err != nil {
			t.Fatalf("%s: crossing advert from r%d: %v", impl, from+1, err)
		}
	}
	count := func(r *preemptRouter, state string) int {
		n := 0
		for _, line := range r.fifo.Lines() {
			if strings.HasPrefix(line, `INSTANCE "VI_1" `+state+" ") {
				n++
			}
		}
		return n
	}
	snapshot := func(what string) preemptStep {
		s := preemptStep{what: what}
		for i, r := range routers {
			s.masterRuns[i], s.masterEntered[i], s.heals[i] = r.masterRuns(), r.entered("MASTER"), r.heals()
			s.masterLines[i], s.rxLower[i] = count(r, "MASTER"), count(r, "MASTER_RX_LOWER_PRI")
		}
		return s
	}
	// waitMaster waits until winner has entered MASTER once more than
	// before and the loser has left it, then lets the stragglers land (a
	// crossing advert arrives within milliseconds; the scripts run
	// asynchronously) and returns the differences.
	waitMaster := func(what string, before preemptStep, winner, loser int) preemptStep {
		w, lo := routers[winner], routers[loser]
		testnet.Eventually(t, settle, func() bool { return w.entered("MASTER") > before.masterEntered[winner] },
			"%s %s: %s did not become master", impl, what, w.name)
		cross(loser)
		testnet.Eventually(t, settle, func() bool {
			return w.entered("MASTER") > before.masterEntered[winner] &&
				lo.entered("BACKUP") > lo.entered("MASTER") &&
				w.masterRuns() > before.masterRuns[winner]
		}, "%s %s: %s did not take over", impl, what, w.name)
		time.Sleep(700 * time.Millisecond)
		after := snapshot(what)
		for i := range 2 {
			after.masterRuns[i] -= before.masterRuns[i]
			after.masterEntered[i] -= before.masterEntered[i]
			after.heals[i] -= before.heals[i]
			after.masterLines[i] -= before.masterLines[i]
			after.rxLower[i] -= before.rxLower[i]
		}
		return after
	}

	r2.proc = start(l.r2, preemptConf(100, filepath.Join(dir, "r2.fifo"), r2.rec, ""))
	testnet.Eventually(t, settle, func() bool { return r2.masterRuns() == 1 }, "%s: r2 alone did not become master", impl)
	before := snapshot("")
	r1.proc = start(l.r1, preemptConf(150, filepath.Join(dir, "r1.fifo"), r1.rec, track))
	steps := []preemptStep{waitMaster("start-up", before, 0, 1)}
	for c := range preemptCycles {
		before = snapshot("")
		writeValue(t, track, "-60")
		prios[0] = 90
		steps = append(steps, waitMaster(fmt.Sprintf("r2 preempts #%d", c+1), before, 1, 0))
		before = snapshot("")
		writeValue(t, track, "0")
		prios[0] = 150
		steps = append(steps, waitMaster(fmt.Sprintf("r1 preempts #%d", c+1), before, 0, 1))
	}
	return steps
}

// TestPreemptionNotifyLikeKeepalived: the same two-router preemption
// scenario at advert_int 0.01 s, run once with two keepalived 2.2.7 and
// once with two vigild: r2 (100) alone, r1 (150) starts and preempts, then
// r1's priority swings below and above r2's preemptCycles times. Just
// after each takeover the loser's last advert is sent once more from its
// namespace: the advert that crossed the takeover, which the natural race
// delivers only now and then. For each preemption it counts notify_master
// runs on both routers. vigild's counts
// must equal keepalived's, preemption by preemption, and both must run
// notify_master exactly once per real transition to MASTER. Should load
// make a router flap (more transitions than the scenario has, on either
// implementation), that preemption is compared by the per-transition rule
// only, and the test says so.
func TestPreemptionNotifyLikeKeepalived(t *testing.T) {
	testnet.NeedRoot(t, "ip", "keepalived")
	kSteps := runPreemptions(t, "keepalived", func(h *testnet.Host, conf string) *testnet.Proc {
		return h.Keepalived(t, conf, "-P")
	})
	vSteps := runPreemptions(t, "vigild", func(h *testnet.Host, conf string) *testnet.Proc {
		return startVigild(t, h, conf).Proc
	})
	if len(kSteps) != len(vSteps) {
		t.Fatalf("%d keepalived steps, %d vigild steps", len(kSteps), len(vSteps))
	}
	var crossings [2]int
	for i := range kSteps {
		k, v := kSteps[i], vSteps[i]
		t.Logf("keepalived %v", k)
		t.Logf("vigild     %v", v)
		for j, s := range []preemptStep{k, v} {
			crossings[j] += s.rxLower[0] + s.rxLower[1]
			impl := [2]string{"keepalived", "vigild"}[j]
			for r := range 2 {
				if s.masterRuns[r] != s.masterEntered[r]+s.heals[r] {
					t.Errorf("%s, %s: r%d ran notify_master %d times for %d transitions to MASTER and %d healed split brains",
						impl, s.what, r+1, s.masterRuns[r], s.masterEntered[r], s.heals[r])
				}
			}
		}
		flapped := k.masterEntered[0]+k.masterEntered[1] != 1 || v.masterEntered[0]+v.masterEntered[1] != 1
		if flapped {
			t.Logf("%s: a router flapped under load (transitions to MASTER keepalived %v, vigild %v): compared per transition only",
				k.what, k.masterEntered, v.masterEntered)
			continue
		}
		for j, s := range []preemptStep{k, v} {
			if s.rxLower[0]+s.rxLower[1] == 0 {
				t.Errorf("%s, %s: the crossing advert drew no MASTER_RX_LOWER_PRI: the race was not run",
					[2]string{"keepalived", "vigild"}[j], s.what)
			}
		}
		if k.masterRuns != v.masterRuns {
			t.Errorf("%s: notify_master runs (r1, r2) vigild %v, keepalived %v", k.what, v.masterRuns, k.masterRuns)
		}
		if k.masterLines != v.masterLines {
			t.Errorf("%s: FIFO MASTER lines (r1, r2) vigild %v, keepalived %v", k.what, v.masterLines, k.masterLines)
		}
	}
	t.Logf("%d preemptions each; adverts that crossed a takeover (MASTER_RX_LOWER_PRI lines): keepalived %d, vigild %d",
		len(kSteps), crossings[0], crossings[1])
}

// TestSplitBrainHealNotifies: r1 (150) master, r2 (100) backup, both
// vigild, advert_int 0.1. VRRP is dropped both ways at r1 for longer than
// Master_Down_Interval (and the rule's one second): r2 becomes master too.
// Then r1 hears r2 again first (its inbound drop removed; r2 still does not
// hear r1, so the order is certain), and then r2 hears r1. r1, master
// throughout, answers the healed split brain once: one
// MASTER_RX_LOWER_PRI, one GARP round (garp_lower_prio_repeat 1), and
// notify_master run a second time; r2 goes back to BACKUP.
func TestSplitBrainHealNotifies(t *testing.T) {
	l := newLab(t)
	dir := t.TempDir()
	recs := [2]*notifytest.Recorder{secureRecorder(t), secureRecorder(t)}
	fifos := [2]*notifytest.FIFOReader{}
	var vs [2]*vigild
	for i, h := range []*testnet.Host{l.r1, l.r2} {
		path := filepath.Join(dir, fmt.Sprintf("r%d.fifo", i+1))
		fifos[i] = notifytest.ReadFIFO(t, path)
		conf := trkGlobal("    notify_fifo "+path) +
			trkInst{Name: "VI_1", Iface: "eth0", VRID: 51, Prio: []int{150, 100}[i], VIP: vip4 + "/24",
				Extra: `    notify_master "` + recs[i].Command("master") + `"`}.String()
		vs[i] = startVigild(t, h, conf, "-i", h.Name())
	}
	v1, v2 := vs[0], vs[1]
	waitState(t, v1, "VI_1", "MASTER")
	waitState(t, v2, "VI_1", "BACKUP")
	recs[0].WaitCalls(t, "master", 1, settle)
	// The takeover's own GARP rounds: garp_master_repeat 1 now and again
	// after garp_master_delay 1 s.
	before := waitInstance(t, v1, "VI_1", "both takeover GARP rounds sent", func(s daemon.InstanceStatus) bool { return s.Announcements >= 2 })

	in := l.r1.DropRandomMatch(t, "eth0", 100, testnet.In, "ip protocol vrrp")
	out := l.r1.DropRandomMatch(t, "eth0", 100, testnet.Out, "ip protocol vrrp")
	waitState(t, v2, "VI_1", "MASTER")
	time.Sleep(1500 * time.Millisecond) // past the rule's one second of silence
	if s := v1.instance(t, "VI_1"); s.State != "MASTER" || s.Transitions != before.Transitions {
		t.Fatalf("r1 left MASTER during the split: %s", trkDescribe(s))
	}
	in.Remove(t)
	healed := waitInstance(t, v1, "VI_1", "split brain healed", func(s daemon.InstanceStatus) bool { return s.SplitBrainHeals > 0 })
	out.Remove(t)
	waitState(t, v2, "VI_1", "BACKUP")
	time.Sleep(500 * time.Millisecond) // scripts run asynchronously
	after := v1.instance(t, "VI_1")

	if after.State != "MASTER" || after.Transitions != before.Transitions {
		t.Errorf("r1 changed state: %s", trkDescribe(after))
	}
	if after.SplitBrainHeals != 1 {
		t.Errorf("r1 counted %d healed split brains, want 1", after.SplitBrainHeals)
	}
	if got := len(recs[0].Calls("master")); got != 2 {
		t.Errorf("r1 ran notify_master %d times, want 2 (start-up, then the heal)", got)
	}
	var masters, rxLower int
	for _, line := range fifos[0].Lines() {
		switch line {
		case "INSTANCE \"VI_1\" MASTER 150\n":
			masters++
		case "INSTANCE \"VI_1\" MASTER_RX_LOWER_PRI 150\n":
			rxLower++
		}
	}
	// r2's adverts keep reaching r1 until r2 hears r1: each window of
	// garp_lower_prio_delay (1 s) answers one of them, normally just one.
	windows := int(after.LowerPriorityAdverts - after.LowerPriorityThrottled)
	if masters != 2 || rxLower < 1 || rxLower != windows {
		t.Errorf("r1's FIFO: %d MASTER lines (want 2), %d MASTER_RX_LOWER_PRI (want %d, one per answered window): %q",
			masters, rxLower, windows, fifos[0].Lines())
	}
	if n := after.Announcements - before.Announcements; n < 1 || int(n) != windows {
		t.Errorf("r1 sent %d GARP rounds after the heal, want one per answered window (%d)", n, windows)
	}
	t.Logf("r1 after the heal: %d lower-priority adverts, %d answered, %d healed split brain; status at detection %s",
		after.LowerPriorityAdverts, windows, after.SplitBrainHeals, trkDescribe(healed))
}
