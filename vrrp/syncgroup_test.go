package vrrp_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/vrrp"
)

// sgRig runs a SyncGroup over real Machines with the work queue the daemon
// runs: member events and the Transitions / RequestMasters they return are
// queued and handled in order, and everything observable is traced.
type sgRig struct {
	t      *testing.T
	ms     []*vrrp.Machine
	g      *vrrp.SyncGroup
	now    time.Time
	firsts []bool // the member has made its first transition
	queue  []any  // sgMachineStep or vrrp.GroupEvent
	trace  []string
}

type sgMachineStep struct {
	member int
	ev     vrrp.Event
}

var sgNames = []string{"IN", "OUT", "DMZ"}

// newSGRig makes one sync-group member per priority, in group order.
func newSGRig(t *testing.T, prios ...uint8) *sgRig {
	r := &sgRig{t: t, now: mT0, firsts: make([]bool, len(prios))}
	for i, p := range prios {
		c := mCfg3(p, fmt.Sprintf("192.0.2.%d", i+1))
		c.VRID = uint8(i + 1)
		c.SyncGroup = true
		r.ms = append(r.ms, vrrp.NewMachine(c))
	}
	r.g = vrrp.NewSyncGroup(r.ms)
	return r
}

// member gives ev to member i's machine and runs the queue.
func (r *sgRig) member(i int, ev vrrp.Event) {
	r.queue = append(r.queue, sgMachineStep{i, ev})
	r.drain()
}

// group gives ev to the core and runs the queue.
func (r *sgRig) group(ev vrrp.GroupEvent) {
	r.queue = append(r.queue, ev)
	r.drain()
}

// timeout advances the clock to member i's deadline and fires it.
func (r *sgRig) timeout(i int) {
	dl, ok := r.ms[i].Deadline()
	if !ok {
		r.t.Fatalf("%s has no deadline", sgNames[i])
	}
	r.now = dl
	r.member(i, vrrp.Timeout{})
}

func (r *sgRig) drain() {
	for len(r.queue) > 0 {
		s := r.queue[0]
		r.queue = r.queue[1:]
		switch s := s.(type) {
		case sgMachineStep:
			for _, a := range r.ms[s.member].Handle(s.ev, r.now) {
				switch a := a.(type) {
				case vrrp.Transition:
					if !r.firsts[s.member] {
						// The daemon tells the group before the member's first line.
						r.firsts[s.member] = true
						r.groupActs(r.g.Handle(vrrp.MemberStarting{Member: s.member, State: a.To, Why: a.Reason.String()}))
					}
					r.trace = append(r.trace, fmt.Sprintf("%s %s→%s %s", sgNames[s.member], a.From, a.To, a.Reason))
					r.queue = append(r.queue, vrrp.MemberTransitioned{Member: s.member, Transition: a})
				case vrrp.RequestMaster:
					r.trace = append(r.trace, sgNames[s.member]+" requests MASTER")
					r.queue = append(r.queue, vrrp.MemberRequestsMaster{Member: s.member, Reason: a.Reason})
				case vrrp.SendAdvert:
					if a.Priority == vrrp.PriorityStop {
						r.trace = append(r.trace, sgNames[s.member]+" sends priority 0")
					}
				}
			}
		case vrrp.GroupEvent:
			r.groupActs(r.g.Handle(s))
		}
	}
}

func (r *sgRig) groupActs(acts []vrrp.GroupAction) {
	for _, a := range acts {
		switch a := a.(type) {
		case vrrp.MemberEvent:
			name := strings.TrimPrefix(fmt.Sprintf("%T", a.Event), "vrrp.")
			r.trace = append(r.trace, "→"+sgNames[a.Member]+" "+name)
			r.queue = append(r.queue, sgMachineStep{a.Member, a.Event})
		case vrrp.MemberWaiting:
			r.trace = append(r.trace, sgNames[a.Member]+" waits for "+sgNames[a.On])
		case vrrp.GroupNotify:
			s := "group " + a.State.String()
			if a.Synced {
				s += " synced"
			}
			r.trace = append(r.trace, s+" ("+a.Why+")")
		}
	}
}

// take returns the trace so far and starts a new one.
func (r *sgRig) take() []string {
	out := r.trace
	r.trace = nil
	return out
}

// start starts every member in group order and fires every member's
// Master_Down_Timer, so that they all become MASTER together.
func (r *sgRig) start() {
	for i := range r.ms {
		r.member(i, vrrp.Startup{})
	}
	for i := range r.ms {
		r.timeout(i)
	}
	r.take()
	for i, m := range r.ms {
		if m.State() != vrrp.StateMaster {
			r.t.Fatalf("set-up: %s is %s", sgNames[i], m.State())
		}
	}
}

func sgCheck(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got  %q\n want %q", what, got, want)
	}
}

// TestSyncGroupStartup: the group's line comes before its first member's
// (keepalived at start-up), and it is not repeated when every member agrees.
func TestSyncGroupStartup(t *testing.T) {
	r := newSGRig(t, 100, 100)
	if r.g.State() != vrrp.StateInit {
		t.Fatalf("new group %s", r.g.State())
	}
	r.member(0, vrrp.Startup{})
	r.member(1, vrrp.Startup{})
	sgCheck(t, "startup", r.take(),
		"group BACKUP (startup)", "IN INIT→BACKUP startup", "OUT INIT→BACKUP startup")
	if r.g.State() != vrrp.StateBackup {
		t.Errorf("group %s", r.g.State())
	}
}

// TestSyncGroupRequestMaster: keepalived's vrrp_sync_can_goto_master. A
// member whose Master_Down_Timer expires waits until every member wants
// MASTER; then the requester moves first and the others follow in group
// order, and the group is notified once, after its last member.
func TestSyncGroupRequestMaster(t *testing.T) {
	r := newSGRig(t, 100, 100, 100)
	for i := range 3 {
		r.member(i, vrrp.Startup{})
	}
	r.take()
	r.timeout(1)
	sgCheck(t, "OUT's timer", r.take(), "OUT requests MASTER", "OUT waits for IN")
	r.timeout(0)
	sgCheck(t, "IN's timer", r.take(), "IN requests MASTER", "IN waits for DMZ")
	if r.ms[0].State() != vrrp.StateBackup || !r.ms[0].WantsMaster() {
		t.Fatalf("a waiting member is %s, wants %v", r.ms[0].State(), r.ms[0].WantsMaster())
	}
	r.timeout(2)
	sgCheck(t, "DMZ's timer", r.take(),
		"DMZ requests MASTER",
		"→DMZ ForceMaster", "→IN ForceMaster", "→OUT ForceMaster",
		"DMZ BACKUP→MASTER master_down", "IN BACKUP→MASTER master_down", "OUT BACKUP→MASTER master_down",
		"group MASTER synced (master_down)")
}

// TestSyncGroupRequestMasterHeardMaster: a member that hears a master
// again no longer wants MASTER, and the group keeps waiting for it.
func TestSyncGroupRequestMasterHeardMaster(t *testing.T) {
	r := newSGRig(t, 100, 100)
	r.member(0, vrrp.Startup{})
	r.member(1, vrrp.Startup{})
	r.timeout(0)
	r.take()
	r.member(0, advRx(200, "192.0.2.99"))
	r.timeout(1)
	sgCheck(t, "OUT's timer", r.take(), "OUT requests MASTER", "OUT waits for IN")
}

// TestSyncGroupLeaveMaster: a member that leaves MASTER for BACKUP pulls
// every other master to BACKUP (keepalived's vrrp_sync_backup), without a
// priority-0 advert; the pulled members do not pull again.
func TestSyncGroupLeaveMaster(t *testing.T) {
	r := newSGRig(t, 100, 100, 100)
	r.start()
	r.member(1, advRx(200, "192.0.2.99"))
	sgCheck(t, "OUT hears a better master", r.take(),
		"OUT MASTER→BACKUP higher_priority",
		"→IN ForceBackup", "→DMZ ForceBackup",
		"IN MASTER→BACKUP forced", "DMZ MASTER→BACKUP forced",
		"group BACKUP synced (forced)")
	for i, m := range r.ms {
		if m.State() != vrrp.StateBackup {
			t.Errorf("%s is %s", sgNames[i], m.State())
		}
	}
}

// TestSyncGroupFault: one member's fault faults the group (Culprit); the
// group is FAULT once every member is, and BACKUP again once every fault
// has cleared. A FAULT member is not pulled, nor forced to MASTER.
func TestSyncGroupFault(t *testing.T) {
	r := newSGRig(t, 100, 100)
	if c := r.g.Culprit([]bool{false, false}); c != -1 {
		t.Errorf("Culprit without fault = %d", c)
	}
	if c := r.g.Culprit([]bool{false, true}); c != 1 {
		t.Errorf("Culprit = %d, want OUT", c)
	}
	r.start()
	// The daemon gives Fault to every member once Culprit names one.
	r.member(1, vrrp.Fault{Reason: vrrp.ReasonInterfaceDown})
	r.member(0, vrrp.Fault{Reason: vrrp.ReasonInterfaceDown})
	sgCheck(t, "fault", r.take(),
		"OUT sends priority 0", "OUT MASTER→FAULT interface_down",
		"IN sends priority 0", "IN MASTER→FAULT interface_down",
		"group FAULT synced (interface_down)")
	r.member(1, vrrp.FaultCleared{})
	sgCheck(t, "one cleared", r.take(), "OUT FAULT→BACKUP fault_cleared")
	r.timeout(1)
	sgCheck(t, "a member in FAULT is waited for", r.take(), "OUT requests MASTER", "OUT waits for IN")
	r.member(0, vrrp.FaultCleared{})
	sgCheck(t, "both cleared", r.take(), "IN FAULT→BACKUP fault_cleared", "group BACKUP synced (fault_cleared)")
}

// TestSyncGroupVIPRemoved: keepalived 2.2.7: a VIP removed behind a
// member's back makes that member and every other master of its group send
// priority 0 and go to BACKUP at Skew_Time, none of them by the pull.
func TestSyncGroupVIPRemoved(t *testing.T) {
	r := newSGRig(t, 100, 100, 100)
	r.start()
	r.member(2, advRx(200, "192.0.2.99")) // pulls the group to BACKUP
	r.member(2, vrrp.ForceMaster{})       // DMZ alone is MASTER again
	r.take()
	r.timeout(0)
	r.timeout(1)
	sgCheck(t, "all want MASTER", r.take(),
		"IN requests MASTER", "IN waits for OUT",
		"OUT requests MASTER", "→OUT ForceMaster", "→IN ForceMaster",
		"OUT BACKUP→MASTER master_down", "IN BACKUP→MASTER master_down",
		"group MASTER synced (master_down)")
	r.group(vrrp.MemberVIPRemoved{Member: 1})
	sgCheck(t, "VIP removed", r.take(),
		"→OUT VIPRemoved", "→IN VIPRemoved", "→DMZ VIPRemoved",
		"OUT sends priority 0", "OUT MASTER→BACKUP vip_removed",
		"IN sends priority 0", "IN MASTER→BACKUP vip_removed",
		"DMZ sends priority 0", "DMZ MASTER→BACKUP vip_removed",
		"group BACKUP synced (vip_removed)")
	skew := rfcSkew(100, time.Second)
	for i, m := range r.ms {
		if dl, _ := m.Deadline(); dl != r.now.Add(skew) {
			t.Errorf("%s: down timer %v, want Skew_Time %v", sgNames[i], dl.Sub(r.now), skew)
		}
	}
}

// TestSyncGroupShutdown: the group is told STOP (StateInit) once its last
// member has stopped.
func TestSyncGroupShutdown(t *testing.T) {
	r := newSGRig(t, 100, 100)
	r.start()
	r.member(0, vrrp.Shutdown{})
	sgCheck(t, "first stops", r.take(), "IN sends priority 0", "IN MASTER→INIT shutdown")
	r.member(1, vrrp.Shutdown{})
	sgCheck(t, "last stops", r.take(), "OUT sends priority 0", "OUT MASTER→INIT shutdown", "group INIT synced (shutdown)")
}

// TestSyncGroupHeld: a member held in FAULT at start-up (a weight-0 script
// has not reported) keeps the group from being notified; when its script
// fails the group is told FAULT after the member; a group already told
// is not told again.
func TestSyncGroupHeld(t *testing.T) {
	r := newSGRig(t, 100, 100)
	r.g.Hold(0, true)
	r.g.Hold(1, true)
	r.firsts = []bool{true, true} // the daemon does not tell held members
	r.member(0, vrrp.Fault{Reason: vrrp.ReasonTrackScript})
	r.member(0, vrrp.Startup{})
	r.member(1, vrrp.Fault{Reason: vrrp.ReasonTrackScript})
	r.member(1, vrrp.Startup{})
	sgCheck(t, "held start", r.take(), "IN INIT→FAULT track_script", "OUT INIT→FAULT track_script")
	r.g.Hold(0, false)
	r.g.Hold(1, false)
	r.group(vrrp.MemberFaultTold{Member: 0, Why: "track_script: chk failed"})
	sgCheck(t, "told", r.take(), "group FAULT (track_script: chk failed)")
	r.group(vrrp.MemberFaultTold{Member: 1, Why: "again"})
	sgCheck(t, "told again", r.take())
}

// TestSyncGroupReload: a group rebuilt over running members takes the
// state they share, and is not notified again for it.
func TestSyncGroupReload(t *testing.T) {
	r := newSGRig(t, 100, 100)
	r.start()
	g := vrrp.NewSyncGroup(r.ms)
	if g.State() != vrrp.StateMaster {
		t.Fatalf("rebuilt group %s", g.State())
	}
	r.g = g
	r.member(0, vrrp.SetPriority{Priority: 90})
	sgCheck(t, "no transition, no line", r.take())
	r.member(0, vrrp.Shutdown{})
	r.take()
	if g := vrrp.NewSyncGroup(r.ms); g.State() != vrrp.StateInit {
		t.Errorf("members in different states: group %s", g.State())
	}
}
