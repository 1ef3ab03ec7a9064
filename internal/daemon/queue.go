package daemon

import (
	"time"

	"github.com/vigil-ha/vigil/vrrp"
)

// step is one item of the loop's work queue: an event for an instance's
// machine, or for a sync group's core.
type step struct {
	inst  *instance
	ev    vrrp.Event
	group *syncGroup
	gev   vrrp.GroupEvent
	// An advert, the event of every packet, waits unboxed (isAdvert):
	// made a vrrp.Event only for the call, it needs no allocation.
	advert   vrrp.AdvertReceived
	isAdvert bool
}

// handle gives ev to inst's machine and carries out the actions, then
// everything they lead to (a sync group forcing its members, each member's
// transition fed back to its group), in the order it was queued.
func (d *Daemon) handle(inst *instance, ev vrrp.Event, now time.Time) {
	d.queue = append(d.queue, step{inst: inst, ev: ev})
	d.drain(now)
}

// handleAdvert is handle for an advert, without an allocation.
func (d *Daemon) handleAdvert(inst *instance, ev vrrp.AdvertReceived, now time.Time) {
	d.queue = append(d.queue, step{inst: inst, advert: ev, isAdvert: true})
	d.drain(now)
}

// handleGroup is handle for an event of g's core.
func (d *Daemon) handleGroup(g *syncGroup, ev vrrp.GroupEvent, now time.Time) {
	d.queue = append(d.queue, step{group: g, gev: ev})
	d.drain(now)
}

// drain runs the work queue until it is empty. Executing a step only
// appends to the queue (exec and execGroup never call handle), so drain is
// never re-entered; if it were, an event would be handled inside another's
// actions, the bug this queue exists to prevent.
func (d *Daemon) drain(now time.Time) {
	if d.draining {
		panic("daemon: handle called while the work queue runs")
	}
	d.draining = true
	defer func() { d.draining = false }()
	// Steps are appended while the loop runs: it reads the length each
	// time. The slice keeps its capacity for the next drain.
	for i := 0; i < len(d.queue); i++ {
		s := d.queue[i]
		d.queue[i] = step{}
		switch {
		case s.group != nil:
			d.execGroup(s.group, s.group.core.Handle(s.gev), now)
		case s.isAdvert:
			d.exec(s.inst, s.inst.m.Handle(s.advert, now), now)
		default:
			d.exec(s.inst, s.inst.m.Handle(s.ev, now), now)
		}
	}
	d.queue = d.queue[:0]
}
