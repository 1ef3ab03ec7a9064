package daemon

import (
	"net/netip"
	"slices"
	"time"

	"github.com/vigil-ha/vigil/vip"
	"github.com/vigil-ha/vigil/vrrp"
)

// garp_extra_if all: while MASTER, every interval one GARP/NA on each
// interface of the instance's VIPs and excluded VIPs other than its own,
// for the first address on it, so that switches on those segments keep
// the MAC in their caches (keepalived's vmac_garp_timer). The first round
// goes out one interval after becoming MASTER.

// extraTarget is one extra interface and the address announced on it.
type extraTarget struct {
	dev  string
	addr netip.Addr
}

// extraIfTargets lists, in configuration order, each interface of addrs
// other than ifname with the first address on it.
func extraIfTargets(ifname string, addrs []vip.Address) []extraTarget {
	var out []extraTarget
	for _, a := range addrs {
		if a.Dev == ifname || slices.ContainsFunc(out, func(t extraTarget) bool { return t.dev == a.Dev }) {
			continue
		}
		out = append(out, extraTarget{a.Dev, a.Prefix.Addr()})
	}
	return out
}

// scheduleExtraIf plans the first extra-interface round after inst became
// MASTER at now, when garp_extra_if applies to it.
func (inst *instance) scheduleExtraIf(now time.Time) {
	inst.extraAt = time.Time{}
	if inst.cfg.GARPExtraIf > 0 && len(extraIfTargets(inst.cfg.Interface, inst.addrs)) > 0 {
		inst.extraAt = now.Add(inst.cfg.GARPExtraIf)
	}
}

// extraIfDeadline is when the next extra-interface round is due; none
// unless MASTER.
func (inst *instance) extraIfDeadline() (time.Time, bool) {
	if inst.extraAt.IsZero() || inst.m.State() != vrrp.StateMaster {
		return time.Time{}, false
	}
	return inst.extraAt, true
}

// runExtraIf sends the extra-interface round when it is due, and plans
// the next one.
func (d *Daemon) runExtraIf(inst *instance, now time.Time) {
	due, ok := inst.extraIfDeadline()
	if !ok {
		inst.extraAt = time.Time{}
		return
	}
	if now.Before(due) {
		return
	}
	inst.extraAt = now.Add(inst.cfg.GARPExtraIf)
	for _, t := range extraIfTargets(inst.cfg.Interface, inst.addrs) {
		d.announceOn(inst, t.dev, []netip.Addr{t.addr}, nil)
	}
}
