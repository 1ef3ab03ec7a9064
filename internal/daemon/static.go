package daemon

import (
	"context"
	"reflect"
	"time"

	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/vip"
)

// statics are static_ipaddress, static_routes and static_rules: installed
// when the daemon starts whatever the VRRP states, reconciled on reload,
// removed when it stops, as keepalived does.
type statics struct {
	addrs  []vip.Address
	routes []vip.Route
	rules  []vip.Rule
}

func staticsOf(cfg *config.Config) statics {
	var s statics
	for _, a := range cfg.StaticAddresses {
		dev := a.Dev
		if dev == "" {
			dev = cfg.Global.DefaultInterface
		}
		s.addrs = append(s.addrs, vipAddress(a, dev))
	}
	for _, r := range cfg.StaticRoutes {
		s.routes = append(s.routes, vipRoute(r))
	}
	for _, r := range cfg.StaticRules {
		s.rules = append(s.rules, vipRule(r))
	}
	return s
}

// applyStatics hands the worker the installation of want and the removal
// of what old had that want has not.
func (d *Daemon) applyStatics(old, want statics) {
	gone := statics{
		addrs:  missing(old.addrs, want.addrs),
		routes: missing(old.routes, want.routes),
		rules:  missing(old.rules, want.rules),
	}
	vips := d.host.VIPs
	d.kw.submit(func(ctx context.Context) func(time.Time) {
		errs := []error{
			vips.RemoveRules(ctx, gone.rules),
			vips.RemoveRoutes(ctx, gone.routes),
			vips.RemoveAddresses(ctx, gone.addrs),
			vips.AddAddresses(ctx, want.addrs),
			vips.AddRoutes(ctx, want.routes),
			vips.AddRules(ctx, want.rules),
		}
		return func(time.Time) {
			for _, err := range errs {
				d.staticErr(err)
			}
		}
	})
}

func (d *Daemon) staticErr(err error) {
	if err != nil {
		d.staticErrors++
		d.log.Error("static address, route or rule change failed", "err", err)
	}
}

// missing returns the elements of old that are not in want.
func missing[T any](old, want []T) []T {
	var out []T
	for _, o := range old {
		found := false
		for _, w := range want {
			if reflect.DeepEqual(o, w) {
				found = true
				break
			}
		}
		if !found {
			out = append(out, o)
		}
	}
	return out
}
