package daemon

import (
	"fmt"
	"slices"
	"time"

	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/notify"
	"github.com/vigil-ha/vigil/notify/mail"
	"github.com/vigil-ha/vigil/vrrp"
)

// syncGroup is a running vrrp_sync_group: its members change state
// together. The rules are vrrp.SyncGroup's; the loop feeds it the members'
// transitions and requests through its work queue (queue.go) and carries
// out what it returns.
type syncGroup struct {
	cfg     *config.SyncGroup
	members []*instance
	core    *vrrp.SyncGroup
	scripts notify.Scripts
}

// buildGroups links instances to their sync groups.
func (d *Daemon) buildGroups(cfg *config.Config) {
	d.groups = nil
	byName := map[string]*instance{}
	for _, inst := range d.instances {
		byName[inst.cfg.Name] = inst
		inst.group, inst.member = nil, 0
	}
	for _, gc := range cfg.SyncGroups {
		g := &syncGroup{cfg: gc, scripts: d.notifyScripts(gc.Notify)}
		var machines []*vrrp.Machine
		for _, name := range gc.Members {
			if inst := byName[name]; inst != nil {
				inst.group, inst.member = g, len(g.members)
				g.members = append(g.members, inst)
				machines = append(machines, inst.m)
			}
		}
		if len(g.members) > 0 {
			g.core = vrrp.NewSyncGroup(machines)
			for i, m := range g.members {
				g.core.Hold(i, d.trk != nil && d.trk.held[m.cfg.Name])
			}
			d.groups = append(d.groups, g)
		}
	}
}

// setHeld records whether inst's start-up FAULT is still untold, for the
// notifications and for its sync group.
func (t *tracking) setHeld(inst *instance, held bool) {
	if held {
		t.held[inst.cfg.Name] = true
	} else {
		delete(t.held, inst.cfg.Name)
	}
	if g := inst.group; g != nil {
		g.core.Hold(inst.member, held)
	}
}

// evaluate recomputes every instance's effective priority and fault from
// its trackers (and its sync group's) and feeds the changes to the
// machines. It is cheap and idempotent: the loop calls it after any
// tracker change, and at start-up before the instances start.
func (d *Daemon) evaluate(now time.Time) {
	type verdict struct {
		prio   uint8
		fault  bool
		own    bool // the fault is the instance's own, not its group's pull
		reason check.Reason
	}
	v := make(map[*instance]verdict, len(d.instances))
	var refs []check.Ref
	for _, inst := range d.instances {
		refs = inst.trackRefs(d, refs[:0])
		p, f, r := check.Priority(uint8(inst.cfg.Priority), refs)
		v[inst] = verdict{p, f, f, r}
	}
	// A faulted member faults its whole group.
	var own []bool
	for _, g := range d.groups {
		own = own[:0]
		for _, m := range g.members {
			own = append(own, v[m].fault)
		}
		c := g.core.Culprit(own)
		if c < 0 {
			continue
		}
		culprit := g.members[c]
		for _, m := range g.members {
			if !v[m].fault {
				x := v[m]
				x.fault, x.reason = true, v[culprit].reason
				v[m] = x
			}
		}
	}
	for _, inst := range d.instances {
		x := v[inst]
		prio, hold := inst.heldPriority(x.prio)
		if prio != inst.m.Priority() {
			why, vr := x.reason.String(), vrrpReason(x.reason)
			if hold != vrrp.ReasonNone {
				why, vr = hold.String(), hold
			}
			inst.log.Info(fmt.Sprintf("(%s) Changing effective priority from %d to %d", inst.cfg.Name, inst.m.Priority(), prio),
				"reason", why)
			d.handle(inst, vrrp.SetPriority{Priority: prio, Reason: vr}, now)
			d.notifyPriority(inst, why, now)
		}
		held := d.trk.held[inst.cfg.Name]
		switch {
		case x.fault && !inst.faulted:
			inst.faulted, inst.trackReason = true, x.reason.String()
			if x.reason.Code == check.ReasonInit && inst.m.State() == vrrp.StateInit {
				d.trk.setHeld(inst, true) // start-up: not notified yet
			}
			d.handle(inst, vrrp.Fault{Reason: vrrpReason(x.reason)}, now)
		case !x.fault && inst.faulted:
			d.trk.setHeld(inst, false)
			inst.faulted, inst.trackReason = false, ""
			d.handle(inst, vrrp.FaultCleared{}, now)
		case x.fault && held && x.reason.Code != check.ReasonInit:
			// The script reported a failure: now the FAULT is news, for
			// the instance whose own script failed, then its group, as
			// keepalived tells it. Members the group pulled into FAULT at
			// start-up are not told (keepalived does not either); their
			// scripts next hear BACKUP when the fault clears.
			d.trk.setHeld(inst, false)
			inst.trackReason = x.reason.String()
			if x.own && inst.m.State() == vrrp.StateFault {
				why := vrrpReason(x.reason).String() + ": " + inst.trackReason
				if g := inst.group; g != nil {
					// The group takes the state now (so the instance's line
					// is not preceded by a start-up line of the group's) and
					// is told after the instance, once every instance is done.
					acts := slices.Clone(g.core.Handle(vrrp.MemberFaultTold{Member: inst.member, Why: why}))
					defer d.execGroup(g, acts, now)
				}
				d.notifyInstance(inst, notify.StateFault, why, now)
			}
		}
	}
}

// trackRefs lists what inst tracks: its own interface (unless
// dont_track_primary), its track_* entries and its sync group's.
func (inst *instance) trackRefs(d *Daemon, out []check.Ref) []check.Ref {
	if d.trk == nil {
		return out
	}
	out = inst.ownRefs(d, out)
	out = inst.absentRefs(out)
	out = inst.conditionRefs(out)
	return inst.groupRefs(d, out)
}

// ownRefs lists what the instance's own configuration tracks: its
// interface (unless dont_track_primary) and its track_* entries.
func (inst *instance) ownRefs(d *Daemon, out []check.Ref) []check.Ref {
	ic := inst.cfg
	ifaces := ic.TrackInterfaces
	if !ic.DontTrackPrimary {
		ifaces = append([]config.TrackRef{{Name: ic.Interface}}, ifaces...)
	}
	return d.trk.refs(d.cfg, out, ifaces, ic.TrackScripts, ic.TrackFiles, ic.TrackProcesses)
}

// groupRefs lists what inst's sync group tracks (nothing outside one).
func (inst *instance) groupRefs(d *Daemon, out []check.Ref) []check.Ref {
	g := inst.group
	if g == nil {
		return out
	}
	gc := g.cfg
	return d.trk.refs(d.cfg, out, gc.TrackInterfaces, gc.TrackScripts, gc.TrackFiles, gc.TrackProcesses)
}

// execGroup carries out a sync group's actions: member events join the
// loop's work queue, notifications go out now.
func (d *Daemon) execGroup(g *syncGroup, acts []vrrp.GroupAction, now time.Time) {
	for _, a := range acts {
		switch a := a.(type) {
		case vrrp.MemberEvent:
			d.queue = append(d.queue, step{inst: g.members[a.Member], ev: a.Event})
		case vrrp.MemberWaiting:
			m := g.members[a.Member]
			m.log.Debug(fmt.Sprintf("(%s) wants MASTER, waiting for sync group %s member %s", m.cfg.Name, g.cfg.Name, g.members[a.On].cfg.Name))
		case vrrp.GroupNotify:
			word := notifyState(a.State)
			if a.State == vrrp.StateInit {
				// Every member stopped (shutdown, or removed by a reload):
				// keepalived tells the group's scripts and FIFOs STOP.
				word = notify.StateStop
			}
			if word == "" {
				continue
			}
			if a.Synced {
				d.log.Info(fmt.Sprintf("VRRP_Group(%s) Syncing instances to %s state", g.cfg.Name, a.State), "group", g.cfg.Name)
			}
			if d.notifier != nil {
				d.notifier.Notify(notify.Event{Kind: notify.KindGroup, Name: g.cfg.Name, State: word, Reason: a.Why, Time: now}, g.scripts)
			}
			d.mailAlert(mail.KindGroup, g.cfg.Name, g.cfg.SMTPAlert, word)
		}
	}
}

// groupStarting notifies inst's sync group of its first state before inst
// itself is notified, as keepalived does at start-up (the group's line
// comes before its members'). It acts only on a member's first
// transition (out of INIT at start-up).
func (d *Daemon) groupStarting(inst *instance, state string, reason string, now time.Time) {
	g := inst.group
	if g == nil || inst.transitions != 1 || d.notifier == nil {
		return
	}
	if st := inst.m.State(); notifyState(st) == state {
		d.execGroup(g, g.core.Handle(vrrp.MemberStarting{Member: inst.member, State: st, Why: reason}), now)
	}
}
