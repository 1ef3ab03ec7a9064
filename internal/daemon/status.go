package daemon

import (
	"maps"
	"slices"
	"time"

	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/internal/ctl"
	"github.com/vigil-ha/vigil/vip"
	"github.com/vigil-ha/vigil/vrrp"
)

// Status returns a snapshot of the daemon's state, built by the loop when
// asked (building it on every event cost more than the adverts
// themselves). While the loop is not running it returns the last
// snapshot. Safe for concurrent use.
func (d *Daemon) Status() ctl.Status {
	ch := make(chan ctl.Status, 1)
	select {
	case d.reqs <- func(time.Time) { ch <- d.snapshot() }:
		select {
		case s := <-ch:
			if d.ct != nil && s.Conntrack != nil {
				// Asked here, off the loop: a sync worker's counters
				// as of now, which the loop does not wait for.
				s.Conntrack.Stats = d.ct.freshStats()
			}
			return s
		case <-d.stop:
		}
	case <-d.stop:
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.status
}

// publish stores a snapshot for Status to return once the loop has ended.
func (d *Daemon) publish() {
	s := d.snapshot()
	d.mu.Lock()
	d.status = s
	d.mu.Unlock()
}

// snapshot builds the status from the loop's state; loop only.
func (d *Daemon) snapshot() ctl.Status {
	s := ctl.Status{
		RouterID:         d.cfg.Global.RouterID,
		Time:             time.Now(),
		Reloads:          d.reloads,
		ReloadFailures:   d.reloadFailures,
		ReloadError:      d.reloadError,
		StaticErrors:     d.staticErrors,
		ControlRefused:   d.controlRefused.Load(),
		WorkerStandbys:   d.kw.standbyCount(),
		WorkerJobsOnLoop: d.kw.loopRuns(),
		LVS:              d.lvs.status(),
	}
	for _, inst := range d.instances {
		ic := inst.cfg
		is := ctl.InstanceStatus{
			Name:           ic.Name,
			Interface:      ic.Interface,
			VRID:           ic.VRID,
			Family:         family(ic.IPv6),
			Version:        ic.Version,
			State:          inst.m.State().String(),
			Priority:       int(inst.m.Priority()),
			BasePriority:   ic.Priority,
			Since:          inst.since,
			Reason:         inst.lastReason.String(),
			Transitions:    inst.transitions,
			AdvertsSent:    inst.advertsSent,
			SendErrors:     inst.sendErrors,
			Received:       map[string]uint64{},
			VIPErrors:      inst.vipErrors,
			Announcements:  inst.announceSent,
			AnnounceErrors: inst.announceErrs,
			LastError:      inst.lastErr,
		}
		if inst.group != nil {
			is.Group = inst.group.cfg.Name
		}
		is.Faulted, is.TrackReason = inst.faulted, inst.trackReason
		is.StartupRemoved = ctl.LeftoverCounts{Addresses: inst.leftAddrs, Routes: inst.leftRoutes, Rules: inst.leftRules}
		is.VIPsRemoved, is.VIPsRestored = inst.vipsRemoved, inst.vipsRestored
		is.LowerPriorityAdverts, is.LowerPriorityThrottled = inst.lowerPrio, inst.lowerThrottled
		is.SplitBrainHeals = inst.splitBrainHeals
		is.BecomeMaster, is.ReleaseMaster = inst.becomeMaster, inst.releaseMaster
		is.PriorityZeroSent, is.PriorityZeroReceived = inst.priZeroSent, inst.priZeroRx
		is.Trackers = inst.trackerStatus(d)
		if a, p := inst.m.Master(); a.IsValid() {
			is.Master, is.MasterPriority = a.String(), int(p)
		}
		for _, r := range vrrp.DropReasons() {
			if n := inst.rx[r]; n > 0 {
				is.Received[r.String()] = n
			}
		}
		for i, a := range inst.addrs {
			v := a.Prefix.String() + " dev " + a.Dev
			is.VIPs = append(is.VIPs, v)
			if i >= len(ic.VIPs) { // buildAddrs puts virtual_ipaddress_excluded last
				is.ExcludedVIPs = append(is.ExcludedVIPs, v)
			}
		}
		s.Instances = append(s.Instances, is)
	}
	d.opStatus(&s)
	if m, ok := d.host.VIPs.(interface{ Stats() vip.ManagerStats }); ok {
		s.Addresses = m.Stats()
	}
	if d.ct != nil {
		s.Conntrack = d.ct.status()
	}
	s.Arbiter = d.arbStatus(s.Time)
	if d.notifier != nil {
		s.Notify = d.notifier.Stats()
	}
	s.Mail = d.mailStats()
	s.MailAlerts = d.mailQueued
	s.Tracking = ctl.TrackingStatus{Runner: d.trk.runner.Stats(), Interfaces: maps.Clone(d.trk.ifUp)}
	for _, name := range slices.Sorted(maps.Keys(d.trk.scripts)) {
		sc := d.trk.scripts[name]
		last := ""
		if sc.tracker.Runs() > 0 {
			last = sc.tracker.Last().String()
		}
		s.Tracking.Scripts = append(s.Tracking.Scripts, ctl.ScriptStatus{
			Name: name, State: sc.tracker.State().String(), Runs: sc.tracker.Runs(), Skipped: sc.tracker.Skipped(), Last: last,
			Running: sc.tracker.Running(),
		})
	}
	for _, g := range d.groups {
		gs := ctl.GroupStatus{Name: g.cfg.Name, State: g.core.State().String()}
		for _, m := range g.members {
			gs.Members = append(gs.Members, m.cfg.Name)
		}
		s.Groups = append(s.Groups, gs)
	}
	for _, c := range d.conns {
		s.Sockets = append(s.Sockets, ctl.SocketStatus{
			Interface:   c.key.ifname,
			Family:      family(c.key.ipv6),
			Unicast:     c.key.unicast,
			Source:      c.c.LocalAddr().String(),
			UnknownVRID: c.unknownVRID,
			ReadErrors:  c.readErrors,
			Short:       c.rx[vrrp.DropLength],
			Reopens:     c.reopens,
		})
	}
	return s
}

// trackerStatus lists what inst tracks, its own trackers before its sync
// group's, each kind and name once.
func (inst *instance) trackerStatus(d *Daemon) []ctl.TrackerStatus {
	if d.trk == nil {
		return nil
	}
	own := inst.ownRefs(d, nil)
	refs := inst.groupRefs(d, own)
	var out []ctl.TrackerStatus
	seen := map[[2]string]bool{}
	for i, r := range refs {
		ts := ctl.TrackerStatus{Kind: trackerKind(r.Kind), Name: r.Name, Weight: r.Weight, Reverse: r.Reverse, Group: i >= len(own)}
		k := [2]string{ts.Kind, ts.Name}
		if seen[k] {
			continue
		}
		seen[k] = true
		switch {
		case r.Kind == check.KindFile:
			ts.Value = r.Value
			ts.State = "up"
			if _, fault, _ := check.Priority(check.PriorityMin, []check.Ref{r}); fault {
				ts.State = "down"
			}
		case r.State == check.StateInit && r.Kind == check.KindScript:
			ts.State = "init"
		case r.State == check.StateOK:
			ts.State = "up"
		default:
			ts.State = "down"
		}
		out = append(out, ts)
	}
	return out
}

// trackerKind names a tracker kind in the status document.
func trackerKind(k check.Kind) string {
	switch k {
	case check.KindScript:
		return "script"
	case check.KindInterface:
		return "interface"
	case check.KindFile:
		return "file"
	case check.KindProcess:
		return "process"
	}
	return k.String()
}

func family(v6 bool) string {
	if v6 {
		return "inet6"
	}
	return "inet"
}
