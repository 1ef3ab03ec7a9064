package daemon

import (
	"net/netip"
	"slices"
	"time"

	"github.com/vigil-ha/vigil/vip"
	"github.com/vigil-ha/vigil/vrrp"
)

// garp_extra_if: while MASTER, every interval one GARP/NA for the first
// address on each interface of the instance's VIPs and excluded VIPs other
// than the one its own VIPs are on (with all), and on that one when it is
// the instance's VMAC and adverts leave from the parent (vmac_xmit_base),
// so that switches on those segments keep the MAC in their caches
// (keepalived's vmac_garp_timer). The first round goes out one interval
// after becoming MASTER.

// extraTarget is one extra interface and the address announced on it.
type extraTarget struct {
	dev  string
	addr netip.Addr
}

// extraIfTargets lists, in configuration order, the interfaces of addrs a
// round goes to, each with the first address on it: every interface but
// self (where the instance's own VIPs are) when all, and self when
// xmitBase.
func extraIfTargets(self string, all, xmitBase bool, addrs []vip.Address) []extraTarget {
	var out []extraTarget
	for _, a := range addrs {
		if a.Dev == self && !xmitBase || a.Dev != self && !all ||
			slices.ContainsFunc(out, func(t extraTarget) bool { return t.dev == a.Dev }) {
			continue
		}
		out = append(out, extraTarget{a.Dev, a.Prefix.Addr()})
	}
	return out
}

// extraTargets is extraIfTargets for inst as it is now.
func (inst *instance) extraTargets() []extraTarget {
	xmitBase := inst.vmac != nil && inst.cfg.UseVMAC != nil && inst.cfg.UseVMAC.XmitBase
	return extraIfTargets(inst.vipIface(), inst.cfg.GARPExtraIfAll, xmitBase, inst.addrs)
}

// scheduleExtraIf plans the first extra-interface round after inst became
// MASTER at now, when garp_extra_if applies to it.
func (inst *instance) scheduleExtraIf(now time.Time) {
	inst.extraAt = time.Time{}
	if inst.cfg.GARPExtraIf > 0 && len(inst.extraTargets()) > 0 {
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
// the next one. On the instance's VMAC the round says the VMAC owns the
// address; elsewhere each interface's own MAC does.
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
	var devs []annDev
	for _, t := range inst.extraTargets() {
		devs = append(devs, annDev{dev: t.dev, addrs: []netip.Addr{t.addr}})
	}
	if len(devs) > 0 {
		d.announceDevs(inst, devs, inst.mac, nil)
	}
}
