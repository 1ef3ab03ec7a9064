package vrrp

import (
	"errors"
	"fmt"
)

// PriorityHeld is the effective priority of an instance an operator has
// demoted or put in maintenance: the lowest a backup can have, so that any
// peer wins the election and none is preempted. It is what a keepalived
// user gets from a track_file whose file holds 1 and whose weight brings
// the priority down to 1 (weight -99 for priority 100; keepalived clamps
// the priority to 1..254, and a weighted value of -254 or less would be
// FAULT instead): the router stays BACKUP while a peer speaks, and still
// takes over (Master_Down_Timer) when no peer is left, since serving at
// the lowest priority beats serving nobody.
const PriorityHeld = 1

// Operator is the operator's hold on one instance (vigilctl demote,
// promote, maintenance), a pure core: the daemon asks it what a command
// does, feeds the Machine the events it returns, folds Priority into the
// effective priority it gives SetPriority, and tells it of every
// Transition.
//
// The rules:
//   - demote: only a master (not the address owner, which no peer can
//     outvote) may be demoted. It runs at PriorityHeld and hands over at
//     once (Release: a priority-0 advert, BACKUP with a full
//     Master_Down_Interval). The demotion holds until the instance next
//     becomes MASTER (the peer was lost: Master_Down_Timer, or a sync
//     group's pull) or promote; it is not persisted.
//   - maintenance on: any instance but the owner runs at PriorityHeld; a
//     master hands over as on demote. It holds until maintenance off (the
//     daemon persists it across restarts), even through a mastership
//     taken when the peer was lost.
//   - promote (and maintenance off): the hold ends, the tracked priority
//     comes back. Nothing is forced: a backup whose priority now beats
//     the master's preempts as usual (Preempt_Mode, preempt_delay), and
//     one that does not stays BACKUP.
//
// The zero value holds nothing. Operator holds no clock, socket or
// goroutine; it is not safe for concurrent use.
type Operator struct {
	demoted     bool
	maintenance bool
}

// Operator errors, wrapped with the state in words.
var (
	// ErrNotMaster: demote asked of an instance that is not MASTER.
	ErrNotMaster = errors.New("not master")
	// ErrOwner: the address owner (priority 255) cannot be held back.
	ErrOwner = errors.New("address owner (priority 255) always takes over")
	// ErrNotHeld: promote asked of an instance neither demoted nor in
	// maintenance.
	ErrNotHeld = errors.New("neither demoted nor in maintenance")
)

// Demoted reports whether a demotion is in force.
func (o *Operator) Demoted() bool { return o.demoted }

// Maintenance reports whether maintenance is on.
func (o *Operator) Maintenance() bool { return o.maintenance }

// Priority is the effective priority given the tracked one: PriorityHeld
// while demoted or in maintenance, tracked otherwise.
func (o *Operator) Priority(tracked uint8) uint8 {
	if o.demoted || o.maintenance {
		return PriorityHeld
	}
	return tracked
}

// Reason is why Priority differs from the tracked priority (ReasonNone
// when it does not).
func (o *Operator) Reason() Reason {
	switch {
	case o.maintenance:
		return ReasonMaintenance
	case o.demoted:
		return ReasonDemote
	}
	return ReasonNone
}

// Demote demotes an instance in state st (owner: configured priority
// 255). It returns the event to give the Machine after the new Priority:
// a Release. An instance that is not MASTER, or the owner, is refused and
// nothing changes.
func (o *Operator) Demote(st State, owner bool) (Event, error) {
	if owner {
		return nil, ErrOwner
	}
	if st != StateMaster {
		return nil, fmt.Errorf("%w (%s)", ErrNotMaster, st)
	}
	o.demoted = true
	return Release{Reason: ReasonDemote}, nil
}

// SetMaintenance turns maintenance on or off for an instance in state st.
// On, a master is to hand over: the returned event (a Release, else nil)
// goes to the Machine after the new Priority. The owner is refused.
// Turning off what is off, or on what is on, changes nothing and is no
// error. Off also ends a demotion.
func (o *Operator) SetMaintenance(on bool, st State, owner bool) (Event, error) {
	if !on {
		o.maintenance, o.demoted = false, false
		return nil, nil
	}
	if owner {
		return nil, ErrOwner
	}
	was := o.maintenance
	o.maintenance = true
	if st == StateMaster && !was {
		return Release{Reason: ReasonMaintenance}, nil
	}
	// Already in maintenance and yet master: it took over when the peer
	// was lost, and keeps serving until a peer speaks.
	return nil, nil
}

// Promote ends a demotion and maintenance. It is refused (ErrNotHeld)
// when neither is in force.
func (o *Operator) Promote() error {
	if !o.demoted && !o.maintenance {
		return ErrNotHeld
	}
	o.demoted, o.maintenance = false, false
	return nil
}

// Transitioned tells o of a Transition of its instance: becoming MASTER
// ends a demotion (the peer was lost), not maintenance.
func (o *Operator) Transitioned(t Transition) {
	if t.To == StateMaster {
		o.demoted = false
	}
}
