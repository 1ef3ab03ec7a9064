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

// sgStep is one step of a scenario: do, then the trace it must produce
// and, when set, a check of the states after it.
type sgStep struct {
	what  string
	do    func(r *sgRig)
	want  []string
	check func(t *testing.T, r *sgRig)
}

func sgMember(i int, ev vrrp.Event) func(*sgRig) { return func(r *sgRig) { r.member(i, ev) } }
func sgTimeout(i int) func(*sgRig)               { return func(r *sgRig) { r.timeout(i) } }
func sgGroup(ev vrrp.GroupEvent) func(*sgRig)    { return func(r *sgRig) { r.group(ev) } }

// sgStates checks every member's state.
func sgStates(want ...vrrp.State) func(*testing.T, *sgRig) {
	return func(t *testing.T, r *sgRig) {
		t.Helper()
		for i, m := range r.ms {
			if m.State() != want[i] {
				t.Errorf("%s is %s, want %s", sgNames[i], m.State(), want[i])
			}
		}
	}
}

// sgAllMaster starts every member and makes the group MASTER (traced
// nothing: set-up).
var sgAllMaster = sgStep{"set-up: all MASTER", func(r *sgRig) { r.start() }, nil, nil}

// sgStartBackup starts every member as BACKUP, the group told BACKUP.
func sgStartBackup(n int) sgStep {
	want := []string{"group BACKUP (startup)"}
	for i := range n {
		want = append(want, sgNames[i]+" INIT→BACKUP startup")
	}
	return sgStep{"startup", func(r *sgRig) {
		for i := range n {
			r.member(i, vrrp.Startup{})
		}
	}, want, nil}
}

var (
	sB, sM, sF, sI = vrrp.StateBackup, vrrp.StateMaster, vrrp.StateFault, vrrp.StateInit
	sgFaultIface   = vrrp.Fault{Reason: vrrp.ReasonInterfaceDown}
)

// sgScenarios are the rules vigild's sync groups follow, keepalived's.
var sgScenarios = []struct {
	name, rule string
	prios      []uint8
	steps      []sgStep
}{
	{"startup", "keepalived: the group's line comes before its first member's; agreement is not told again",
		[]uint8{100, 100}, []sgStep{sgStartBackup(2)}},
	{"request master", "keepalived vrrp_sync_can_goto_master: wait until every member wants MASTER; then the requester, then the others in group order",
		[]uint8{100, 100, 100}, []sgStep{
			sgStartBackup(3),
			{"OUT's timer", sgTimeout(1), []string{"OUT requests MASTER", "OUT waits for IN"}, sgStates(sB, sB, sB)},
			{"IN's timer", sgTimeout(0), []string{"IN requests MASTER", "IN waits for DMZ"}, sgStates(sB, sB, sB)},
			{"DMZ's timer", sgTimeout(2), []string{
				"DMZ requests MASTER",
				"→DMZ ForceMaster", "→IN ForceMaster", "→OUT ForceMaster",
				"DMZ BACKUP→MASTER master_down", "IN BACKUP→MASTER master_down", "OUT BACKUP→MASTER master_down",
				"group MASTER synced (master_down)"}, sgStates(sM, sM, sM)},
		}},
	{"request master, a member heard a master", "a member that hears a master again no longer wants MASTER",
		[]uint8{100, 100}, []sgStep{
			sgStartBackup(2),
			{"IN's timer", sgTimeout(0), []string{"IN requests MASTER", "IN waits for OUT"}, nil},
			{"IN hears a master", sgMember(0, advRx(200, "192.0.2.99")), nil, nil},
			{"OUT's timer", sgTimeout(1), []string{"OUT requests MASTER", "OUT waits for IN"}, sgStates(sB, sB)},
		}},
	{"leave master", "keepalived vrrp_sync_backup: a member leaving MASTER for BACKUP pulls the other masters, without priority 0; the pulled do not pull again",
		[]uint8{100, 100, 100}, []sgStep{
			sgAllMaster,
			{"OUT hears a better master", sgMember(1, advRx(200, "192.0.2.99")), []string{
				"OUT MASTER→BACKUP higher_priority",
				"→IN ForceBackup", "→DMZ ForceBackup",
				"IN MASTER→BACKUP forced", "DMZ MASTER→BACKUP forced",
				"group BACKUP synced (forced)"}, sgStates(sB, sB, sB)},
		}},
	{"fault", "keepalived: one member's fault faults the group; FAULT once all are, BACKUP once all have cleared; a FAULT member is waited for",
		[]uint8{100, 100}, []sgStep{
			sgAllMaster,
			{"OUT's interface, then IN by the group", func(r *sgRig) { r.member(1, sgFaultIface); r.member(0, sgFaultIface) }, []string{
				"OUT sends priority 0", "OUT MASTER→FAULT interface_down",
				"IN sends priority 0", "IN MASTER→FAULT interface_down",
				"group FAULT synced (interface_down)"}, sgStates(sF, sF)},
			{"OUT cleared", sgMember(1, vrrp.FaultCleared{}), []string{"OUT FAULT→BACKUP fault_cleared"}, nil},
			{"OUT's timer", sgTimeout(1), []string{"OUT requests MASTER", "OUT waits for IN"}, sgStates(sF, sB)},
			{"IN cleared", sgMember(0, vrrp.FaultCleared{}), []string{"IN FAULT→BACKUP fault_cleared", "group BACKUP synced (fault_cleared)"}, nil},
		}},
	{"vip removed", "keepalived 2.2.7: a VIP removed behind a member's back sends that member and every other master to BACKUP with priority 0 and Skew_Time, none by the pull",
		[]uint8{100, 100, 100}, []sgStep{
			sgAllMaster,
			{"DMZ alone MASTER again", func(r *sgRig) {
				r.member(2, advRx(200, "192.0.2.99"))
				r.member(2, vrrp.ForceMaster{})
				r.take()
			}, nil, sgStates(sB, sB, sM)},
			{"IN's and OUT's timers", func(r *sgRig) { r.timeout(0); r.timeout(1) }, []string{
				"IN requests MASTER", "IN waits for OUT",
				"OUT requests MASTER", "→OUT ForceMaster", "→IN ForceMaster",
				"OUT BACKUP→MASTER master_down", "IN BACKUP→MASTER master_down",
				"group MASTER synced (master_down)"}, sgStates(sM, sM, sM)},
			{"OUT's VIP removed", sgGroup(vrrp.MemberVIPRemoved{Member: 1}), []string{
				"→OUT VIPRemoved", "→IN VIPRemoved", "→DMZ VIPRemoved",
				"OUT sends priority 0", "OUT MASTER→BACKUP vip_removed",
				"IN sends priority 0", "IN MASTER→BACKUP vip_removed",
				"DMZ sends priority 0", "DMZ MASTER→BACKUP vip_removed",
				"group BACKUP synced (vip_removed)"}, func(t *testing.T, r *sgRig) {
				skew := rfcSkew(100, time.Second)
				for i, m := range r.ms {
					if dl, _ := m.Deadline(); dl != r.now.Add(skew) {
						t.Errorf("%s: down timer %v, want Skew_Time %v", sgNames[i], dl.Sub(r.now), skew)
					}
				}
			}},
		}},
	{"shutdown", "keepalived: the group is told STOP once its last member has stopped",
		[]uint8{100, 100}, []sgStep{
			sgAllMaster,
			{"IN stops", sgMember(0, vrrp.Shutdown{}), []string{"IN sends priority 0", "IN MASTER→INIT shutdown"}, nil},
			{"OUT stops", sgMember(1, vrrp.Shutdown{}), []string{"OUT sends priority 0", "OUT MASTER→INIT shutdown", "group INIT synced (shutdown)"}, sgStates(sI, sI)},
		}},
	{"held", "keepalived: members in FAULT before a weight-0 script's first result are not told, nor is the group; a failure is told to the member, then the group, once",
		[]uint8{100, 100}, []sgStep{
			{"held start", func(r *sgRig) {
				r.g.Hold(0, true)
				r.g.Hold(1, true)
				r.firsts = []bool{true, true} // the daemon does not tell held members
				for i := range 2 {
					r.member(i, vrrp.Fault{Reason: vrrp.ReasonTrackScript})
					r.member(i, vrrp.Startup{})
				}
			}, []string{"IN INIT→FAULT track_script", "OUT INIT→FAULT track_script"}, sgStates(sF, sF)},
			{"IN's script failed", func(r *sgRig) {
				r.g.Hold(0, false)
				r.g.Hold(1, false)
				r.group(vrrp.MemberFaultTold{Member: 0, Why: "track_script: chk failed"})
			}, []string{"group FAULT (track_script: chk failed)"}, nil},
			{"told again", sgGroup(vrrp.MemberFaultTold{Member: 1, Why: "again"}), nil, nil},
			{"a later start-up line", sgGroup(vrrp.MemberStarting{Member: 1, State: vrrp.StateFault, Why: "again"}), nil, nil},
		}},
	{"reload", "a group rebuilt over running members takes the state they share and is not told it again",
		[]uint8{100, 100}, []sgStep{
			sgAllMaster,
			{"rebuilt", func(r *sgRig) { r.g = vrrp.NewSyncGroup(r.ms) }, nil, func(t *testing.T, r *sgRig) {
				if r.g.State() != vrrp.StateMaster {
					t.Errorf("rebuilt group %s", r.g.State())
				}
			}},
			{"a priority change", sgMember(0, vrrp.SetPriority{Priority: 90}), nil, nil},
			{"rebuilt over different states", func(r *sgRig) { r.member(0, vrrp.Shutdown{}); r.take(); r.g = vrrp.NewSyncGroup(r.ms) }, nil,
				func(t *testing.T, r *sgRig) {
					if r.g.State() != vrrp.StateInit {
						t.Errorf("members in different states: group %s", r.g.State())
					}
				}},
		}},
}

// TestSyncGroupScenarios runs sgScenarios through the work queue the
// daemon runs, checking every trace line in order.
func TestSyncGroupScenarios(t *testing.T) {
	for _, sc := range sgScenarios {
		t.Run(sc.name, func(t *testing.T) {
			r := newSGRig(t, sc.prios...)
			if r.g.State() != vrrp.StateInit {
				t.Fatalf("new group %s", r.g.State())
			}
			for _, st := range sc.steps {
				st.do(r)
				if got := r.take(); !slices.Equal(got, st.want) {
					t.Errorf("%s (%s):\n got  %q\n want %q", st.what, sc.rule, got, st.want)
				}
				if st.check != nil {
					st.check(t, r)
				}
			}
		})
	}
}

// TestSyncGroupCulprit: the first faulted member, in group order, faults
// the group.
func TestSyncGroupCulprit(t *testing.T) {
	g := newSGRig(t, 100, 100, 100).g
	for _, tc := range []struct {
		faulted []bool
		want    int
	}{
		{[]bool{false, false, false}, -1},
		{[]bool{false, true, true}, 1},
		{[]bool{true, false, true}, 0},
		{nil, -1},
	} {
		if got := g.Culprit(tc.faulted); got != tc.want {
			t.Errorf("Culprit(%v) = %d, want %d", tc.faulted, got, tc.want)
		}
	}
}
