package vip_test

import (
	"context"
	"errors"
	"net/netip"
	"reflect"
	"testing"

	"github.com/vigil-ha/vigil/vip"
	"github.com/vigil-ha/vigil/vip/viptest"
)

// leftoversContract is RemoveLeftovers as one test body over a Reconciler
// that has an interface "eth0" and nothing of what is used here.
func leftoversContract(t *testing.T, r vip.Reconciler) {
	c := context.Background()
	p := netip.MustParsePrefix
	stale := vip.Address{Prefix: p("198.51.100.10/24"), Dev: "eth0"}
	stale6 := vip.Address{Prefix: p("2001:db8:5::10/64"), Dev: "eth0", NoDAD: true}
	absent := vip.Address{Prefix: p("198.51.100.11/32"), Dev: "eth0"}
	noDev := vip.Address{Prefix: p("198.51.100.12/32"), Dev: "nosuch0"}
	unnamed := vip.Address{Prefix: p("198.51.100.20/32"), Dev: "eth0"} // a static, say
	route := vip.Route{Dst: p("203.0.113.0/24"), Dev: "eth0", Table: 100}
	rule := vip.Rule{From: p("198.51.100.10/32"), Table: 100, Priority: 1000}
	if err := r.AddAddresses(c, []vip.Address{stale, stale6, unnamed}); err != nil {
		t.Fatal(err)
	}
	if err := r.AddRoutes(c, []vip.Route{route}); err != nil {
		t.Fatal(err)
	}
	if err := r.AddRules(c, []vip.Rule{rule}); err != nil {
		t.Fatal(err)
	}
	l := vip.Leftovers{
		Addresses: []vip.Address{absent, stale, noDev, stale6},
		Routes:    []vip.Route{route},
		Rules:     []vip.Rule{rule},
	}
	got, err := vip.RemoveLeftovers(c, r, l)
	if err != nil {
		t.Fatalf("RemoveLeftovers: %v", err)
	}
	want := vip.Leftovers{Addresses: []vip.Address{stale, stale6}, Routes: []vip.Route{route}, Rules: []vip.Rule{rule}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("removed %+v\nwant    %+v", got, want)
	}
	if left, _ := r.Present(c, []vip.Address{stale, stale6, unnamed}); !reflect.DeepEqual(left, []vip.Address{unnamed}) {
		t.Errorf("after: present %v, want only the unnamed %v", left, unnamed)
	}
	if left, _ := r.PresentRoutes(c, []vip.Route{route}); len(left) != 0 {
		t.Errorf("route still present")
	}
	if left, _ := r.PresentRules(c, []vip.Rule{rule}); len(left) != 0 {
		t.Errorf("rule still present")
	}
	// Again: nothing left to remove.
	if got, err := vip.RemoveLeftovers(c, r, l); err != nil || got.Len() != 0 {
		t.Errorf("second run removed %+v, %v", got, err)
	}
	if err := r.RemoveAddresses(c, []vip.Address{unnamed}); err != nil {
		t.Fatal(err)
	}
}

func TestLeftoversViptest(t *testing.T) {
	k := viptest.NewKernel("eth0")
	leftoversContract(t, k)

	// An entry that cannot be removed is reported, not counted.
	c := context.Background()
	a := vip.Address{Prefix: netip.MustParsePrefix("198.51.100.30/32"), Dev: "eth0"}
	b := vip.Address{Prefix: netip.MustParsePrefix("198.51.100.31/32"), Dev: "eth0"}
	if err := k.AddAddresses(c, []vip.Address{a, b}); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	k.FailOn(a.Prefix, boom)
	got, err := vip.RemoveLeftovers(c, k, vip.Leftovers{Addresses: []vip.Address{a, b}})
	if !errors.Is(err, boom) {
		t.Errorf("err = %v, want boom", err)
	}
	if !reflect.DeepEqual(got.Addresses, []vip.Address{b}) {
		t.Errorf("removed %v, want only %v", got.Addresses, b)
	}
}
