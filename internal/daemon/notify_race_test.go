package daemon

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/notify"
	"github.com/vigil-ha/vigil/vip/viptest"
	"github.com/vigil-ha/vigil/vrrp"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// These tests run the races of an ordinary preemption through the whole
// loop on the in-memory wire, with fake time, and count the notify lines
// the daemon writes (the lines of notify_fifo: one per notify_master run
// and generic notify call).

// fifoLines is an in-memory notify FIFO.
type fifoLines struct {
	mu    sync.Mutex
	lines []string
}

func (f *fifoLines) WriteLine(line string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lines = append(f.lines, line)
	return nil
}

func (f *fifoLines) all() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.lines)
}

// count returns how many lines are `INSTANCE "name" state prio`.
func (f *fifoLines) count(name, state string) int {
	n := 0
	for _, l := range f.all() {
		if fields := strings.Fields(l); len(fields) == 4 && fields[1] == `"`+name+`"` && fields[2] == state {
			n++
		}
	}
	return n
}

// startNotifyNode is startNode with a notifier that writes to an in-memory
// FIFO (no scripts configured: nothing is executed).
func startNotifyNode(t *testing.T, wire *vrrptest.Wire, addr4, text string) (*node, *fifoLines) {
	t.Helper()
	n := newNode(t, wire, viptest.NewKernel("eth0", "eth1"), addr4, "fe80::1", text, Options{})
	fifo := &fifoLines{}
	n.d.notifier = notify.New(notify.Config{FIFOs: []notify.LineWriter{fifo}})
	n.start(t)
	return n, fifo
}

// scriptedPeer is the other router, reduced to the adverts it sends.
type scriptedPeer struct {
	c   *vrrptest.Conn
	pkt vrrp.Packet
}

func newScriptedPeer(wire *vrrptest.Wire, addr string, prio uint8, adv time.Duration) *scriptedPeer {
	return &scriptedPeer{c: wire.Conn(netip.MustParseAddr(addr)), pkt: vrrp.Packet{
		Version: 3, Type: 1, VRID: 51, Priority: prio,
		MaxAdvertCentis: uint16(adv / (10 * time.Millisecond)),
		Addrs:           []netip.Addr{netip.MustParseAddr("192.0.2.254")},
	}}
}

// advertAt sends one advert at start+at (the bubble's clock).
func (p *scriptedPeer) advertAt(t *testing.T, start time.Time, at time.Duration) {
	t.Helper()
	time.Sleep(time.Until(start.Add(at)))
	if err := p.c.WriteTo(&p.pkt, netip.MustParseAddr("224.0.0.18")); err != nil {
		t.Fatal(err)
	}
	synctest.Wait()
}

// TestLoopCrossingAdvert: r2 (100) is master and advertises every second;
// r1 (150) starts, discards r2's lower-priority adverts (preempt) and takes
// over when its Master_Down_Interval (3 s + 106/256 s) runs out, at T.
// r2's last advert, sent before it heard r1's first one, crosses r1's
// takeover: it is injected at every offset from 1.5 s before T to just
// under a Master_Down_Interval after it (10 ms steps, and the boundary).
// Whatever the offset, r1 notifies MASTER exactly once (as keepalived
// does), and MASTER_RX_LOWER_PRI once when the advert reaches it as master.
// At offset Master_Down_Interval and beyond, r2 had been silent for that
// long while r1 was master: by the documented rule that is a healed split
// brain, and MASTER is notified a second time.
func TestLoopCrossingAdvert(t *testing.T) {
	const adv = time.Second
	down := 3*adv + time.Duration(256-150)*adv/256
	var offsets []time.Duration
	for off := -1500 * time.Millisecond; off < down; off += 10 * time.Millisecond {
		offsets = append(offsets, off)
	}
	offsets = append(offsets, -time.Nanosecond, time.Nanosecond, down-time.Nanosecond, down, down+time.Nanosecond, down+time.Second)
	for _, off := range offsets {
		masters, rxLower, heals := crossingRun(t, adv, down, off)
		wantMasters, wantHeals := 1, uint64(0)
		if off >= down {
			wantMasters, wantHeals = 2, 1
		}
		if masters != wantMasters || heals != wantHeals {
			t.Errorf("crossing advert at T%+v: %d MASTER notifications (%d split-brain heals), want %d (%d)",
				off, masters, heals, wantMasters, wantHeals)
		}
		if off > 0 && rxLower != 1 || off < 0 && rxLower != 0 {
			t.Errorf("crossing advert at T%+v: %d MASTER_RX_LOWER_PRI notifications", off, rxLower)
		}
	}
	t.Logf("%d offsets from %v to %v around T", len(offsets), offsets[0], slices.Max(offsets))
}

// crossingRun runs one offset in its own bubble and returns the MASTER and
// MASTER_RX_LOWER_PRI notifications of r1 and its split-brain count.
func crossingRun(t *testing.T, adv, down, off time.Duration) (masters, rxLower int, heals uint64) {
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		start := time.Now()
		r2 := newScriptedPeer(wire, "192.0.2.2", 100, adv)
		r1, fifo := startNotifyNode(t, wire, "192.0.2.1", prio(pairConf, "150"))
		takeover := down // r1's Master_Down_Timer runs from its start
		crossing := takeover + off
		sent := false
		for at := adv / 2; at < takeover; at += adv {
			if !sent && crossing < at {
				r2.advertAt(t, start, crossing)
				sent = true
			}
			r2.advertAt(t, start, at)
		}
		if !sent {
			r2.advertAt(t, start, crossing)
		}
		sleepUntil(start, max(crossing, takeover)+2*down)
		if got := r1.state("VI_1"); got != "MASTER" {
			t.Fatalf("offset %v: r1 is %s, want MASTER", off, got)
		}
		if got := r1.d.Status().Instances[0].Since; !got.Equal(start.Add(takeover)) {
			t.Fatalf("offset %v: r1 became master at %v, want T = %v", off, got.Sub(start), takeover)
		}
		masters, rxLower = fifo.count("VI_1", "MASTER"), fifo.count("VI_1", "MASTER_RX_LOWER_PRI")
		heals = r1.d.Status().Instances[0].SplitBrainHeals
		if masters != 1 && off < down {
			t.Logf("offset %v: r1's FIFO %q", off, fifo.all())
		}
	})
	return masters, rxLower, heals
}

// TestLoopPreemption: two daemons on a wire whose one-way delay is 30 % of
// the advert interval, so r2's adverts always cross r1's takeover. r2
// (100) starts alone and becomes master; r1 (150) starts at every phase of
// r2's advert cycle (20 steps) and preempts. Each router notifies each
// transition once: r1 BACKUP, MASTER; r2 BACKUP, MASTER, BACKUP; r1 hears
// the crossing advert (MASTER_RX_LOWER_PRI) when there is one, but does
// not notify MASTER again.
func TestLoopPreemption(t *testing.T) {
	const adv = time.Second
	crossed := 0
	for step := range 20 {
		phase := time.Duration(step) * adv / 20
		synctest.Test(t, func(t *testing.T) {
			wire := vrrptest.NewWire(vrrptest.WireOptions{Delay: 300 * time.Millisecond})
			start := time.Now()
			r2, f2 := startNotifyNode(t, wire, "192.0.2.2", prio(pairConf, "100"))
			sleepUntil(start, 10*time.Second+phase)
			if r2.state("VI_1") != "MASTER" {
				t.Fatalf("r2 alone: %s", r2.state("VI_1"))
			}
			r1, f1 := startNotifyNode(t, wire, "192.0.2.1", prio(pairConf, "150"))
			sleepUntil(start, 30*time.Second)
			if r1.state("VI_1") != "MASTER" || r2.state("VI_1") != "BACKUP" {
				t.Fatalf("phase %v: r1 %s r2 %s", phase, r1.state("VI_1"), r2.state("VI_1"))
			}
			want1 := []string{"INSTANCE \"VI_1\" BACKUP 150\n", "INSTANCE \"VI_1\" MASTER 150\n"}
			want2 := []string{"INSTANCE \"VI_1\" BACKUP 100\n", "INSTANCE \"VI_1\" MASTER 100\n", "INSTANCE \"VI_1\" BACKUP 100\n"}
			got1 := slices.DeleteFunc(f1.all(), func(l string) bool { return strings.Contains(l, "MASTER_RX_LOWER_PRI") })
			if !slices.Equal(got1, want1) || !slices.Equal(f2.all(), want2) {
				t.Errorf("phase %v: r1 notified %q, want %q (and MASTER_RX_LOWER_PRI); r2 %q, want %q",
					phase, f1.all(), want1, f2.all(), want2)
			}
			n := f1.count("VI_1", "MASTER_RX_LOWER_PRI")
			if n > 1 {
				t.Errorf("phase %v: r1 notified MASTER_RX_LOWER_PRI %d times, want at most 1", phase, n)
			}
			crossed += n
		})
	}
	// An advert r2 sends from 300 ms before r1's takeover to 300 ms after
	// it reaches r1 as master: about 60 % of the phases have one, so the
	// race was run, not only the quiet case.
	if crossed == 0 {
		t.Errorf("no phase had an advert crossing r1's takeover")
	}
	t.Logf("%d of 20 phases had a crossing advert", crossed)
}

// TestLoopSplitBrainHeals: r1 (150) master, r2 (100) backup; the wire
// between them goes dead for longer than Master_Down_Interval, r2 becomes
// master too; the wire returns. r1, master throughout, hears r2's
// lower-priority advert after a silence of more than Master_Down_Interval:
// one MASTER_RX_LOWER_PRI, one re-announcement burst and one MASTER again
// (the split brain healed), and r2 goes back to BACKUP.
func TestLoopSplitBrainHeals(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		start := time.Now()
		r1, f1 := startNotifyNode(t, wire, "192.0.2.1", prio(pairConf, "150"))
		r2, f2 := startNotifyNode(t, wire, "192.0.2.2", prio(pairConf, "100"))
		sleepUntil(start, 10*time.Second)
		if r1.state("VI_1") != "MASTER" || r2.state("VI_1") != "BACKUP" {
			t.Fatalf("before the split: r1 %s r2 %s", r1.state("VI_1"), r2.state("VI_1"))
		}
		ann := r1.d.Status().Instances[0].Announcements
		for _, c := range r1.conns {
			c.SetIsolated(true)
		}
		sleepUntil(start, 20*time.Second)
		if r1.state("VI_1") != "MASTER" || r2.state("VI_1") != "MASTER" {
			t.Fatalf("during the split: r1 %s r2 %s", r1.state("VI_1"), r2.state("VI_1"))
		}
		// r1 advertises at 3.414 s + k s, r2 (master since 13.023 s) at
		// 13.023 s + k s: rejoined at 20.5 s, r2's advert at 21.023 s is
		// the first to cross the healed wire, so r1 hears the other master
		// before its own advert makes r2 back down.
		sleepUntil(start, 20500*time.Millisecond)
		for _, c := range r1.conns {
			c.SetIsolated(false)
		}
		sleepUntil(start, 40*time.Second)
		if r1.state("VI_1") != "MASTER" || r2.state("VI_1") != "BACKUP" {
			t.Fatalf("after the split: r1 %s r2 %s", r1.state("VI_1"), r2.state("VI_1"))
		}
		want1 := []string{
			"INSTANCE \"VI_1\" BACKUP 150\n", "INSTANCE \"VI_1\" MASTER 150\n",
			"INSTANCE \"VI_1\" MASTER_RX_LOWER_PRI 150\n", "INSTANCE \"VI_1\" MASTER 150\n",
		}
		want2 := []string{"INSTANCE \"VI_1\" BACKUP 100\n", "INSTANCE \"VI_1\" MASTER 100\n", "INSTANCE \"VI_1\" BACKUP 100\n"}
		if got := f1.all(); !slices.Equal(got, want1) {
			t.Errorf("r1 notified %q, want %q", got, want1)
		}
		if got := f2.all(); !slices.Equal(got, want2) {
			t.Errorf("r2 notified %q, want %q", got, want2)
		}
		s := r1.d.Status().Instances[0]
		if s.SplitBrainHeals != 1 || s.LowerPriorityAdverts == 0 {
			t.Errorf("r1 counted %d split-brain heals, %d lower-priority adverts; want 1 and > 0", s.SplitBrainHeals, s.LowerPriorityAdverts)
		}
		// garp_lower_prio_repeat = garp_master_repeat = 5 rounds of one
		// address; garp_master_refresh is off, so nothing else announces.
		if n := s.Announcements - ann; n != 5 {
			t.Errorf("r1 re-announced %d times after the heal, want one burst of 5", n)
		}
	})
}

// groupCount returns how many lines are `GROUP "name" state 0`.
func (f *fifoLines) groupCount(name, state string) int {
	n := 0
	for _, l := range f.all() {
		if l == "GROUP \""+name+"\" "+state+" 0\n" {
			n++
		}
	}
	return n
}

// TestLoopSyncGroupPreemption: the preemption race with a sync group of
// two instances (groupConf) on a wire with a 300 ms delay. r2 (100) starts
// alone; r1 (150) starts at every phase of r2's advert cycle and preempts
// with both members, hearing r2's crossing adverts as master. On r1 each
// member and the group are notified MASTER once, the group after its
// members (keepalived's vrrp_sync_master order); on r2 each member and the
// group are notified BACKUP, MASTER, BACKUP once each.
func TestLoopSyncGroupPreemption(t *testing.T) {
	const adv = time.Second
	crossed := 0
	for step := range 10 {
		phase := time.Duration(step) * adv / 10
		synctest.Test(t, func(t *testing.T) {
			wire := vrrptest.NewWire(vrrptest.WireOptions{Delay: 300 * time.Millisecond})
			start := time.Now()
			r2, f2 := startNotifyNode(t, wire, "192.0.2.2", prio(groupConf, "100"))
			sleepUntil(start, 10*time.Second+phase)
			r1, f1 := startNotifyNode(t, wire, "192.0.2.1", prio(groupConf, "150"))
			sleepUntil(start, 30*time.Second)
			for _, in := range []string{"IN", "OUT"} {
				if r1.state(in) != "MASTER" || r2.state(in) != "BACKUP" {
					t.Fatalf("phase %v: %s r1 %s r2 %s", phase, in, r1.state(in), r2.state(in))
				}
				if n := f1.count(in, "MASTER"); n != 1 {
					t.Errorf("phase %v: r1 notified %s MASTER %d times: %q", phase, in, n, f1.all())
				}
				for _, st := range []string{"BACKUP", "MASTER"} {
					want := map[string]int{"BACKUP": 2, "MASTER": 1}[st]
					if n := f2.count(in, st); n != want {
						t.Errorf("phase %v: r2 notified %s %s %d times, want %d: %q", phase, in, st, n, want, f2.all())
					}
				}
				crossed += f1.count(in, "MASTER_RX_LOWER_PRI")
			}
			if n := f1.groupCount("G1", "MASTER"); n != 1 {
				t.Errorf("phase %v: r1 notified group MASTER %d times: %q", phase, n, f1.all())
			}
			if n, m := f2.groupCount("G1", "BACKUP"), f2.groupCount("G1", "MASTER"); n != 2 || m != 1 {
				t.Errorf("phase %v: r2 notified group BACKUP %d, MASTER %d times, want 2 and 1: %q", phase, n, m, f2.all())
			}
			lines := f1.all()
			g := slices.Index(lines, "GROUP \"G1\" MASTER 0\n")
			for _, in := range []string{"IN", "OUT"} {
				if i := slices.Index(lines, "INSTANCE \""+in+"\" MASTER 150\n"); i < 0 || i > g {
					t.Errorf("phase %v: r1's group MASTER line before its member %s's: %q", phase, in, lines)
				}
			}
		})
	}
	if crossed == 0 {
		t.Errorf("no phase had an advert crossing r1's takeover")
	}
	t.Logf("%d crossing adverts over 10 phases", crossed)
}

// onePerTransition checks that name's FIFO lines (MASTER_RX_LOWER_PRI
// aside) are one per transition the instance made, never the same state
// twice in a row, and returns them.
func onePerTransition(t *testing.T, what string, fifo *fifoLines, name string, transitions uint64) []string {
	t.Helper()
	var states []string
	for _, l := range fifo.all() {
		if f := strings.Fields(l); len(f) == 4 && f[0] == "INSTANCE" && f[1] == `"`+name+`"` && f[2] != "MASTER_RX_LOWER_PRI" {
			states = append(states, f[2])
		}
	}
	if uint64(len(states)) != transitions {
		t.Errorf("%s: %d notifications for %d transitions: %v", what, len(states), transitions, states)
	}
	for i := 1; i < len(states); i++ {
		if states[i] == states[i-1] {
			t.Errorf("%s: %s notified twice in a row: %v", what, states[i], states)
		}
	}
	return states
}

// TestLoopEventsDuringTakeover: the other races of a preemption. r1 (150)
// preempts a scripted r2 (100, adverts every second, the last one crossing
// r1's takeover at T + 100 ms) while, at an offset from 1 s before T to
// 2 s after it (50 ms steps), one more thing happens: the daemon is
// stopped (SIGTERM), r1's interface goes down for 200 ms (FAULT, then
// cleared), or the configuration is reloaded unchanged. Each transition is
// notified exactly once; a stop ends with STOP after whatever state r1
// reached; an unchanged reload notifies nothing.
func TestLoopEventsDuringTakeover(t *testing.T) {
	const adv = time.Second
	down := 3*adv + time.Duration(256-150)*adv/256
	for _, event := range []string{"sigterm", "fault", "reload"} {
		for off := -time.Second; off <= 2*time.Second; off += 50 * time.Millisecond {
			what := fmt.Sprintf("%s at T%+v", event, off)
			synctest.Test(t, func(t *testing.T) {
				wire := vrrptest.NewWire(vrrptest.WireOptions{})
				start := time.Now()
				r2 := newScriptedPeer(wire, "192.0.2.2", 100, adv)
				text := prio(pairConf, "150")
				r1, fifo := startNotifyNode(t, wire, "192.0.2.1", text)
				at := down + off
				type action struct {
					at time.Duration
					do func()
				}
				acts := []action{{down + 100*time.Millisecond, func() { r2.advertAt(t, start, down+100*time.Millisecond) }}}
				for a := adv / 2; a < down; a += adv {
					acts = append(acts, action{a, func() { r2.advertAt(t, start, a) }})
				}
				switch event {
				case "sigterm":
					acts = append(acts, action{at, func() { sleepUntil(start, at); r1.stop() }})
				case "fault":
					acts = append(acts, action{at, func() {
						sleepUntil(start, at)
						r1.ifev <- check.IfaceEvent{Kind: check.IfaceDown, Index: 1, Name: "eth0", Up: false}
						synctest.Wait()
					}}, action{at + 200*time.Millisecond, func() {
						sleepUntil(start, at+200*time.Millisecond)
						r1.ifev <- check.IfaceEvent{Kind: check.IfaceUp, Index: 1, Name: "eth0", Up: true}
						synctest.Wait()
					}})
				case "reload":
					cfg := loadConf(t, text)
					acts = append(acts, action{at, func() {
						sleepUntil(start, at)
						done := make(chan error, 1)
						if !r1.d.post(context.Background(), func(now time.Time) { done <- r1.d.apply(cfg, now) }) {
							t.Fatal("reload not taken")
						}
						if err := <-done; err != nil {
							t.Fatal(err)
						}
					}})
				}
				slices.SortStableFunc(acts, func(a, b action) int { return int(a.at - b.at) })
				for _, a := range acts {
					a.do()
				}
				sleepUntil(start, down+3*time.Second+5*down)
				s := r1.d.Status().Instances[0]
				states := onePerTransition(t, what, fifo, "VI_1", s.Transitions)
				switch event {
				case "sigterm":
					if len(states) == 0 || states[len(states)-1] != "STOP" || slices.Contains(states[:len(states)-1], "STOP") {
						t.Errorf("%s: notifications %v, want STOP once, last", what, states)
					}
				case "fault":
					if !slices.Contains(states, "FAULT") || states[len(states)-1] != "MASTER" {
						t.Errorf("%s: notifications %v, want a FAULT and MASTER in the end", what, states)
					}
				case "reload":
					if !slices.Equal(states, []string{"BACKUP", "MASTER"}) {
						t.Errorf("%s: notifications %v, want BACKUP, MASTER", what, states)
					}
				}
			})
		}
	}
}
