package daemon

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/internal/linkdelay"
)

// linkDelays maps cfg's interface_up_down_delays for linkdelay.
func linkDelays(cfg *config.Config) map[string]linkdelay.Delays {
	out := make(map[string]linkdelay.Delays, len(cfg.IfaceDelays))
	for _, d := range cfg.IfaceDelays {
		out[d.Interface] = linkdelay.Delays{Down: d.Down, Up: d.Up}
	}
	return out
}

// setLinkDelays builds or updates the link filter for cfg: each delayed
// interface starts from its state now (up counts as seen up).
func (d *Daemon) setLinkDelays(cfg *config.Config) {
	delays := linkDelays(cfg)
	if d.links == nil {
		d.links = linkdelay.New(delays)
	} else {
		d.links.SetDelays(delays)
	}
	for name := range delays {
		d.links.Seed(name, ifaceUp(d.host, name))
	}
}

// linkEvent handles one event of the interface watcher: sockets on a
// recreated interface are reopened, a master's removed VIP is noticed,
// ha_suspend follows the local addresses no instance lists, and a link's change of state reaches the trackers, at once or, with
// interface_up_down_delays, once it has lasted (a shorter flap never
// does).
func (d *Daemon) linkEvent(e check.IfaceEvent, now time.Time) {
	d.linkChanged(e)
	opened := d.ifaceChanged(e)
	d.addrRemoved(e, now)
	d.lvs.addrEvent(e)
	changed := d.srcAddrEvent(e)
	switch e.Kind {
	case check.IfaceAdded, check.IfaceUp, check.IfaceDown:
		switch v := d.links.Link(e.Name, e.Up, now); v {
		case linkdelay.Held:
			up, due, _ := d.links.Pending(e.Name)
			if d.rateLogs().allow(slog.LevelInfo, "link changes delayed", e.Name, "", now) {
				d.log.Info(fmt.Sprintf("%s: link %s, acted on in %v unless it changes back (interface_up_down_delays)", e.Name, upDown(up), due.Sub(now)))
			}
			return
		case linkdelay.Cancelled:
			if d.rateLogs().allow(slog.LevelInfo, "link delays cancelled", e.Name, "", now) {
				d.log.Info(fmt.Sprintf("Delay timer for %s cancelled: the link is %s again", e.Name, upDown(e.Up)))
			}
			return
		}
	case check.IfaceRemoved:
		d.links.Removed(e.Name)
	}
	if d.trk.ifaceEvent(e) {
		changed = true
	}
	if changed || opened {
		d.evaluate(now)
	}
}

// fireLinks acts on the held link changes whose delay has run out.
func (d *Daemon) fireLinks(now time.Time) {
	changed := false
	for _, c := range d.links.Fire(now) {
		kind := check.IfaceDown
		if c.Up {
			kind = check.IfaceUp
		}
		if d.trk.ifaceEvent(check.IfaceEvent{Kind: kind, Name: c.Name, Up: c.Up}) {
			changed = true
		}
	}
	if changed {
		d.evaluate(now)
	}
}

func upDown(up bool) string {
	if up {
		return "up"
	}
	return "down"
}
