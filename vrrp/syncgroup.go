package vrrp

// SyncGroup is keepalived's vrrp_sync_group as a pure core: the members'
// Machines change state together. It reads its members' states but never
// drives them: Handle takes one GroupEvent and returns GroupActions, among
// them the events each member's Machine must be given (MemberEvent). The
// caller runs a plain work queue: it gives each MemberEvent to its Machine,
// carries out that Machine's actions, and feeds every Transition and
// RequestMaster they contain back as MemberTransitioned /
// MemberRequestsMaster, after the MemberEvents already queued. Handle never
// calls itself, and nothing it returns depends on being run re-entrantly.
//
// The rules, keepalived's:
//
//	event                                   actions, in order
//	MemberRequestsMaster, not all want it   MemberWaiting (the first member that does not)
//	MemberRequestsMaster, all want MASTER   ForceMaster to the requester, then to the other BACKUP members in group order
//	MemberTransitioned MASTER→BACKUP        ForceBackup to every other member still MASTER, in group order
//	MemberTransitioned, all members in      GroupNotify (state INIT: every member stopped)
//	 the new state, none held, and the
//	 group was not in it
//	MemberVIPRemoved                        VIPRemoved to that member and to every other member
//	                                         still MASTER (each leaves with its own priority-0
//	                                         advert and Skew_Time, not pulled by ForceBackup)
//	MemberStarting, group state unknown     GroupNotify (the group's line before its member's)
//	MemberFaultTold, group state unknown    GroupNotify FAULT (after the member's own line)
//
// A fault of any member faults them all: Culprit names the member whose
// fault the others carry. Whether a tracker's weight moves a member's
// priority (sync_group_tracking_weight) is config's rule, applied before the
// trackers reach the loop.
//
// Why pulled members do not pull again: the caller has queued the events of
// one Handle before any Transition they cause comes back, so by the time a
// forced member's MASTER→BACKUP is fed in, no other member is MASTER any more.
type SyncGroup struct {
	members []*Machine
	held    []bool
	state   State
	out     []GroupAction
}

// NewSyncGroup returns the core for members, in group order. The group's
// state is the one its members share (after a reload they may be running),
// or StateInit when they differ: it is not notified again for a state it is
// already in.
func NewSyncGroup(members []*Machine) *SyncGroup {
	g := &SyncGroup{members: members, held: make([]bool, len(members))}
	for i, m := range members {
		if i == 0 {
			g.state = m.State()
		} else if m.State() != g.state {
			g.state = StateInit
		}
	}
	return g
}

// State returns the last state the group was notified in, StateInit before
// the first.
func (g *SyncGroup) State() State { return g.state }

// Hold marks a member whose start-up FAULT has not been told yet (a
// weight-0 script has not reported): the group is not notified of a state
// while any member is held.
func (g *SyncGroup) Hold(member int, held bool) { g.held[member] = held }

// Culprit returns the first member whose own fault (faulted, in group
// order) faults the whole group, or -1 when none is faulted.
func (g *SyncGroup) Culprit(faulted []bool) int {
	for i := range g.members {
		if i < len(faulted) && faulted[i] {
			return i
		}
	}
	return -1
}

// GroupEvent is an input to SyncGroup.Handle.
type GroupEvent interface{ isGroupEvent() }

// MemberRequestsMaster: the member's Machine returned RequestMaster (its
// Master_Down_Timer expired).
type MemberRequestsMaster struct {
	Member int
	Reason Reason
}

// MemberTransitioned: the member's Machine returned this Transition.
type MemberTransitioned struct {
	Member     int
	Transition Transition
}

// MemberVIPRemoved: one of the member's watched virtual addresses was
// removed from the host while it was MASTER.
type MemberVIPRemoved struct {
	Member int
}

// MemberStarting: the member's first state since start-up (State) is about
// to be told to its scripts; Why is passed on to the group's notification.
type MemberStarting struct {
	Member int
	State  State
	Why    string
}

// MemberFaultTold: a member held in FAULT at start-up has just been told
// FAULT because its own script failed; Why is passed on.
type MemberFaultTold struct {
	Member int
	Why    string
}

func (MemberRequestsMaster) isGroupEvent() {}
func (MemberTransitioned) isGroupEvent()   {}
func (MemberVIPRemoved) isGroupEvent()     {}
func (MemberStarting) isGroupEvent()       {}
func (MemberFaultTold) isGroupEvent()      {}

// GroupAction is an output of SyncGroup.Handle.
type GroupAction interface{ isGroupAction() }

// MemberEvent: give Event to the member's Machine.
type MemberEvent struct {
	Member int
	Event  Event
}

// GroupNotify: tell the group's scripts it is now in State (StateInit: all
// members stopped, keepalived's STOP). Why is the reason in words. Synced
// is true when every member has reached State (keepalived logs "Syncing
// instances"), false for the start-up notifications that precede or
// follow a single member's.
type GroupNotify struct {
	State  State
	Why    string
	Synced bool
}

// MemberWaiting: Member wants MASTER but the group waits for On.
type MemberWaiting struct {
	Member, On int
}

func (MemberEvent) isGroupAction()   {}
func (GroupNotify) isGroupAction()   {}
func (MemberWaiting) isGroupAction() {}

// Handle applies one event and returns the actions, in order. The slice is
// reused: it is valid until the next call. It panics on an unknown event or
// a member index out of range, both broken invariants of the caller.
func (g *SyncGroup) Handle(ev GroupEvent) []GroupAction {
	g.out = g.out[:0]
	switch e := ev.(type) {
	case MemberRequestsMaster:
		g.requestMaster(e.Member, e.Reason)
	case MemberTransitioned:
		g.transitioned(e.Member, e.Transition)
	case MemberVIPRemoved:
		g.emit(MemberEvent{Member: e.Member, Event: VIPRemoved{}})
		g.toOthers(e.Member, StateMaster, VIPRemoved{})
	case MemberStarting:
		_ = g.members[e.Member]
		switch e.State {
		case StateBackup, StateFault, StateMaster:
			if g.state == StateInit {
				g.state = e.State
				g.emit(GroupNotify{State: e.State, Why: e.Why})
			}
		}
	case MemberFaultTold:
		_ = g.members[e.Member]
		if g.state == StateInit {
			g.state = StateFault
			g.emit(GroupNotify{State: StateFault, Why: e.Why})
		}
	default:
		panic("vrrp: SyncGroup.Handle: unknown event")
	}
	return g.out
}

// requestMaster: keepalived's vrrp_sync_can_goto_master. The requester
// moves first, then the others in group order (the notify FIFO shows it).
func (g *SyncGroup) requestMaster(member int, reason Reason) {
	_ = g.members[member]
	for i, m := range g.members {
		if !m.WantsMaster() {
			g.emit(MemberWaiting{Member: member, On: i})
			return
		}
	}
	g.emit(MemberEvent{Member: member, Event: ForceMaster{Reason: reason}})
	g.toOthers(member, StateBackup, ForceMaster{Reason: reason})
}

func (g *SyncGroup) transitioned(member int, t Transition) {
	_ = g.members[member]
	if t.From == StateMaster && t.To == StateBackup {
		g.toOthers(member, StateMaster, ForceBackup{Reason: ReasonForced})
	}
	for i, m := range g.members {
		if m.State() != t.To || g.held[i] {
			return // not all there yet, or a start-up FAULT not told yet
		}
	}
	if t.To == g.state {
		return
	}
	g.state = t.To
	g.emit(GroupNotify{State: t.To, Why: t.Reason.String(), Synced: true})
}

// toOthers sends ev to every member but skip that is in state in.
func (g *SyncGroup) toOthers(skip int, in State, ev Event) {
	for i, m := range g.members {
		if i != skip && m.State() == in {
			g.emit(MemberEvent{Member: i, Event: ev})
		}
	}
}

func (g *SyncGroup) emit(a GroupAction) { g.out = append(g.out, a) }
