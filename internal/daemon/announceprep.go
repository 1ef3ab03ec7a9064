package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/vip"
	"github.com/vigil-ha/vigil/vrrp"
)

// interfaceIndexes is what the loop tells the VIP reconciler of link
// changes when it caches interface indexes (vip.Manager does, so that a
// takeover's address addition needs no lookup by name).
type interfaceIndexes interface {
	InterfaceChanged(name string)
	ResolveInterfaces(ctx context.Context, names []string) error
}

var _ interfaceIndexes = (*vip.Manager)(nil)

// linkChanged tells the reconciler's index cache about a link that
// appeared, went or was renamed, and has every backup announcing on it
// open its announcement sockets again (the old ones died with the old
// link). It runs first on a link event, before any delay of
// interface_up_down_delays: an index is a fact, not a state to debounce.
func (d *Daemon) linkChanged(e check.IfaceEvent) {
	switch e.Kind {
	case check.IfaceAdded, check.IfaceRemoved, check.IfaceRenamed:
	default:
		return
	}
	if c, ok := d.host.VIPs.(interfaceIndexes); ok {
		c.InterfaceChanged(e.Name)
		if e.OldName != "" {
			c.InterfaceChanged(e.OldName)
		}
	}
	if e.Kind == check.IfaceRemoved {
		return
	}
	for _, inst := range d.instances {
		if inst.m.State() == vrrp.StateBackup && slices.ContainsFunc(inst.annDevs, func(g annDev) bool { return g.dev == e.Name }) {
			d.prepareAnnounce(inst)
		}
	}
}

// prepareAnnounce hands the worker the opening of the sockets inst's
// announcements will use, and the lookup of its devices' indexes by the
// VIP reconciler that caches them, so that a takeover's first GARP / NA
// round opens no socket and its address addition looks nothing up. It
// is called when inst becomes BACKUP (at start too) and when one of its
// devices is created again. A failure only delays the opening (or the
// lookup) to the takeover itself, which counts and logs its own failures
// as always; it is logged at debug level (an interface that does not
// exist yet is ordinary with dynamic_interfaces), other failures at
// warning level, once per interval.
func (d *Daemon) prepareAnnounce(inst *instance) {
	if len(inst.annDevs) == 0 {
		return
	}
	ann, devs := d.host.Announcer, slices.Clone(inst.annDevs)
	idx, _ := d.host.VIPs.(interfaceIndexes)
	d.kw.submit(func(ctx context.Context) func(time.Time) {
		var errs []error
		names := make([]string, 0, len(devs))
		for _, g := range devs {
			errs = append(errs, ann.Prepare(g.dev, g.addrs))
			names = append(names, g.dev)
		}
		if idx != nil {
			errs = append(errs, idx.ResolveInterfaces(ctx, names))
		}
		err := errors.Join(errs...)
		if err == nil {
			return nil
		}
		return func(now time.Time) {
			if errors.Is(err, vip.ErrNoDevice) {
				inst.log.Debug(fmt.Sprintf("(%s) announcement sockets not opened yet", inst.cfg.Name), "err", err)
				return
			}
			if inst.rl.allow(slog.LevelWarn, "announcement sockets", inst.cfg.Name, "", now) {
				inst.log.Warn(fmt.Sprintf("(%s) cannot open the gratuitous ARP / NA sockets ahead of a takeover; the first round will try again", inst.cfg.Name), "err", err)
			}
		}
	})
}
