package daemon

import (
	"context"
	"fmt"
	"net"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/vip"
	"github.com/vigil-ha/vigil/vrrp"
)

// vipLogEvery bounds the lines about one VIP removed behind a master's back
// (and put back): at most one per VIP per this interval, however often it
// happens. The counters count every time.
const vipLogEvery = 10 * time.Second

// removeLeftovers runs once, when the daemon starts and before any instance
// does: it removes every virtual address (virtual_ipaddress and
// virtual_ipaddress_excluded), virtual route and virtual rule of every
// instance that is still on the host. They can only be left over from an
// earlier run that did not stop cleanly (SIGKILL, a crash): a BACKUP must not
// hold them, or the segment's ARP and neighbour caches keep pointing at it
// while the real master holds them too. keepalived 2.2.7 does the same at
// start-up (never on reload), with these log lines. An instance that becomes
// MASTER adds them back through the normal path. Statics are not touched: an
// entry that is also a static_ipaddress, static_routes or static_rules line
// is left alone.
func (d *Daemon) removeLeftovers() {
	for _, inst := range d.instances {
		ic := inst.cfg
		if len(inst.rules) > 0 {
			inst.log.Info(fmt.Sprintf("(%s) removing Virtual Rules", ic.Name))
		}
		if len(inst.routes) > 0 {
			inst.log.Info(fmt.Sprintf("(%s) removing Virtual Routes", ic.Name))
		}
		if len(ic.VIPs) > 0 {
			inst.log.Info(fmt.Sprintf("(%s) removing VIPs.", ic.Name))
		}
		if len(ic.ExcludedVIPs) > 0 {
			inst.log.Info(fmt.Sprintf("(%s) removing E-VIPs.", ic.Name))
		}
		l := vip.Leftovers{
			Addresses: slices.DeleteFunc(slices.Clone(inst.addrs), func(a vip.Address) bool {
				return slices.ContainsFunc(d.statics.addrs, func(s vip.Address) bool { return vip.Relate(a, s) == vip.Same })
			}),
			Routes: missing(inst.routes, d.statics.routes),
			Rules:  missing(inst.rules, d.statics.rules),
		}
		vips := d.host.VIPs
		d.kw.submit(func(ctx context.Context) func(time.Time) {
			removed, err := vip.RemoveLeftovers(ctx, vips, l)
			return func(time.Time) { inst.leftoversRemoved(removed, err) }
		})
	}
}

// leftoversRemoved counts and logs what removeLeftovers found of inst's.
func (inst *instance) leftoversRemoved(removed vip.Leftovers, err error) {
	if err != nil {
		inst.vipError(err)
	}
	inst.leftAddrs += uint64(len(removed.Addresses))
	inst.leftRoutes += uint64(len(removed.Routes))
	inst.leftRules += uint64(len(removed.Rules))
	if removed.Len() == 0 {
		return
	}
	var names []string
	for _, a := range removed.Addresses {
		names = append(names, a.Prefix.String()+" dev "+a.Dev)
	}
	inst.log.Warn(fmt.Sprintf("(%s) removed %d virtual addresses, %d routes and %d rules left on the host by an earlier run",
		inst.cfg.Name, len(removed.Addresses), len(removed.Routes), len(removed.Rules)), "addresses", strings.Join(names, ", "))
}

// buildWatched lists the addresses whose removal behind a master's back makes
// it act: every VIP and excluded VIP without no_track.
func (inst *instance) buildWatched() {
	inst.watched = inst.watched[:0]
	for _, list := range [][]config.Address{inst.cfg.VIPs, inst.cfg.ExcludedVIPs} {
		for _, a := range list {
			if a.NoTrack {
				continue
			}
			inst.watched = append(inst.watched, vipAddress(a, inst.vipDev(a)))
		}
	}
	// A reload may have dropped a lost VIP: it is no longer ours to restore.
	inst.lost = slices.DeleteFunc(inst.lost, func(a vip.Address) bool {
		return !slices.ContainsFunc(inst.watched, func(b vip.Address) bool { return reflect.DeepEqual(a, b) })
	})
}

// addrRemoved looks at an address removal the interface watcher reported:
// when it is one of a master's watched VIPs, the master handles the loss.
func (d *Daemon) addrRemoved(e check.IfaceEvent, now time.Time) {
	if e.Kind != check.AddrRemoved {
		return
	}
	for _, inst := range d.instances {
		if inst.m.State() != vrrp.StateMaster {
			continue
		}
		if slices.ContainsFunc(inst.watched, func(a vip.Address) bool {
			return a.Dev == e.Name && a.Prefix.Addr() == e.Addr.Addr()
		}) {
			d.checkVIPs(inst, now)
		}
	}
}

// checkVIPs asks the kernel which of a master's watched VIPs are gone and,
// if any is, does what keepalived 2.2.7 does when a VIP is deleted while
// MASTER: the instance (and every other master of its sync group) sends a
// priority-0 advert, releases its VIPs and goes to BACKUP with its
// Master_Down_Timer at Skew_Time, so that it takes over again and puts every
// VIP back unless a router of higher priority speaks first
// (vrrp.VIPRemoved). The kernel is asked rather than the event believed: the
// event may be stale (our own removal before a quick return to MASTER), and
// an interface that is down or gone is left to interface tracking.
func (d *Daemon) checkVIPs(inst *instance, now time.Time) {
	vips, iface, watched := d.host.VIPs, d.host.Interface, slices.Clone(inst.watched)
	d.kw.submitAs(checkJobKey{inst}, []any{checkJobKey{inst}}, func(ctx context.Context) func(time.Time) {
		there, err := vips.Present(ctx, watched)
		if err != nil {
			return func(time.Time) { inst.vipError(err) }
		}
		var gone []vip.Address
		for _, a := range watched {
			if slices.ContainsFunc(there, func(b vip.Address) bool { return reflect.DeepEqual(a, b) }) {
				continue
			}
			if ifi, err := iface(a.Dev); err != nil || ifi.Flags&(net.FlagUp|net.FlagRunning) != net.FlagUp|net.FlagRunning {
				continue
			}
			gone = append(gone, a)
		}
		return func(now time.Time) { d.vipsGone(inst, gone, now) }
	})
}

// vipsGone acts on what checkVIPs found, unless inst has left MASTER in
// the meantime (its VIPs are then meant to be gone).
func (d *Daemon) vipsGone(inst *instance, gone []vip.Address, now time.Time) {
	if len(gone) == 0 || inst.m.State() != vrrp.StateMaster {
		return
	}
	for _, a := range gone {
		inst.vipsRemoved++
		if !slices.ContainsFunc(inst.lost, func(b vip.Address) bool { return reflect.DeepEqual(a, b) }) {
			inst.lost = append(inst.lost, a)
		}
		if inst.logVIP("removed "+a.String()+" "+a.Dev, now) {
			inst.log.Warn(fmt.Sprintf("(%s) VIP %s was removed from %s while MASTER; releasing MASTER to take it back", inst.cfg.Name, a.Prefix, a.Dev),
				"removed_while_master", inst.vipsRemoved)
		}
	}
	// Every master of the group leaves with its own priority-0 advert and
	// Skew_Time, as keepalived's do, not by the group's usual pull.
	if g := inst.group; g != nil {
		d.handleGroup(g, vrrp.MemberVIPRemoved{Member: inst.member}, now)
		return
	}
	d.handle(inst, vrrp.VIPRemoved{}, now)
}

// restored counts the VIPs lost while MASTER that addVIPs has just put
// back (back: those of inst.lost the kernel now has).
func (d *Daemon) restored(inst *instance, back []vip.Address, now time.Time) {
	for _, a := range back {
		inst.vipsRestored++
		if inst.logVIP("restored "+a.String()+" "+a.Dev, now) {
			inst.log.Info(fmt.Sprintf("(%s) VIP %s restored on %s", inst.cfg.Name, a.Prefix, a.Dev), "restored", inst.vipsRestored)
		}
	}
	inst.lost = slices.DeleteFunc(inst.lost, func(a vip.Address) bool {
		return slices.ContainsFunc(back, func(b vip.Address) bool { return reflect.DeepEqual(a, b) })
	})
}

// logVIP reports whether a line about key may be logged now: at most one
// per key per vipLogEvery.
func (inst *instance) logVIP(key string, now time.Time) bool {
	if last, ok := inst.vipLogged[key]; ok && now.Sub(last) < vipLogEvery {
		return false
	}
	if inst.vipLogged == nil {
		inst.vipLogged = map[string]time.Time{}
	}
	inst.vipLogged[key] = now
	return true
}
