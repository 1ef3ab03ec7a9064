package daemon

import (
	"fmt"
	"time"

	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/notify"
	"github.com/vigil-ha/vigil/vrrp"
)

// syncGroup is a running vrrp_sync_group: its members change state
// together, as keepalived's do.
//
//   - A member whose Master_Down_Timer expires asks (RequestMaster); when
//     every member wants MASTER they are all forced to MASTER.
//   - A member that leaves MASTER for BACKUP pulls the other masters to
//     BACKUP.
//   - A fault of any member (or of the group's own trackers) puts every
//     member in FAULT; the group leaves FAULT when no member is faulted.
type syncGroup struct {
	cfg     *config.SyncGroup
	members []*instance
	state   vrrp.State // last state notified for the group; StateInit before the first
	scripts notify.Scripts
}

// buildGroups links instances to their sync groups.
func (d *Daemon) buildGroups(cfg *config.Config) {
	d.groups = nil
	byName := map[string]*instance{}
	for _, inst := range d.instances {
		byName[inst.cfg.Name] = inst
		inst.group = nil
	}
	for _, gc := range cfg.SyncGroups {
		g := &syncGroup{cfg: gc, scripts: d.notifyScripts(gc.Notify)}
		for _, name := range gc.Members {
			if inst := byName[name]; inst != nil {
				g.members = append(g.members, inst)
				inst.group = g
			}
		}
		if len(g.members) > 0 {
			// After a reload the members may be running: the group is
			// where they all are, so it is not notified again for it.
			g.state = g.members[0].m.State()
			for _, m := range g.members[1:] {
				if m.m.State() != g.state {
					g.state = vrrp.StateInit
				}
			}
			d.groups = append(d.groups, g)
		}
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
	for _, g := range d.groups {
		var culprit *instance
		for _, m := range g.members {
			if v[m].fault {
				culprit = m
				break
			}
		}
		if culprit == nil {
			continue
		}
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
		if x.prio != inst.m.Priority() {
			inst.log.Info(fmt.Sprintf("(%s) Changing effective priority from %d to %d", inst.cfg.Name, inst.m.Priority(), x.prio),
				"reason", x.reason.String())
			d.exec(inst, inst.m.Handle(vrrp.SetPriority{Priority: x.prio, Reason: vrrpReason(x.reason)}, now), now)
			d.notifyPriority(inst, x.reason.String(), now)
		}
		held := d.trk.held[inst.cfg.Name]
		switch {
		case x.fault && !inst.faulted:
			inst.faulted, inst.trackReason = true, x.reason.String()
			if x.reason.Code == check.ReasonInit && inst.m.State() == vrrp.StateInit {
				d.trk.held[inst.cfg.Name] = true // start-up: not notified yet
			}
			d.exec(inst, inst.m.Handle(vrrp.Fault{Reason: vrrpReason(x.reason)}, now), now)
		case !x.fault && inst.faulted:
			delete(d.trk.held, inst.cfg.Name)
			inst.faulted, inst.trackReason = false, ""
			d.exec(inst, inst.m.Handle(vrrp.FaultCleared{}, now), now)
		case x.fault && held && x.reason.Code != check.ReasonInit:
			// The script reported a failure: now the FAULT is news, for
			// the instance whose own script failed, then its group, as
			// keepalived tells it. Members the group pulled into FAULT at
			// start-up are not told (keepalived does not either); their
			// scripts next hear BACKUP when the fault clears.
			delete(d.trk.held, inst.cfg.Name)
			inst.trackReason = x.reason.String()
			if x.own && inst.m.State() == vrrp.StateFault {
				why := vrrpReason(x.reason).String() + ": " + inst.trackReason
				if g := inst.group; g != nil && g.state == vrrp.StateInit {
					g.state = vrrp.StateFault // told below, after the instance
					defer d.notifyGroup(g, notify.StateFault, why, now)
				}
				d.notifyInstance(inst, notify.StateFault, why, now)
			}
		}
	}
}

// notifyGroup tells g's scripts and FIFOs its new state.
func (d *Daemon) notifyGroup(g *syncGroup, state, reason string, now time.Time) {
	if d.notifier == nil {
		return
	}
	d.notifier.Notify(notify.Event{Kind: notify.KindGroup, Name: g.cfg.Name, State: state, Reason: reason, Time: now}, g.scripts)
}

// trackRefs lists what inst tracks: its own interface (unless
// dont_track_primary), its track_* entries and its sync group's.
func (inst *instance) trackRefs(d *Daemon, out []check.Ref) []check.Ref {
	if d.trk == nil {
		return out
	}
	ic := inst.cfg
	ifaces := ic.TrackInterfaces
	if !ic.DontTrackPrimary {
		ifaces = append([]config.TrackRef{{Name: ic.Interface}}, ifaces...)
	}
	out = d.trk.refs(d.cfg, out, ifaces, ic.TrackScripts, ic.TrackFiles, ic.TrackProcesses)
	if g := inst.group; g != nil {
		gc := g.cfg
		out = d.trk.refs(d.cfg, out, gc.TrackInterfaces, gc.TrackScripts, gc.TrackFiles, gc.TrackProcesses)
	}
	return out
}

// requestMaster handles a member's RequestMaster: once every member of
// its group wants MASTER, all of them are forced there.
func (d *Daemon) requestMaster(inst *instance, reason vrrp.Reason, now time.Time) {
	g := inst.group
	if g == nil {
		return
	}
	for _, m := range g.members {
		if !m.m.WantsMaster() {
			inst.log.Debug(fmt.Sprintf("(%s) wants MASTER, waiting for sync group %s member %s", inst.cfg.Name, g.cfg.Name, m.cfg.Name))
			return
		}
	}
	// The requester too: its machine stays BACKUP after RequestMaster and
	// moves only when forced. keepalived moves it first, then syncs the
	// others in group order; the notify FIFO shows that order.
	if d.forcing {
		return
	}
	d.exec(inst, inst.m.Handle(vrrp.ForceMaster{Reason: reason}, now), now)
	d.forceGroup(g, inst, vrrp.ForceMaster{Reason: reason}, now)
}

// forceGroup sends ev to every member of g except skip.
func (d *Daemon) forceGroup(g *syncGroup, skip *instance, ev vrrp.Event, now time.Time) {
	if d.forcing {
		return
	}
	d.forcing = true
	defer func() { d.forcing = false }()
	for _, m := range g.members {
		if m != skip {
			d.exec(m, m.m.Handle(ev, now), now)
		}
	}
}

// groupTransition propagates a member's change to its group and notifies
// the group when all members agree on a new state.
func (d *Daemon) groupTransition(inst *instance, t vrrp.Transition, now time.Time) {
	g := inst.group
	if g == nil {
		return
	}
	if t.From == vrrp.StateMaster && t.To == vrrp.StateBackup {
		d.forceGroup(g, inst, vrrp.ForceBackup{Reason: vrrp.ReasonForced}, now)
	}
	state := t.To
	for _, m := range g.members {
		if m.m.State() != state || d.trk != nil && d.trk.held[m.cfg.Name] {
			return // not all there yet, or a start-up FAULT not told yet
		}
	}
	if state == g.state {
		return
	}
	g.state = state
	word := notifyState(state)
	if state == vrrp.StateInit {
		// Every member stopped (shutdown, or removed by a reload):
		// keepalived tells the group's scripts and FIFOs STOP.
		word = notify.StateStop
	}
	if word == "" {
		return
	}
	d.log.Info(fmt.Sprintf("VRRP_Group(%s) Syncing instances to %s state", g.cfg.Name, state), "group", g.cfg.Name)
	if d.notifier != nil {
		d.notifier.Notify(notify.Event{Kind: notify.KindGroup, Name: g.cfg.Name, State: word, Reason: t.Reason.String(), Time: now}, g.scripts)
	}
}

// groupStarting notifies inst's sync group of its first state before inst
// itself is notified, as keepalived does at start-up (the group's line
// comes before its members'). It acts only on a member's first
// transition (out of INIT at start-up) while the group has no state yet.
func (d *Daemon) groupStarting(inst *instance, state string, reason string, now time.Time) {
	g := inst.group
	if g == nil || g.state != vrrp.StateInit || inst.transitions != 1 || d.notifier == nil {
		return
	}
	switch st := inst.m.State(); st {
	case vrrp.StateBackup, vrrp.StateFault, vrrp.StateMaster:
		if notifyState(st) != state {
			return
		}
		g.state = st
		d.notifier.Notify(notify.Event{Kind: notify.KindGroup, Name: g.cfg.Name, State: state, Reason: reason, Time: now}, g.scripts)
	}
}
