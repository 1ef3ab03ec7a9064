package vip_test

import (
	"errors"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-ha/vigil/vip"
)

func findRoute(rs []ipRoute, dst, table string) (ipRoute, bool) {
	for _, r := range rs {
		t := r.Table
		if t == "" {
			t = "main"
		}
		if r.Dst == dst && t == table {
			return r, true
		}
	}
	return ipRoute{}, false
}

// TestRoutes adds routes with via, dev, src (a VIP), table, metric, scope,
// onlink and the non-unicast types, checks them with iproute2, proves the
// second add is a no-op, removes them (twice) and checks only ours went.
func TestRoutes(t *testing.T) {
	_, h, _, m := oneHost(t)
	a := netip.MustParseAddr
	if err := m.AddAddresses(ctx(t), []vip.Address{
		{Prefix: pfx("192.0.2.10/32"), Dev: "eth0"},
		{Prefix: pfx("2001:db8::10/128"), Dev: "eth0"},
	}); err != nil {
		t.Fatal(err)
	}
	// The administrator's own route, which must survive everything.
	h.Exec(t, "ip", "route", "add", "203.0.113.0/26", "via", "192.0.2.253")

	routes := []vip.Route{
		{Dst: pfx("198.51.100.0/24"), Via: a("192.0.2.254"), Dev: "eth0", Src: a("192.0.2.10"), Metric: 100},
		{Dst: pfx("203.0.113.64/26"), Dev: "eth0", Table: 100},
		{Dst: pfx("203.0.113.128/26"), Type: "blackhole", Table: 100},
		{Dst: pfx("203.0.113.192/26"), Type: "unreachable"},
		{Dst: pfx("0.0.0.0/0"), Via: a("198.51.100.1"), Dev: "eth0", OnLink: true, Table: 200},
		{Dst: pfx("2001:db8:100::/48"), Via: a("2001:db8::fe"), Dev: "eth0", Metric: 50},
		{Dst: pfx("2001:db8:200::/48"), Dev: "eth0", Src: a("2001:db8::10"), Table: 100},
		{Dst: pfx("2001:db8:300::/48"), Type: "prohibit"},
	}
	if err := m.AddRoutes(ctx(t), routes); err != nil {
		t.Fatalf("AddRoutes: %v", err)
	}
	v4, v6 := kernelRoutes(t, h, "-4"), kernelRoutes(t, h, "-6")
	checks := []struct {
		rs                            []ipRoute
		dst, table, typ, gw, dev, src string
		metric                        int
		scope                         string
		onlink                        bool
	}{
		{v4, "198.51.100.0/24", "main", "", "192.0.2.254", "eth0", "192.0.2.10", 100, "", false},
		{v4, "203.0.113.64/26", "100", "", "", "eth0", "", 0, "link", false},
		{v4, "203.0.113.128/26", "100", "blackhole", "", "", "", 0, "", false},
		{v4, "203.0.113.192/26", "main", "unreachable", "", "", "", 0, "", false},
		{v4, "default", "200", "", "198.51.100.1", "eth0", "", 0, "", true},
		{v6, "2001:db8:100::/48", "main", "", "2001:db8::fe", "eth0", "", 50, "", false},
		{v6, "2001:db8:200::/48", "100", "", "", "eth0", "2001:db8::10", 1024, "", false},
		{v6, "2001:db8:300::/48", "main", "prohibit", "", "lo", "", 1024, "", false},
	}
	for _, c := range checks {
		r, ok := findRoute(c.rs, c.dst, c.table)
		if !ok {
			t.Errorf("route %s table %s missing: %+v", c.dst, c.table, c.rs)
			continue
		}
		if r.Type != c.typ || r.Gateway != c.gw || r.Dev != c.dev || r.Prefsrc != c.src ||
			r.Metric != c.metric || r.Scope != c.scope || slices.Contains(r.Flags, "onlink") != c.onlink ||
			r.Protocol != "keepalived" {
			t.Errorf("route %s table %s = %+v; want type=%q gw=%q dev=%q src=%q metric=%d scope=%q onlink=%v proto keepalived",
				c.dst, c.table, r, c.typ, c.gw, c.dev, c.src, c.metric, c.scope, c.onlink)
		}
	}
	if got := m.Stats().RoutesAdded; got != uint64(len(routes)) {
		t.Errorf("RoutesAdded = %d, want %d", got, len(routes))
	}
	if present, err := m.PresentRoutes(ctx(t), routes); err != nil || !reflect.DeepEqual(present, routes) {
		t.Errorf("PresentRoutes = %v, %v", present, err)
	}

	// Idempotent: nothing added, nothing changed.
	if err := m.AddRoutes(ctx(t), routes); err != nil {
		t.Fatalf("second AddRoutes: %v", err)
	}
	if got := m.Stats().RoutesAdded; got != uint64(len(routes)) {
		t.Errorf("RoutesAdded after second add = %d, want %d", got, len(routes))
	}
	if again := kernelRoutes(t, h, "-4"); !reflect.DeepEqual(again, v4) {
		t.Errorf("IPv4 routes changed by the second add:\n%+v\n%+v", v4, again)
	}

	if err := m.RemoveRoutes(ctx(t), routes); err != nil {
		t.Fatalf("RemoveRoutes: %v", err)
	}
	v4, v6 = kernelRoutes(t, h, "-4"), kernelRoutes(t, h, "-6")
	for _, c := range checks {
		rs := v4
		if strings.Contains(c.dst, ":") {
			rs = v6
		}
		if r, ok := findRoute(rs, c.dst, c.table); ok {
			t.Errorf("route %s table %s still present: %+v", c.dst, c.table, r)
		}
	}
	if _, ok := findRoute(v4, "203.0.113.0/26", "main"); !ok {
		t.Errorf("admin route 203.0.113.0/26 removed")
	}
	if _, ok := findRoute(v4, "192.0.2.0/24", "main"); !ok {
		t.Errorf("kernel prefix route 192.0.2.0/24 removed")
	}
	if got := m.Stats().RoutesRemoved; got != uint64(len(routes)) {
		t.Errorf("RoutesRemoved = %d, want %d", got, len(routes))
	}
	if err := m.RemoveRoutes(ctx(t), routes); err != nil {
		t.Errorf("second RemoveRoutes: %v", err)
	}
	if got := m.Stats().RoutesRemoved; got != uint64(len(routes)) {
		t.Errorf("RoutesRemoved after second remove = %d, want %d", got, len(routes))
	}
}

// TestRoutesRetryAndConflict: routes whose interface or source VIP is
// missing come back in a *RouteError marked Retry and succeed once the VIP
// is there; a route whose key is taken by the administrator's route is a
// conflict and the administrator's route is untouched; the good routes in
// the same call are applied.
func TestRoutesRetryAndConflict(t *testing.T) {
	_, h, _, m := oneHost(t)
	a := netip.MustParseAddr
	h.Exec(t, "ip", "route", "add", "203.0.113.0/24", "via", "192.0.2.253")
	good := vip.Route{Dst: pfx("198.51.100.0/25"), Via: a("192.0.2.254")}
	noSrc := vip.Route{Dst: pfx("198.51.100.128/25"), Via: a("192.0.2.254"), Src: a("192.0.2.10")}
	noDev := vip.Route{Dst: pfx("2001:db8:100::/48"), Dev: "nosuch0"}
	conflict := vip.Route{Dst: pfx("203.0.113.0/24"), Via: a("192.0.2.254")}
	err := m.AddRoutes(ctx(t), []vip.Route{good, noSrc, noDev, conflict})
	var re *vip.RouteError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v, want *vip.RouteError", err)
	}
	if got := re.Routes(); !reflect.DeepEqual(got, []vip.Route{noSrc, noDev, conflict}) {
		t.Errorf("failed routes = %v", got)
	}
	if got := re.Retryable(); !reflect.DeepEqual(got, []vip.Route{noSrc, noDev}) {
		t.Errorf("retryable routes = %v", got)
	}
	if !errors.Is(err, vip.ErrNoSource) || !errors.Is(err, vip.ErrNoDevice) || !errors.Is(err, vip.ErrConflict) {
		t.Errorf("err %v should wrap ErrNoSource, ErrNoDevice and ErrConflict", err)
	}
	v4 := kernelRoutes(t, h, "-4")
	if _, ok := findRoute(v4, "198.51.100.0/25", "main"); !ok {
		t.Errorf("good route not added despite the others failing")
	}
	if r, ok := findRoute(v4, "203.0.113.0/24", "main"); !ok || r.Gateway != "192.0.2.253" {
		t.Errorf("admin route damaged: %+v", r)
	}

	// The caller retries once the VIP is in place.
	if err := m.AddAddresses(ctx(t), []vip.Address{{Prefix: pfx("192.0.2.10/32"), Dev: "eth0"}}); err != nil {
		t.Fatal(err)
	}
	if err := m.AddRoutes(ctx(t), []vip.Route{good, noSrc}); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if r, ok := findRoute(kernelRoutes(t, h, "-4"), "198.51.100.128/25", "main"); !ok || r.Prefsrc != "192.0.2.10" {
		t.Errorf("retried route = %+v, %v", r, ok)
	}
	// Removing the conflicting description leaves the admin's route.
	if err := m.RemoveRoutes(ctx(t), []vip.Route{conflict, noDev}); err != nil {
		t.Errorf("RemoveRoutes: %v", err)
	}
	if r, ok := findRoute(kernelRoutes(t, h, "-4"), "203.0.113.0/24", "main"); !ok || r.Gateway != "192.0.2.253" {
		t.Errorf("admin route removed by a non-matching remove: %+v", r)
	}
}
