package main

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/ctl"
	"github.com/vigil-ha/vigil/notify/notifytest"
	"github.com/vigil-ha/vigil/testnet"
	"github.com/vigil-ha/vigil/testnet/harness"
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
	for i, h := range []*testnet.Host{l.R1, l.R2} {
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
	for i, h := range []*testnet.Host{l.R1, l.R2} {
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
		after := settled(func() preemptStep { return snapshot(what) })
		for i := range 2 {
			after.masterRuns[i] -= before.masterRuns[i]
			after.masterEntered[i] -= before.masterEntered[i]
			after.heals[i] -= before.heals[i]
			after.masterLines[i] -= before.masterLines[i]
			after.rxLower[i] -= before.rxLower[i]
		}
		return after
	}

	r2.proc = start(l.R2, preemptConf(100, filepath.Join(dir, "r2.fifo"), r2.rec, ""))
	testnet.Eventually(t, settle, func() bool { return r2.masterRuns() == 1 }, "%s: r2 alone did not become master", impl)
	before := snapshot("")
	r1.proc = start(l.R1, preemptConf(150, filepath.Join(dir, "r1.fifo"), r1.rec, track))
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
// notify_master run a second time; r2 goes back to BACKUP. (A loaded host
// can make r2 take over once more, a split brain of its own: each is
// notified once.)
func TestSplitBrainHealNotifies(t *testing.T) {
	l := newLab(t)
	dir := t.TempDir()
	recs := [2]*notifytest.Recorder{secureRecorder(t), secureRecorder(t)}
	fifos := [2]*notifytest.FIFOReader{}
	var vs [2]*vigild
	for i, h := range []*testnet.Host{l.R1, l.R2} {
		path := filepath.Join(dir, fmt.Sprintf("r%d.fifo", i+1))
		fifos[i] = notifytest.ReadFIFO(t, path)
		conf := trkGlobal("    notify_fifo "+path) +
			trkInst{Name: "VI_1", Iface: "eth0", VRID: 51, Prio: []int{150, 100}[i], VIP: vip4 + "/24",
				Extra: `    notify_master "` + recs[i].Command("master") + `"`}.String()
		vs[i] = startVigild(t, h, conf, "-i", h.Name())
	}
	v1, v2 := vs[0], vs[1]
	v1.WaitState(t, "VI_1", "MASTER")
	v2.WaitState(t, "VI_1", "BACKUP")
	recs[0].WaitCalls(t, "master", 1, settle)
	// The takeover's own GARP rounds: garp_master_repeat 1 now and again
	// after garp_master_delay 1 s.
	before := v1.WaitInstance(t, settle, "VI_1", "both takeover GARP rounds sent", func(s ctl.InstanceStatus) bool { return s.Announcements >= 2 })

	in := l.R1.DropRandomMatch(t, "eth0", 100, testnet.In, "ip protocol vrrp")
	out := l.R1.DropRandomMatch(t, "eth0", 100, testnet.Out, "ip protocol vrrp")
	v2.WaitState(t, "VI_1", "MASTER")
	time.Sleep(1500 * time.Millisecond) // past the rule's one second of silence
	if s := v1.Instance(t, "VI_1"); s.State != "MASTER" || s.Transitions != before.Transitions {
		t.Fatalf("r1 left MASTER during the split: %s", harness.Describe(s))
	}
	in.Remove(t)
	healed := v1.WaitInstance(t, settle, "VI_1", "split brain healed", func(s ctl.InstanceStatus) bool { return s.SplitBrainHeals > 0 })
	out.Remove(t)
	v2.WaitState(t, "VI_1", "BACKUP")
	backAt := v2.Instance(t, "VI_1").Transitions
	time.Sleep(500 * time.Millisecond) // scripts run asynchronously
	v2.WaitState(t, "VI_1", "BACKUP")
	after := v1.Instance(t, "VI_1")

	// On a loaded host r2 may miss r1's adverts for a Master_Down_Interval
	// (360 ms here) once more and take over for a moment: if it had been
	// silent for the rule's second first, that is a split brain of its own,
	// healed and notified like the first. Each such flap may add one.
	flaps := int(v2.Instance(t, "VI_1").Transitions-backAt) / 2
	if flaps > 0 {
		t.Logf("r2 took over %d more time(s) after the heal (a loaded host): up to %d more healed split brains allowed", flaps, flaps)
	}
	heals := int(after.SplitBrainHeals)
	if after.State != "MASTER" || after.Transitions != before.Transitions {
		t.Errorf("r1 changed state: %s", harness.Describe(after))
	}
	if heals < 1 || heals > 1+flaps {
		t.Errorf("r1 counted %d healed split brains, want 1 (r2's further takeovers: %d)", heals, flaps)
	}
	if got := len(recs[0].Calls("master")); got != 1+heals {
		t.Errorf("r1 ran notify_master %d times, want %d (start-up, then each heal)", got, 1+heals)
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
	if masters != 1+heals || rxLower < 1 || rxLower != windows {
		t.Errorf("r1's FIFO: %d MASTER lines (want %d), %d MASTER_RX_LOWER_PRI (want %d, one per answered window): %q",
			masters, 1+heals, rxLower, windows, fifos[0].Lines())
	}
	if n := after.Announcements - before.Announcements; n < 1 || int(n) != windows {
		t.Errorf("r1 sent %d GARP rounds after the heal, want one per answered window (%d)", n, windows)
	}
	t.Logf("r1 after the heal: %d lower-priority adverts, %d answered, %d healed split brain; status at detection %s",
		after.LowerPriorityAdverts, windows, after.SplitBrainHeals, harness.Describe(healed))
}

// groupPreemptCycles is preemptCycles for the sync-group variant.
const groupPreemptCycles = 3

// groupPreemptConf is preemptConf with two instances, VI_1 (VRID 51) and
// VI_2 (VRID 52), in one vrrp_sync_group G1 (with
// sync_group_tracking_weight, so that the file's weight moves the
// priority rather than faulting the group), each tracking the file, with
// instance and group notify_master scripts.
func groupPreemptConf(prio int, fifo string, rec *notifytest.Recorder, trackFile string) string {
	head, track := "", ""
	if trackFile != "" {
		head = "vrrp_track_file tf {\n    file " + trackFile + "\n    weight 1\n}\n"
		track = "    track_file {\n        tf\n    }\n"
	}
	q := func(tag string) string { return `"` + rec.Command(tag) + `"` }
	return trkGlobal("    notify_fifo "+fifo) + head + `vrrp_sync_group G1 {
    group {
        VI_1
        VI_2
    }
    notify_master ` + q("gmaster") + `
    sync_group_tracking_weight
}
` + trkInst{Name: "VI_1", Iface: "eth0", VRID: 51, Prio: prio, Adv: "0.01", VIP: vip4 + "/24",
		Extra: track + "    notify_master " + q("master")}.String() +
		trkInst{Name: "VI_2", Iface: "eth0", VRID: 52, Prio: prio, Adv: "0.01", VIP: "192.0.2.253/24",
			Extra: track + "    notify_master " + q("master2")}.String()
}

// groupStep is what one sync-group preemption produced on each router:
// its FIFO lines (MASTER_RX_LOWER_PRI aside, whose count keepalived does
// not limit), its notify_master runs per script, its transitions to MASTER.
type groupStep struct {
	what    string
	lines   [2][]string
	runs    [2][3]int // master (VI_1), master2 (VI_2), gmaster (G1)
	entered [2]int
	rxLower [2]int
}

func runGroupPreemptions(t *testing.T, impl string, start func(h *testnet.Host, conf string) *testnet.Proc) []groupStep {
	l := newLab(t)
	dir := t.TempDir()
	track := filepath.Join(dir, "r1.track")
	writeValue(t, track, "0")
	routers := [2]*preemptRouter{}
	var late [2]vrrp.Conn
	for i, h := range []*testnet.Host{l.R1, l.R2} {
		routers[i] = &preemptRouter{name: h.Name(), rec: secureRecorder(t),
			fifo: notifytest.ReadFIFO(t, filepath.Join(dir, fmt.Sprintf("r%d.fifo", i+1)))}
		if err := h.Do(func() (err error) { late[i], err = vrrp.ListenIPv4("eth0", vrrp.ConnOptions{}); return err }); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { late[i].Close() })
	}
	prios := [2]uint8{150, 100}
	entered := func(r *preemptRouter) int { return r.entered("MASTER") + routerEntered(r, "VI_2", "MASTER") }
	groupLines := func(r *preemptRouter, state string) int {
		n := 0
		for _, line := range r.fifo.Lines() {
			if line == `GROUP "G1" `+state+" 0\n" {
				n++
			}
		}
		return n
	}
	type mark struct {
		lines   [2]int
		runs    [2][3]int
		entered [2]int
		gm, gb  [2]int
	}
	snap := func() mark {
		var m mark
		for i, r := range routers {
			m.lines[i] = len(r.fifo.Lines())
			for j, tag := range []string{"master", "master2", "gmaster"} {
				m.runs[i][j] = len(r.rec.Calls(tag))
			}
			m.entered[i] = entered(r)
			m.gm[i], m.gb[i] = groupLines(r, "MASTER"), groupLines(r, "BACKUP")
		}
		return m
	}
	waitGroup := func(what string, before mark, winner, loser int) groupStep {
		w, lo := routers[winner], routers[loser]
		testnet.Eventually(t, settle, func() bool { return entered(w) >= before.entered[winner]+2 },
			"%s %s: %s's members did not become master", impl, what, w.name)
		for vrid, addr := range map[uint8]string{51: vip4, 52: "192.0.2.253"} {
			p := vrrp.Packet{Version: 3, Type: 1, VRID: vrid, Priority: prios[loser], MaxAdvertCentis: 1,
				Addrs: []netip.Addr{netip.MustParseAddr(addr)}}
			if err := late[loser].WriteTo(&p, netip.MustParseAddr("224.0.0.18")); err != nil {
				t.Fatalf("%s: crossing advert: %v", impl, err)
			}
		}
		testnet.Eventually(t, settle, func() bool {
			return groupLines(w, "MASTER") > before.gm[winner] && groupLines(lo, "BACKUP") > before.gb[loser]
		}, "%s %s: group lines", impl, what)
		time.Sleep(700 * time.Millisecond)
		after := settled(snap)
		s := groupStep{what: what}
		for i, r := range routers {
			for _, line := range r.fifo.Lines()[before.lines[i]:] {
				if strings.Contains(line, " MASTER_RX_LOWER_PRI ") {
					s.rxLower[i]++
					continue
				}
				s.lines[i] = append(s.lines[i], line)
			}
			for j := range 3 {
				s.runs[i][j] = after.runs[i][j] - before.runs[i][j]
			}
			s.entered[i] = after.entered[i] - before.entered[i]
		}
		return s
	}
	routers[1].proc = start(l.R2, groupPreemptConf(100, filepath.Join(dir, "r2.fifo"), routers[1].rec, ""))
	testnet.Eventually(t, settle, func() bool { return groupLines(routers[1], "MASTER") == 1 }, "%s: r2 alone did not become master", impl)
	time.Sleep(300 * time.Millisecond)
	before := snap()
	routers[0].proc = start(l.R1, groupPreemptConf(150, filepath.Join(dir, "r1.fifo"), routers[0].rec, track))
	steps := []groupStep{waitGroup("start-up", before, 0, 1)}
	for c := range groupPreemptCycles {
		before = snap()
		writeValue(t, track, "-60")
		prios[0] = 90
		steps = append(steps, waitGroup(fmt.Sprintf("r2 preempts #%d", c+1), before, 1, 0))
		before = snap()
		writeValue(t, track, "0")
		prios[0] = 150
		steps = append(steps, waitGroup(fmt.Sprintf("r1 preempts #%d", c+1), before, 0, 1))
	}
	return steps
}

// settled returns get's value once two samples 300 ms apart agree (at
// most 5 s on): on a loaded host a notify script or a FIFO line can land
// later than the usual wait, and would be counted in the next step.
func settled[T comparable](get func() T) T {
	v := get()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		time.Sleep(300 * time.Millisecond)
		next := get()
		if next == v {
			break
		}
		v = next
	}
	return v
}

// groupLast reports whether lines (one preemption's) end with the group's
// line, after its members' (at start-up the group's BACKUP line also comes
// first, before its members').
func groupLast(lines []string) bool {
	return len(lines) > 0 && strings.HasPrefix(lines[len(lines)-1], "GROUP ")
}

// routerEntered counts "(name) Entering STATE STATE" log lines.
func routerEntered(r *preemptRouter, name, state string) int {
	if r.proc == nil {
		return 0
	}
	return strings.Count(r.proc.Output(), "("+name+") Entering "+state+" STATE")
}

// TestSyncGroupPreemptionNotifyLikeKeepalived: the preemption scenario of
// TestPreemptionNotifyLikeKeepalived with a vrrp_sync_group of two
// instances, each preemption raced by the loser's last adverts for both
// VRIDs. Per preemption and router, vigild's notify FIFO lines
// (MASTER_RX_LOWER_PRI aside) are keepalived's: the same lines, the
// group's after its members', and so are the runs of the instances' and
// the group's notify_master.
func TestSyncGroupPreemptionNotifyLikeKeepalived(t *testing.T) {
	testnet.NeedRoot(t, "ip", "keepalived")
	kSteps := runGroupPreemptions(t, "keepalived", func(h *testnet.Host, conf string) *testnet.Proc {
		return h.Keepalived(t, conf, "-P")
	})
	vSteps := runGroupPreemptions(t, "vigild", func(h *testnet.Host, conf string) *testnet.Proc {
		return startVigild(t, h, conf).Proc
	})
	for i := range kSteps {
		k, v := kSteps[i], vSteps[i]
		t.Logf("%-16s notify_master runs (VI_1, VI_2, G1) r1/r2: keepalived %v %v, vigild %v %v; MASTER_RX_LOWER_PRI keepalived %v, vigild %v",
			k.what, k.runs[0], k.runs[1], v.runs[0], v.runs[1], k.rxLower, v.rxLower)
		if k.entered != v.entered || k.entered[0]+k.entered[1] != 2 {
			t.Logf("%s: a router flapped under load (member transitions to MASTER keepalived %v, vigild %v): not compared",
				k.what, k.entered, v.entered)
			continue
		}
		for r := range 2 {
			// Which member's timer fires first is a race in both daemons
			// (keepalived too tells VI_1 or VI_2 first from one preemption
			// to the next): the members' lines are compared as a set, each
			// instance's own lines in order, and the group's line comes
			// after its members'.
			ks, vs := slices.Sorted(slices.Values(k.lines[r])), slices.Sorted(slices.Values(v.lines[r]))
			if !slices.Equal(ks, vs) || !groupLast(v.lines[r]) || !groupLast(k.lines[r]) {
				t.Errorf("%s, r%d: FIFO lines differ:\nvigild:\n%skeepalived:\n%s", k.what, r+1,
					strings.Join(v.lines[r], ""), strings.Join(k.lines[r], ""))
			}
		}
		if k.runs != v.runs {
			t.Errorf("%s: notify_master runs (VI_1, VI_2, G1) r1/r2: vigild %v, keepalived %v", k.what, v.runs, k.runs)
		}
		if v.rxLower[0]+v.rxLower[1] == 0 || k.rxLower[0]+k.rxLower[1] == 0 {
			t.Errorf("%s: a crossing advert drew no MASTER_RX_LOWER_PRI (keepalived %v, vigild %v)", k.what, k.rxLower, v.rxLower)
		}
	}
}
