package vip_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/vigil-ha/vigil/vip"
)

// TestCancelledAndClosed: every reconcile method stops on a cancelled
// context without touching the kernel (each route not reached fails with
// the context's error, not retryable), and a closed Manager refuses all of
// them. The kernel is read with iproute2 afterwards.
func TestCancelledAndClosed(t *testing.T) {
	_, h, _, m := oneHost(t)
	addrs := []vip.Address{{Prefix: pfx("192.0.2.10/32"), Dev: "eth0"}, {Prefix: pfx("192.0.2.11/32"), Dev: "eth0"}}
	routes := []vip.Route{{Dst: pfx("198.51.100.0/24"), Dev: "eth0"}, {Dst: pfx("203.0.113.0/24"), Dev: "eth0"}}
	rules := []vip.Rule{{From: pfx("192.0.2.10/32"), Table: 100}}

	done, cancel := context.WithCancel(context.Background())
	cancel()
	if err := m.AddAddresses(done, addrs); !errors.Is(err, context.Canceled) {
		t.Errorf("AddAddresses on a cancelled context: %v, want context.Canceled", err)
	}
	if _, ok := findAddr(kernelAddrs(t, h, "eth0"), "192.0.2.10", 32); ok {
		t.Error("AddAddresses on a cancelled context added an address")
	}
	err := m.AddRoutes(done, routes)
	var re *vip.RouteError
	if !errors.As(err, &re) || len(re.Failed) != len(routes) {
		t.Fatalf("AddRoutes on a cancelled context: %v, want a RouteError naming every route", err)
	}
	for i, f := range re.Failed {
		if !reflect.DeepEqual(f.Route, routes[i]) || f.Retry || !errors.Is(f.Err, context.Canceled) {
			t.Errorf("failed route %d: %+v, want %v with context.Canceled, no retry", i, f, routes[i])
		}
	}
	if _, ok := findRoute(kernelRoutes(t, h, "-4"), "198.51.100.0/24", "main"); ok {
		t.Error("AddRoutes on a cancelled context added a route")
	}
	if err := m.AddRules(done, rules); !errors.Is(err, context.Canceled) {
		t.Errorf("AddRules on a cancelled context: %v, want context.Canceled", err)
	}
	if got, err := m.Present(done, addrs); len(got) != 0 || !errors.Is(err, context.Canceled) {
		t.Errorf("Present on a cancelled context: %v, %v", got, err)
	}

	// Live, then closed.
	if err := m.AddAddresses(ctx(t), addrs[:1]); err != nil {
		t.Fatal(err)
	}
	if got, err := m.Present(ctx(t), addrs); err != nil || len(got) != 1 || got[0] != addrs[0] {
		t.Fatalf("Present: %v, %v; want only %v", got, err, addrs[0])
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	calls := map[string]error{
		"AddAddresses":    m.AddAddresses(ctx(t), addrs),
		"RemoveAddresses": m.RemoveAddresses(ctx(t), addrs),
		"AddRoutes":       m.AddRoutes(ctx(t), routes),
		"RemoveRoutes":    m.RemoveRoutes(ctx(t), routes),
		"AddRules":        m.AddRules(ctx(t), rules),
		"RemoveRules":     m.RemoveRules(ctx(t), rules),
	}
	_, calls["Present"] = m.Present(ctx(t), addrs)
	_, calls["PresentRoutes"] = m.PresentRoutes(ctx(t), routes)
	_, calls["PresentRules"] = m.PresentRules(ctx(t), rules)
	for name, err := range calls {
		if err == nil {
			t.Errorf("%s on a closed Manager: no error", name)
		}
	}
	if _, ok := findAddr(kernelAddrs(t, h, "eth0"), "192.0.2.11", 32); ok {
		t.Error("a closed Manager added an address")
	}
	if _, ok := findAddr(kernelAddrs(t, h, "eth0"), "192.0.2.10", 32); !ok {
		t.Error("a closed Manager removed an address")
	}
}
