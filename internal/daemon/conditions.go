package daemon

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/vigil-ha/vigil/check"
)

// The conditions the daemon checks itself, beside the trackers the
// configuration names: each holds an instance in FAULT while it lasts, as
// keepalived's do.

// noPeerFault is the cause, in words, of the FAULT that
// unicast_fault_no_peer asks for when no unicast peer is configured.
const noPeerFault = "no unicast peers (unicast_fault_no_peer)"

// conditionRefs appends inst's conditions that hold now, as weight-0
// failed trackers for check.Priority.
func (inst *instance) conditionRefs(out []check.Ref) []check.Ref {
	if inst.cfg.UnicastNoPeerFault {
		out = append(out, check.Ref{Kind: check.KindCondition, Name: noPeerFault, State: check.StateFailed})
	}
	if inst.cfg.TrackSrcIP && inst.srcGone {
		out = append(out, check.Ref{Kind: check.KindCondition, Name: srcGoneCause(inst), State: check.StateFailed})
	}
	return out
}

func srcGoneCause(inst *instance) string {
	return fmt.Sprintf("source address %s missing from %s (track_src_ip)", connKeyOf(inst.cfg, "").src, inst.cfg.Interface)
}

// initConditions sets what inst's conditions are when it is built, and
// logs those that hold it in FAULT. A track_src_ip address counts as
// present when it is on any local interface (Host.LocalAddrs; without
// that lookup, always): the interface events then say when it leaves or
// comes back on the instance's interface.
func (d *Daemon) initConditions(inst *instance) {
	ic := inst.cfg
	if ic.UnicastNoPeerFault {
		inst.log.Info(fmt.Sprintf("(%s) Cannot use unicast without any peers - going to fault state", ic.Name))
	}
	if !ic.TrackSrcIP || d.host.LocalAddrs == nil {
		return
	}
	local, err := d.host.LocalAddrs()
	if err != nil {
		inst.log.Warn(fmt.Sprintf("(%s) track_src_ip: cannot list the local addresses; the source address counts as present", ic.Name), "err", err)
		return
	}
	src := connKeyOf(ic, "").src
	inst.srcGone = !slices.ContainsFunc(local, func(a netip.Addr) bool { return a.WithZone("") == src })
	if inst.srcGone {
		inst.log.Info(fmt.Sprintf("(%s) %s - going to fault state", ic.Name, srcGoneCause(inst)))
	}
}

// srcAddrEvent follows the track_src_ip addresses: an address event on
// an instance's interface for its configured source marks it present or
// gone. It reports whether any instance's condition changed.
func (d *Daemon) srcAddrEvent(e check.IfaceEvent) bool {
	if e.Kind != check.AddrAdded && e.Kind != check.AddrRemoved {
		return false
	}
	changed := false
	for _, inst := range d.instances {
		ic := inst.cfg
		if !ic.TrackSrcIP || e.Name != ic.Interface || e.Addr.Addr().WithZone("") != connKeyOf(ic, "").src {
			continue
		}
		gone := e.Kind == check.AddrRemoved
		if gone != inst.srcGone {
			inst.srcGone = gone
			changed = true
		}
	}
	return changed
}
