package arbiter_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/arbiter"
	"github.com/vigil-ha/vigil/internal/puritytest"
	"github.com/vigil-ha/vigil/vrrp"
)

var t0 = time.Date(2026, 12, 4, 13, 0, 0, 0, time.UTC)

const dead = time.Second

var (
	addrLow  = netip.MustParseAddr("198.51.100.1")
	addrHigh = netip.MustParseAddr("198.51.100.2")
)

// view builds a one-member view: state, priority, starved, segments down
// (of 2 monitored).
func view(s vrrp.State, prio uint8, starved bool, down uint8) arbiter.View {
	return arbiter.View{Members: []arbiter.Member{{Name: "VI_1", State: s, Priority: prio, Starved: starved, Monitored: 2, Down: down}}}
}

const (
	M = vrrp.StateMaster
	B = vrrp.StateBackup
	F = vrrp.StateFault
)

// TestDecisionTable holds every row of the decision table in doc.go (and
// docs/conntrack-sync.md), from both sides where the row is about two
// nodes.
func TestDecisionTable(t *testing.T) {
	type row struct {
		name        string
		local, peer arbiter.View
		peerAge     time.Duration // < 0: never heard
		localHigh   bool          // our sync address is the higher
		mode        arbiter.Mode
		rule        arbiter.Rule
		hold, yield bool
	}
	rows := []row{
		{"no heartbeat yet", view(B, 100, true, 0), view(M, 100, false, 0), -1, false, arbiter.ModeWaiting, arbiter.RuleNone, false, false},
		{"heartbeat stale by 1ns: lost, VRRP decides", view(B, 100, true, 0), view(M, 100, false, 0), dead + 1, false, arbiter.ModeLost, arbiter.RuleNone, false, false},
		{"heartbeat at the dead boundary is fresh", view(B, 100, true, 0), view(M, 100, false, 0), dead, false, arbiter.ModeSplit, arbiter.RuleIncumbent, true, false},
		{"agreed, equal health: the backup's silence is not a takeover", view(B, 100, false, 0), view(M, 90, false, 0), 0, false, arbiter.ModeAgreed, arbiter.RuleIncumbent, true, false},
		{"agreed, equal health: the master stays", view(M, 90, false, 0), view(B, 100, false, 0), 0, false, arbiter.ModeAgreed, arbiter.RuleIncumbent, false, false},
		{"agreed, no master yet: higher priority free", view(B, 100, false, 0), view(B, 90, false, 0), 0, false, arbiter.ModeAgreed, arbiter.RulePriority, false, false},
		{"agreed, no master yet: lower priority held", view(B, 90, false, 0), view(B, 100, false, 0), 0, false, arbiter.ModeAgreed, arbiter.RulePriority, true, false},
		{"agreed, master's segment down: master yields", view(M, 100, false, 1), view(B, 90, false, 0), 0, true, arbiter.ModeAgreed, arbiter.RuleHealth, true, true},
		{"agreed, master's segment down: healthy backup free", view(B, 90, false, 0), view(M, 100, false, 1), 0, false, arbiter.ModeAgreed, arbiter.RuleHealth, false, false},
		{"agreed, backup's segment down: backup held", view(B, 100, false, 1), view(M, 90, false, 0), 0, true, arbiter.ModeAgreed, arbiter.RuleHealth, true, false},
		{"agreed, the peer in FAULT: we are free", view(B, 100, false, 1), view(F, 90, false, 2), 0, false, arbiter.ModeAgreed, arbiter.RuleFault, false, false},
		{"agreed, the peer stopping (INIT): we are free", view(B, 100, false, 0), view(vrrp.StateInit, 200, false, 0), 0, false, arbiter.ModeAgreed, arbiter.RuleFault, false, false},
		{"agreed, we are in FAULT: held", view(F, 100, false, 2), view(B, 90, false, 1), 0, false, arbiter.ModeAgreed, arbiter.RuleFault, true, false},
		{"split, both master, peer faulted member", view(M, 100, false, 0), arbiter.View{Members: []arbiter.Member{{Name: "VI_1", State: M, Priority: 100, Monitored: 2}, {Name: "VI_2", State: F, Priority: 100, Monitored: 1, Down: 1}}}, 0, false, arbiter.ModeSplit, arbiter.RuleFault, false, false},
		{"split, both master, we have a fault", arbiter.View{Members: []arbiter.Member{{Name: "VI_1", State: M, Priority: 100, Monitored: 2}, {Name: "VI_2", State: F, Priority: 100, Monitored: 1, Down: 1}}}, view(M, 100, false, 0), 0, true, arbiter.ModeSplit, arbiter.RuleFault, true, true},
		{"split, healthier wins", view(M, 100, false, 0), view(M, 200, false, 1), 0, false, arbiter.ModeSplit, arbiter.RuleHealth, false, false},
		{"split, less healthy master yields", view(M, 200, false, 1), view(M, 100, false, 0), 0, true, arbiter.ModeSplit, arbiter.RuleHealth, true, true},
		{"split, starved backup loses to the master now", view(B, 200, true, 0), view(M, 100, false, 0), 0, true, arbiter.ModeSplit, arbiter.RuleIncumbent, true, false},
		{"split, master stays against a starved backup", view(M, 100, false, 0), view(B, 200, true, 0), 0, false, arbiter.ModeSplit, arbiter.RuleIncumbent, false, false},
		{"split, both master: higher priority wins", view(M, 150, false, 0), view(M, 100, false, 0), 0, false, arbiter.ModeSplit, arbiter.RulePriority, false, false},
		{"split, both master: lower priority yields", view(M, 100, false, 0), view(M, 150, false, 0), 0, true, arbiter.ModeSplit, arbiter.RulePriority, true, true},
		{"split, both starved: higher priority free", view(B, 150, true, 0), view(B, 100, true, 0), 0, false, arbiter.ModeSplit, arbiter.RulePriority, false, false},
		{"split, both master, equal priority: higher address wins", view(M, 100, false, 0), view(M, 100, false, 0), 0, true, arbiter.ModeSplit, arbiter.RuleAddress, false, false},
		{"split, both master, equal priority: lower address yields", view(M, 100, false, 0), view(M, 100, false, 0), 0, false, arbiter.ModeSplit, arbiter.RuleAddress, true, true},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			cfg := arbiter.Config{DeadAfter: dead, LocalAddr: addrLow, PeerAddr: addrHigh}
			if r.localHigh {
				cfg.LocalAddr, cfg.PeerAddr = addrHigh, addrLow
			}
			a := arbiter.New(cfg)
			now := t0.Add(10 * time.Second)
			if r.peerAge >= 0 {
				a.PeerView(r.peer, now.Add(-r.peerAge))
			}
			d := a.Decide(r.local, now)
			if d.Mode != r.mode || d.Rule != r.rule || d.Hold != r.hold || d.Yield != r.yield {
				t.Fatalf("got mode %v rule %v hold %v yield %v, want mode %v rule %v hold %v yield %v",
					d.Mode, d.Rule, d.Hold, d.Yield, r.mode, r.rule, r.hold, r.yield)
			}
			if want := r.hold && (r.rule == arbiter.RuleHealth || r.rule == arbiter.RuleFault); d.HoldPreempt != want {
				t.Fatalf("HoldPreempt %v, want %v: only a better placed peer holds back our preemption", d.HoldPreempt, want)
			}
			// The same inputs seen from the peer never make both nodes
			// losers or both winners of a ranked decision.
			if r.mode == arbiter.ModeSplit || r.mode == arbiter.ModeAgreed {
				b := arbiter.New(arbiter.Config{DeadAfter: dead, LocalAddr: cfg.PeerAddr, PeerAddr: cfg.LocalAddr})
				b.PeerView(r.local, now)
				e := b.Decide(r.peer, now)
				if e.Win == d.Win || e.Rule != d.Rule {
					t.Fatalf("both sides: ours win=%v rule %v, peer's win=%v rule %v", d.Win, d.Rule, e.Win, e.Rule)
				}
			}
		})
	}
}

// TestModeChanges: Decide reports a mode change once, with the mode it
// left, so that the daemon logs, notifies and re-announces once.
func TestModeChanges(t *testing.T) {
	a := arbiter.New(arbiter.Config{DeadAfter: dead, LocalAddr: addrHigh, PeerAddr: addrLow})
	steps := []struct {
		at      time.Duration
		peer    *arbiter.View
		local   arbiter.View
		mode    arbiter.Mode
		changed bool
	}{
		{0, nil, view(M, 100, false, 0), arbiter.ModeWaiting, false},
		{100 * time.Millisecond, ptr(view(B, 100, false, 0)), view(M, 100, false, 0), arbiter.ModeAgreed, true},
		{200 * time.Millisecond, ptr(view(B, 100, true, 0)), view(M, 100, false, 0), arbiter.ModeSplit, true},
		{300 * time.Millisecond, ptr(view(B, 100, true, 0)), view(M, 100, false, 0), arbiter.ModeSplit, false},
		{400 * time.Millisecond, ptr(view(B, 100, false, 0)), view(M, 100, false, 0), arbiter.ModeAgreed, true},
		{1400*time.Millisecond + 1, nil, view(M, 100, false, 0), arbiter.ModeLost, true},
		{1500 * time.Millisecond, ptr(view(B, 100, false, 0)), view(M, 100, false, 0), arbiter.ModeAgreed, true},
	}
	prev := arbiter.ModeWaiting
	for i, s := range steps {
		now := t0.Add(s.at)
		if s.peer != nil {
			a.PeerView(*s.peer, now)
		}
		d := a.Decide(s.local, now)
		if d.Mode != s.mode || d.Changed != s.changed || d.From != prev {
			t.Fatalf("step %d: mode %v changed %v from %v, want %v %v from %v", i, d.Mode, d.Changed, d.From, s.mode, s.changed, prev)
		}
		prev = d.Mode
	}
}

func ptr[T any](v T) *T { return &v }

func TestStrings(t *testing.T) {
	for m, want := range map[arbiter.Mode]string{arbiter.ModeWaiting: "waiting", arbiter.ModeAgreed: "agreed", arbiter.ModeSplit: "split", arbiter.ModeLost: "heartbeat_lost", 9: "Mode(9)"} {
		if m.String() != want {
			t.Errorf("Mode %d = %q, want %q", m, m.String(), want)
		}
	}
	for r, want := range map[arbiter.Rule]string{arbiter.RuleHealth: "health", arbiter.RuleAddress: "address", 9: "Rule(9)"} {
		if r.String() != want {
			t.Errorf("Rule %d = %q, want %q", r, r.String(), want)
		}
	}
}

func TestFilesArePure(t *testing.T) {
	puritytest.Check(t, []string{"arbiter.go", "wire.go", "witness.go", "doc.go"}, []string{"arbiter.go", "wire.go", "witness.go"})
}

// TestLostKeepsPreemptHold: losing the heartbeat lifts the hold on
// silence (both lost: RFC 5798) but keeps a refused preemption refused,
// so that a cut sync link moves nothing.
func TestLostKeepsPreemptHold(t *testing.T) {
	a := arbiter.New(arbiter.Config{DeadAfter: dead, LocalAddr: addrHigh, PeerAddr: addrLow})
	a.PeerView(view(M, 100, false, 0), t0)
	if d := a.Decide(view(B, 150, false, 1), t0); !d.Hold || !d.HoldPreempt || d.Rule != arbiter.RuleHealth {
		t.Fatalf("fresh: %+v", d)
	}
	if d := a.Decide(view(B, 150, false, 1), t0.Add(dead+1)); d.Mode != arbiter.ModeLost || d.Hold || !d.HoldPreempt {
		t.Fatalf("lost: %+v", d)
	}
	a.PeerView(view(M, 100, false, 1), t0.Add(2*dead))
	if d := a.Decide(view(B, 150, false, 1), t0.Add(2*dead)); !d.Hold || d.HoldPreempt || d.Rule != arbiter.RuleIncumbent {
		t.Fatalf("fresh again, equal health: %+v", d)
	}
	if d := a.Decide(view(B, 150, false, 1), t0.Add(4*dead)); d.Mode != arbiter.ModeLost || d.HoldPreempt {
		t.Fatalf("lost after a free decision: %+v", d)
	}
}
