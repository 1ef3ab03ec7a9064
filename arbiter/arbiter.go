package arbiter

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/vigil-ha/vigil/vrrp"
)

// Member is one VRRP instance of the tracked group as its node sees it.
type Member struct {
	Name     string
	State    vrrp.State
	Priority uint8 // effective priority
	// Starved: a BACKUP whose Master_Down_Timer ran out while held, with no
	// master's advert since (vrrp.Machine.Starved).
	Starved bool
	// Monitored is how many segments the node watches for this instance
	// (its interface, each track_interface, each witness); Down how many of
	// them are down now.
	Monitored, Down uint8
}

// View is one node's view of the tracked group.
type View struct {
	Members []Member
}

// Master reports whether any member is MASTER.
func (v View) Master() bool { return v.any(func(m Member) bool { return m.State == vrrp.StateMaster }) }

// Fault reports whether any member is in FAULT, or in INIT (not started,
// or stopping): a node that cannot be master now.
func (v View) Fault() bool {
	return v.any(func(m Member) bool { return m.State == vrrp.StateFault || m.State == vrrp.StateInit })
}

// Starved reports whether any member is starved.
func (v View) Starved() bool {
	return v.any(func(m Member) bool { return m.Starved && m.State == vrrp.StateBackup })
}

// Down is the number of monitored segments down over every member.
func (v View) Down() int {
	n := 0
	for _, m := range v.Members {
		n += int(m.Down)
	}
	return n
}

// Priority is the sum of the members' effective priorities.
func (v View) Priority() int {
	n := 0
	for _, m := range v.Members {
		n += int(m.Priority)
	}
	return n
}

func (v View) any(f func(Member) bool) bool {
	for _, m := range v.Members {
		if f(m) {
			return true
		}
	}
	return false
}

// Mode is the arbitration's state, shown by vigilctl status and the
// vigil_arbiter_mode metric.
type Mode uint8

// The modes.
const (
	// ModeWaiting: no heartbeat from the peer yet.
	ModeWaiting Mode = iota
	// ModeAgreed: the views agree: at most one master, each side hears it.
	ModeAgreed
	// ModeSplit: the views disagree (both claim MASTER, or adverts are lost
	// while both are alive); the arbiter keeps one master.
	ModeSplit
	// ModeLost: the peer's heartbeat stopped (the sync link is cut, or the
	// peer is down): VRRP alone decides.
	ModeLost
	numModes
)

var modeNames = [numModes]string{"waiting", "agreed", "split", "heartbeat_lost"}

// String returns "waiting", "agreed", "split" or "heartbeat_lost".
func (m Mode) String() string {
	if m < numModes {
		return modeNames[m]
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// Rule is the row of the decision table that decided.
type Rule uint8

// The rules.
const (
	RuleNone      Rule = iota // no heartbeat, or nothing to decide
	RuleFault                 // one node has an instance in FAULT
	RuleHealth                // fewer segments down
	RuleIncumbent             // the master now stays
	RulePriority              // higher sum of effective priorities
	RuleAddress               // higher sync address
	numRules
)

var ruleNames = [numRules]string{"none", "fault", "health", "incumbent", "priority", "address"}

// String returns the rule's snake_case word.
func (r Rule) String() string {
	if r < numRules {
		return ruleNames[r]
	}
	return fmt.Sprintf("Rule(%d)", uint8(r))
}

// Config is what an Arbiter needs.
type Config struct {
	// DeadAfter is how long after the peer's last heartbeat its view still
	// counts (the daemon: 4 heartbeat intervals).
	DeadAfter time.Duration
	// LocalAddr and PeerAddr are the two sync addresses: the last tiebreak.
	LocalAddr, PeerAddr netip.Addr
}

// Decision is what Decide concluded.
type Decision struct {
	Mode Mode
	Rule Rule
	// Win: this node should be the master (meaningful with Rule != RuleNone).
	Win bool
	// Hold: keep this node's tracked instances from taking over on
	// silence (vrrp.Hold.Silence); HoldPreempt: from preempting (the peer
	// wins by fault or health, not merely by being master now; kept while
	// the heartbeat is lost, so that losing it moves nothing).
	Hold, HoldPreempt bool
	// Yield: this node's tracked masters must hand over (vrrp.Release).
	Yield bool
	// Changed: Mode differs from the previous Decide's; From is that one.
	Changed bool
	From    Mode
}

// Arbiter is the pure arbitration core. Build it with New.
type Arbiter struct {
	cfg    Config
	peer   View
	peerAt time.Time // zero: never heard
	mode   Mode
	// lastPre is the last fresh decision's HoldPreempt, kept while the
	// heartbeat is lost: no preemption we had been refused while we
	// cannot tell.
	lastPre bool
}

// New returns an Arbiter in ModeWaiting.
func New(cfg Config) *Arbiter { return &Arbiter{cfg: cfg} }

// PeerView records the peer's view, received at now. The slice is kept:
// the caller must not change it afterwards.
func (a *Arbiter) PeerView(v View, now time.Time) {
	a.peer, a.peerAt = v, now
}

// Peer returns the peer's latest view and when it came (zero: never).
func (a *Arbiter) Peer() (View, time.Time) { return a.peer, a.peerAt }

// DeadAfter returns Config.DeadAfter.
func (a *Arbiter) DeadAfter() time.Duration { return a.cfg.DeadAfter }

// Mode returns the mode of the last Decide.
func (a *Arbiter) Mode() Mode { return a.mode }

// Decide applies the decision table to our view and the peer's latest, at
// now.
func (a *Arbiter) Decide(local View, now time.Time) Decision {
	d := a.decide(local, now)
	switch d.Mode {
	case ModeLost:
		d.HoldPreempt = a.lastPre
	case ModeAgreed, ModeSplit:
		a.lastPre = d.HoldPreempt
	default:
		a.lastPre = false
	}
	d.From, d.Changed = a.mode, d.Mode != a.mode
	a.mode = d.Mode
	return d
}

func (a *Arbiter) decide(local View, now time.Time) Decision {
	switch {
	case a.peerAt.IsZero():
		return Decision{Mode: ModeWaiting}
	case now.Sub(a.peerAt) > a.cfg.DeadAfter:
		return Decision{Mode: ModeLost}
	}
	peer := a.peer
	d := Decision{Mode: ModeAgreed}
	if (local.Master() && peer.Master()) || local.Starved() || peer.Starved() {
		d.Mode = ModeSplit
	}
	d.Win, d.Rule = a.rank(local, peer)
	d.Hold = !d.Win
	d.HoldPreempt = d.Hold && (d.Rule == RuleFault || d.Rule == RuleHealth)
	d.Yield = d.Hold && local.Master()
	return d
}

// rank reports whether we win and by which rule.
func (a *Arbiter) rank(l, p View) (bool, Rule) {
	if lf, pf := l.Fault(), p.Fault(); lf != pf {
		return pf, RuleFault
	}
	if ld, pd := l.Down(), p.Down(); ld != pd {
		return ld < pd, RuleHealth
	}
	if lm, pm := l.Master(), p.Master(); lm != pm {
		return lm, RuleIncumbent
	}
	if lp, pp := l.Priority(), p.Priority(); lp != pp {
		return lp > pp, RulePriority
	}
	return a.cfg.LocalAddr.Unmap().Compare(a.cfg.PeerAddr.Unmap()) > 0, RuleAddress
}
