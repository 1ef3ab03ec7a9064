package config

import (
	"fmt"
	"time"
)

// maxIfaceDelay is keepalived's bound on an interface_up_down_delays value.
const maxIfaceDelay = 255 * time.Second

// ifaceDelay parses one line of interface_up_down_delays: IF DOWN [UP].
// A later line for the same interface replaces the earlier one, as in
// keepalived.
func (p *parser) ifaceDelay(c *Config, l *line) {
	const kw = "interface_up_down_delays"
	name := l.toks[0]
	if len(l.toks) < 2 {
		p.warn(name.pos, kw, "no delay for "+name.s, "no timeouts specified for %s", name.s)
		return
	}
	if len(l.toks) > 3 {
		p.warn(l.toks[3].pos, kw, "ignored", "too many parameters for %s", name.s)
	}
	if p.opts.InterfaceExists != nil && !p.opts.InterfaceExists(name.s) && !p.ifaceMissing(name.pos, kw, name.s, func() {
		p.fatal(name.pos, kw, "vigild does not start", "unknown interface %s specified for up/down delay", name.s)
	}) {
		return
	}
	d := IfaceDelay{Pos: l.pos(), Interface: name.s}
	var ok bool
	if d.Down, ok = p.delayWord(l, 1, name.s, "down"); !ok {
		return
	}
	if len(l.toks) > 2 {
		if d.Up, ok = p.delayWord(l, 2, name.s, "up"); !ok {
			return
		}
	}
	for i, o := range c.IfaceDelays {
		if o.Interface == d.Interface {
			c.IfaceDelays[i] = d
			return
		}
	}
	c.IfaceDelays = append(c.IfaceDelays, d)
}

func (p *parser) delayWord(l *line, i int, ifname, which string) (time.Duration, bool) {
	t := l.toks[i]
	d, err := parseSeconds(t.s)
	if err != nil || d < 0 || d > maxIfaceDelay {
		p.warn(t.pos, "interface_up_down_delays", "no delay for "+ifname, "invalid %s delay %q for %s: not a time in [0, %s] seconds", which, t.s, ifname, secs(maxIfaceDelay))
		return 0, false
	}
	return d, true
}

// resolveIfaceDelays bounds each interface's delays as keepalived does: a
// delay must stay below (down_timer_adverts - 1) advert intervals of every
// instance on the interface, or a peer would take over before the link
// change were seen; a longer one is cut to that less 1/256 of the
// interval, and with down_timer_adverts 1 there can be none. Each cut is
// a warning at the delay's line.
func (p *parser) resolveIfaceDelays(c *Config) {
	for i := range c.IfaceDelays {
		d := &c.IfaceDelays[i]
		for _, x := range c.Instances {
			if x.Interface != d.Interface || d.Down == 0 && d.Up == 0 {
				continue
			}
			if x.DownTimerAdverts <= 1 {
				p.warn(d.Pos, "interface_up_down_delays", "delays reset to 0",
					"(%s) cannot use debounce timers with down_timer_adverts = 1", x.Name)
				d.Down, d.Up = 0, 0
				continue
			}
			limit := time.Duration(x.DownTimerAdverts-1) * x.AdvertInterval
			for _, v := range []*time.Duration{&d.Down, &d.Up} {
				if *v >= limit {
					cut := limit - x.AdvertInterval/256
					p.warn(d.Pos, "interface_up_down_delays", fmt.Sprintf("using %ss", secs(cut)),
						"(%s) interface %s debounce timer not less than %d * advert_int", x.Name, d.Interface, x.DownTimerAdverts-1)
					*v = cut
				}
			}
		}
	}
}
