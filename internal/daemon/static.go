package daemon

import (
	"context"
	"reflect"

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

// applyStatics installs want and removes what old had that want has not.
func (d *Daemon) applyStatics(old, want statics) {
	ctx, cancel := context.WithTimeout(context.Background(), netlinkTimeout)
	defer cancel()
	gone := statics{
		addrs:  missing(old.addrs, want.addrs),
		routes: missing(old.routes, want.routes),
		rules:  missing(old.rules, want.rules),
	}
	d.staticErr(d.host.VIPs.RemoveRules(ctx, gone.rules))
	d.staticErr(d.host.VIPs.RemoveRoutes(ctx, gone.routes))
	d.staticErr(d.host.VIPs.RemoveAddresses(ctx, gone.addrs))
	d.staticErr(d.host.VIPs.AddAddresses(ctx, want.addrs))
	d.staticErr(d.host.VIPs.AddRoutes(ctx, want.routes))
	d.staticErr(d.host.VIPs.AddRules(ctx, want.rules))
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
