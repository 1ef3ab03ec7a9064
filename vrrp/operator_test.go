package vrrp_test

import (
	"errors"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/vrrp"
)

// opPair is two routers on a lossless wire: a (with an operator hold, at
// base priority aBase) and b. Every advert one sends the other hears at
// once; run advances the fake clock to the next deadline.
type opPair struct {
	t     *testing.T
	a, b  *vrrp.Machine
	op    vrrp.Operator
	aBase uint8
	now   time.Time
	sent  []vrrp.SendAdvert // a's adverts, in order
	bDown bool              // b is gone: it neither sends nor hears
}

func newOpPair(t *testing.T, aPrio, bPrio uint8) *opPair {
	p := &opPair{t: t, aBase: aPrio, now: mT0,
		a: vrrp.NewMachine(mCfg3(aPrio, "192.0.2.1")), b: vrrp.NewMachine(mCfg3(bPrio, "192.0.2.2"))}
	p.give(p.a, vrrp.Startup{})
	p.give(p.b, vrrp.Startup{})
	return p
}

// give hands ev to m at p.now and carries its adverts to the other router.
func (p *opPair) give(m *vrrp.Machine, ev vrrp.Event) {
	if m == p.b && p.bDown {
		return
	}
	acts := append([]vrrp.Action(nil), m.Handle(ev, p.now)...)
	for _, act := range acts {
		switch x := act.(type) {
		case vrrp.SendAdvert:
			from, to := m, p.b
			if m == p.b {
				to = p.a
			} else {
				p.sent = append(p.sent, x)
			}
			p.give(to, vrrp.AdvertReceived{Priority: x.Priority, MaxAdvertInterval: time.Second, Src: from.Config().LocalAddr})
		case vrrp.Transition:
			if m == p.a {
				p.op.Transitioned(x)
				p.setPriority()
			}
		}
	}
}

// setPriority gives a the priority its hold leaves, as the daemon's
// evaluate does.
func (p *opPair) setPriority() {
	if want := p.op.Priority(p.aBase); want != p.a.Priority() {
		p.give(p.a, vrrp.SetPriority{Priority: want, Reason: p.op.Reason()})
	}
}

// run advances the clock through each deadline up to d from now.
func (p *opPair) run(d time.Duration) {
	end := p.now.Add(d)
	for {
		next, ok := time.Time{}, false
		for _, m := range []*vrrp.Machine{p.a, p.b} {
			if dl, has := m.Deadline(); has && !(m == p.b && p.bDown) && (!ok || dl.Before(next)) {
				next, ok = dl, true
			}
		}
		if !ok || next.After(end) {
			p.now = end
			return
		}
		if next.After(p.now) {
			p.now = next
		}
		p.give(p.a, vrrp.Timeout{})
		p.give(p.b, vrrp.Timeout{})
	}
}

func (p *opPair) states(wantA, wantB vrrp.State, when string) {
	p.t.Helper()
	if p.a.State() != wantA || (!p.bDown && p.b.State() != wantB) {
		p.t.Fatalf("%s: a %v b %v, want a %v b %v", when, p.a.State(), p.b.State(), wantA, wantB)
	}
}

// TestOperatorDemote: a demoted master hands over with a priority-0 advert
// at once, the peer takes over within its Skew_Time, and the demoted
// router does not take over again while the peer speaks; when the peer is
// lost it does (Master_Down_Interval) and the demotion ends there.
func TestOperatorDemote(t *testing.T) {
	p := newOpPair(t, 200, 100)
	p.run(5 * time.Second)
	p.states(vrrp.StateMaster, vrrp.StateBackup, "settled")

	p.sent = nil
	ev, err := p.op.Demote(p.a.State(), false)
	if err != nil {
		t.Fatal(err)
	}
	p.setPriority()
	if p.a.Priority() != vrrp.PriorityHeld {
		t.Fatalf("demoted priority %d, want %d", p.a.Priority(), vrrp.PriorityHeld)
	}
	p.give(p.a, ev)
	if len(p.sent) == 0 || p.sent[0].Priority != vrrp.PriorityStop || p.sent[0].Reason != vrrp.ReasonDemote {
		t.Fatalf("demote sent %v, want a priority-0 advert first", p.sent)
	}
	p.states(vrrp.StateBackup, vrrp.StateBackup, "right after demote")
	// RFC 5798 §6.4.2: the backup takes over after its Skew_Time.
	p.run(rfcSkew(100, time.Second))
	p.states(vrrp.StateBackup, vrrp.StateMaster, "one Skew_Time after demote")
	p.run(time.Minute)
	p.states(vrrp.StateBackup, vrrp.StateMaster, "a minute after demote")
	if !p.op.Demoted() {
		t.Fatal("demotion ended while the peer speaks")
	}

	p.bDown = true
	p.run(rfcMDI(vrrp.PriorityHeld, time.Second) + time.Second)
	p.states(vrrp.StateMaster, 0, "after the peer was lost")
	if p.op.Demoted() || p.a.Priority() != 200 {
		t.Fatalf("after taking over: demoted %v priority %d, want the demotion over at 200", p.op.Demoted(), p.a.Priority())
	}
}

// TestOperatorPromote: promote gives the priority back and the higher one
// preempts as usual; promote of a lower-priority router forces nothing.
func TestOperatorPromote(t *testing.T) {
	p := newOpPair(t, 200, 100)
	p.run(5 * time.Second)
	ev, _ := p.op.Demote(p.a.State(), false)
	p.setPriority()
	p.give(p.a, ev)
	p.run(10 * time.Second)
	p.states(vrrp.StateBackup, vrrp.StateMaster, "demoted")
	if err := p.op.Promote(); err != nil {
		t.Fatal(err)
	}
	p.setPriority()
	// Preempt: the lower master's adverts are discarded and the running
	// Master_Down_Timer expires.
	p.run(rfcMDI(200, time.Second) + time.Second)
	p.states(vrrp.StateMaster, vrrp.StateBackup, "promoted, higher priority")

	q := newOpPair(t, 50, 100)
	q.run(5 * time.Second)
	q.states(vrrp.StateBackup, vrrp.StateMaster, "settled")
	if _, err := q.op.SetMaintenance(true, q.a.State(), false); err != nil {
		t.Fatal(err)
	}
	q.setPriority()
	if err := q.op.Promote(); err != nil {
		t.Fatal(err)
	}
	q.setPriority()
	q.run(time.Minute)
	q.states(vrrp.StateBackup, vrrp.StateMaster, "promoted, lower priority")
	if err := q.op.Promote(); !errors.Is(err, vrrp.ErrNotHeld) {
		t.Errorf("promote of an instance not held: %v, want ErrNotHeld", err)
	}
}

// TestOperatorMaintenance: a master in maintenance hands over as on
// demote; maintenance holds through a mastership taken when the peer is
// lost, and ends only when turned off.
func TestOperatorMaintenance(t *testing.T) {
	p := newOpPair(t, 200, 100)
	p.run(5 * time.Second)
	p.sent = nil
	ev, err := p.op.SetMaintenance(true, p.a.State(), false)
	if err != nil || ev == nil {
		t.Fatalf("maintenance on a master: %v, %v; want a Release", ev, err)
	}
	p.setPriority()
	p.give(p.a, ev)
	if len(p.sent) == 0 || p.sent[0].Priority != vrrp.PriorityStop || p.sent[0].Reason != vrrp.ReasonMaintenance {
		t.Fatalf("maintenance sent %v, want a priority-0 advert first", p.sent)
	}
	p.run(time.Minute)
	p.states(vrrp.StateBackup, vrrp.StateMaster, "in maintenance")
	// Again: nothing more to do.
	if ev, err := p.op.SetMaintenance(true, p.a.State(), false); ev != nil || err != nil {
		t.Errorf("maintenance on twice: %v, %v", ev, err)
	}
	p.bDown = true
	p.run(time.Minute)
	p.states(vrrp.StateMaster, 0, "peer lost in maintenance")
	if !p.op.Maintenance() || p.a.Priority() != vrrp.PriorityHeld {
		t.Fatalf("maintenance %v priority %d after taking over; want it to hold at %d", p.op.Maintenance(), p.a.Priority(), vrrp.PriorityHeld)
	}
	if ev, err := p.op.SetMaintenance(true, vrrp.StateMaster, false); ev != nil || err != nil {
		t.Errorf("maintenance on again while master in maintenance: %v, %v; want nothing", ev, err)
	}
	if ev, err := p.op.SetMaintenance(false, p.a.State(), false); ev != nil || err != nil {
		t.Fatalf("maintenance off: %v, %v", ev, err)
	}
	p.setPriority()
	if p.a.Priority() != 200 || p.op.Reason() != vrrp.ReasonNone {
		t.Errorf("after maintenance off: priority %d reason %v", p.a.Priority(), p.op.Reason())
	}
}

// TestOperatorRefusals: demote of anything but a master, and any hold on
// the address owner, are refused and change nothing.
func TestOperatorRefusals(t *testing.T) {
	var o vrrp.Operator
	for _, st := range []vrrp.State{vrrp.StateInit, vrrp.StateBackup, vrrp.StateFault} {
		if ev, err := o.Demote(st, false); ev != nil || !errors.Is(err, vrrp.ErrNotMaster) {
			t.Errorf("demote in %v: %v, %v; want ErrNotMaster", st, ev, err)
		}
	}
	if _, err := o.Demote(vrrp.StateMaster, true); !errors.Is(err, vrrp.ErrOwner) {
		t.Errorf("demote of the owner: %v", err)
	}
	if _, err := o.SetMaintenance(true, vrrp.StateBackup, true); !errors.Is(err, vrrp.ErrOwner) {
		t.Errorf("maintenance of the owner: %v", err)
	}
	if o.Demoted() || o.Maintenance() || o.Priority(150) != 150 {
		t.Errorf("refusals changed the hold: %+v", o)
	}
	// A backup in maintenance has nothing to hand over.
	if ev, err := o.SetMaintenance(true, vrrp.StateBackup, false); ev != nil || err != nil || o.Priority(150) != vrrp.PriorityHeld {
		t.Errorf("maintenance on a backup: %v, %v, priority %d", ev, err, o.Priority(150))
	}
}

// TestReleaseOnlyMaster: Release does nothing but in MASTER, and a master
// waits a full Master_Down_Interval (at its new priority) before it takes
// over again.
func TestReleaseOnlyMaster(t *testing.T) {
	m := vrrp.NewMachine(mCfg3(100, "192.0.2.1"))
	if acts := m.Handle(vrrp.Release{}, mT0); len(acts) != 0 {
		t.Errorf("Release in INIT: %v", acts)
	}
	m.Handle(vrrp.Startup{}, mT0)
	if acts := m.Handle(vrrp.Release{}, mT0); len(acts) != 0 || m.State() != vrrp.StateBackup {
		t.Errorf("Release in BACKUP: %v", acts)
	}
	m.Handle(vrrp.Timeout{}, mT0.Add(rfcMDI(100, time.Second)))
	at := mT0.Add(rfcMDI(100, time.Second) + time.Second/2)
	m.Handle(vrrp.SetPriority{Priority: vrrp.PriorityHeld}, at)
	acts := m.Handle(vrrp.Release{}, at)
	want := []vrrp.Action{aSend{Priority: 0, Reason: vrrp.ReasonDemote}, aRemove{Reason: vrrp.ReasonDemote},
		aTrans{From: vrrp.StateMaster, To: vrrp.StateBackup, Reason: vrrp.ReasonDemote}}
	if !actionsEqual(acts, want) {
		t.Fatalf("Release in MASTER: %v, want %v", acts, want)
	}
	if dl, _ := m.Deadline(); !dl.Equal(at.Add(rfcMDI(vrrp.PriorityHeld, time.Second))) {
		t.Errorf("deadline %v after Release, want Master_Down_Interval at priority 1 (%v)", dl.Sub(at), rfcMDI(vrrp.PriorityHeld, time.Second))
	}
	m.Handle(vrrp.Timeout{}, at.Add(rfcMDI(vrrp.PriorityHeld, time.Second)-oneNS))
	if m.State() != vrrp.StateBackup {
		t.Error("took over before Master_Down_Interval")
	}
}
