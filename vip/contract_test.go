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

// reconcilerContract is the vip.Reconciler contract as one test body, run
// over the real Manager in a namespace and over viptest.Kernel. r must have
// an interface "eth0" and none of the addresses, routes and rules used here.
func reconcilerContract(t *testing.T, r vip.Reconciler) {
	c := context.Background()
	p := netip.MustParsePrefix
	a := netip.MustParseAddr
	want := []vip.Address{
		{Prefix: p("198.51.100.10/32"), Dev: "eth0"},
		{Prefix: p("198.51.100.20/24"), Dev: "eth0", BroadcastAuto: true},
		{Prefix: p("2001:db8:5::10/128"), Dev: "eth0"},
	}
	present := func(as []vip.Address) []vip.Address {
		t.Helper()
		got, err := r.Present(c, as)
		if err != nil {
			t.Fatalf("Present: %v", err)
		}
		return got
	}

	// Add, then add again: both succeed, everything present.
	for i := range 2 {
		if err := r.AddAddresses(c, want); err != nil {
			t.Fatalf("AddAddresses #%d: %v", i+1, err)
		}
		if got := present(want); !reflect.DeepEqual(got, want) {
			t.Fatalf("Present after add #%d = %v", i+1, got)
		}
	}
	// A missing interface fails that entry only.
	missing := vip.Address{Prefix: p("198.51.100.30/32"), Dev: "nosuch0"}
	other := vip.Address{Prefix: p("198.51.100.31/32"), Dev: "eth0"}
	if err := r.AddAddresses(c, []vip.Address{missing, other}); !errors.Is(err, vip.ErrNoDevice) {
		t.Errorf("add on missing interface: %v, want ErrNoDevice", err)
	}
	if got := present([]vip.Address{missing, other}); !reflect.DeepEqual(got, []vip.Address{other}) {
		t.Errorf("Present = %v, want only %v", got, other)
	}
	// IPv6 with another prefix length conflicts; bad entries are invalid.
	if err := r.AddAddresses(c, []vip.Address{{Prefix: p("2001:db8:5::10/64"), Dev: "eth0"}}); !errors.Is(err, vip.ErrConflict) {
		t.Errorf("IPv6 prefix-length conflict: %v, want ErrConflict", err)
	}
	if err := r.AddAddresses(c, []vip.Address{{Prefix: p("198.51.100.40/32"), Dev: "eth0", Scope: "galaxy"}}); !errors.Is(err, vip.ErrInvalid) {
		t.Errorf("bad scope: %v, want ErrInvalid", err)
	}

	// Routes: a missing source VIP or interface is retryable, a taken key is
	// a conflict, and the retry succeeds once the VIP is there.
	r1 := vip.Route{Dst: p("203.0.113.0/24"), Via: a("198.51.100.1"), Src: a("198.51.100.99")}
	r2 := vip.Route{Dst: p("203.0.113.0/24"), Via: a("198.51.100.2")}
	r3 := vip.Route{Dst: p("203.0.113.128/25"), Dev: "nosuch0"}
	err := r.AddRoutes(c, []vip.Route{r1, r3})
	var re *vip.RouteError
	if !errors.As(err, &re) || !reflect.DeepEqual(re.Retryable(), []vip.Route{r1, r3}) ||
		!errors.Is(err, vip.ErrNoSource) || !errors.Is(err, vip.ErrNoDevice) {
		t.Fatalf("AddRoutes without the source VIP: %v", err)
	}
	src := vip.Address{Prefix: p("198.51.100.99/32"), Dev: "eth0"}
	if err := r.AddAddresses(c, []vip.Address{src}); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := r.AddRoutes(c, []vip.Route{r1}); err != nil {
			t.Fatalf("AddRoutes #%d: %v", i+1, err)
		}
	}
	if got, err := r.PresentRoutes(c, []vip.Route{r1, r2, r3}); err != nil || !reflect.DeepEqual(got, []vip.Route{r1}) {
		t.Errorf("PresentRoutes = %v, %v", got, err)
	}
	err = r.AddRoutes(c, []vip.Route{r2})
	if !errors.As(err, &re) || !errors.Is(err, vip.ErrConflict) || len(re.Retryable()) != 0 {
		t.Errorf("conflicting route: %v, want a non-retryable ErrConflict", err)
	}
	for i := range 2 {
		if err := r.RemoveRoutes(c, []vip.Route{r1, r2, r3}); err != nil {
			t.Fatalf("RemoveRoutes #%d: %v", i+1, err)
		}
	}
	if got, _ := r.PresentRoutes(c, []vip.Route{r1}); len(got) != 0 {
		t.Errorf("route still present: %v", got)
	}

	// Rules.
	rule := vip.Rule{From: p("198.51.100.10/32"), Table: 100, Priority: 100}
	for i := range 2 {
		if err := r.AddRules(c, []vip.Rule{rule}); err != nil {
			t.Fatalf("AddRules #%d: %v", i+1, err)
		}
	}
	if got, err := r.PresentRules(c, []vip.Rule{rule}); err != nil || len(got) != 1 {
		t.Errorf("PresentRules = %v, %v", got, err)
	}
	for i := range 2 {
		if err := r.RemoveRules(c, []vip.Rule{rule}); err != nil {
			t.Fatalf("RemoveRules #%d: %v", i+1, err)
		}
	}
	if got, _ := r.PresentRules(c, []vip.Rule{rule}); len(got) != 0 {
		t.Errorf("rule still present: %v", got)
	}

	// Remove everything, twice; absent and missing-interface entries are fine.
	all := append(want, other, src, missing)
	for i := range 2 {
		if err := r.RemoveAddresses(c, all); err != nil {
			t.Fatalf("RemoveAddresses #%d: %v", i+1, err)
		}
	}
	if got := present(all); len(got) != 0 {
		t.Errorf("still present after remove: %v", got)
	}
}

func TestContractViptest(t *testing.T) {
	k := viptest.NewKernel("eth0")
	reconcilerContract(t, k)
	if len(k.Addresses()) != 0 || len(k.Routes()) != 0 || len(k.Rules()) != 0 {
		t.Errorf("twin not empty at the end: %v %v %v", k.Addresses(), k.Routes(), k.Rules())
	}
}

// vmacContract is the vip.VMACs contract as one test body, run over the
// real Manager in a namespace and over viptest.Kernel: r has an interface
// "eth0" and an interface "other0" that is not a VMAC, and no VMAC yet.
func vmacContract(t *testing.T, r interface {
	vip.VMACs
	vip.Reconciler
}) {
	c := context.Background()
	v := vip.VMAC{Name: "vrrp.61", Parent: "eth0", VRID: 61}
	idx, err := r.EnsureVMAC(c, v)
	if err != nil || idx <= 0 {
		t.Fatalf("EnsureVMAC = %d, %v", idx, err)
	}
	if again, err := r.EnsureVMAC(c, v); err != nil || again != idx {
		t.Errorf("EnsureVMAC again = %d, %v; want %d, nil", again, err, idx)
	}
	// The same name for another VRID is not this VMAC.
	if _, err := r.EnsureVMAC(c, vip.VMAC{Name: "vrrp.61", Parent: "eth0", VRID: 62}); !errors.Is(err, vip.ErrConflict) {
		t.Errorf("EnsureVMAC with another VRID: %v, want ErrConflict", err)
	}
	for _, bad := range []vip.VMAC{
		{Name: "other0", Parent: "eth0", VRID: 63},
	} {
		if _, err := r.EnsureVMAC(c, bad); !errors.Is(err, vip.ErrConflict) {
			t.Errorf("EnsureVMAC %+v: %v, want ErrConflict", bad, err)
		}
	}
	if _, err := r.EnsureVMAC(c, vip.VMAC{Name: "vrrp.64", Parent: "nosuch0", VRID: 64}); !errors.Is(err, vip.ErrNoDevice) {
		t.Errorf("EnsureVMAC without parent: %v, want ErrNoDevice", err)
	}
	if _, err := r.EnsureVMAC(c, vip.VMAC{Name: "../x", Parent: "eth0", VRID: 65}); !errors.Is(err, vip.ErrInvalid) {
		t.Errorf("EnsureVMAC named ../x: %v, want ErrInvalid", err)
	}
	// An address on it goes with it.
	a := vip.Address{Prefix: netip.MustParsePrefix("198.51.100.61/32"), Dev: "vrrp.61"}
	if err := r.AddAddresses(c, []vip.Address{a}); err != nil {
		t.Fatalf("AddAddresses on the VMAC: %v", err)
	}
	if err := r.RemoveVMAC(c, "other0"); !errors.Is(err, vip.ErrConflict) {
		t.Errorf("RemoveVMAC of another interface: %v, want ErrConflict", err)
	}
	for i := range 2 {
		if err := r.RemoveVMAC(c, "vrrp.61"); err != nil {
			t.Fatalf("RemoveVMAC #%d: %v", i+1, err)
		}
	}
	if got, err := r.Present(c, []vip.Address{a}); err != nil || len(got) != 0 {
		t.Errorf("address on the removed VMAC: %v, %v", got, err)
	}
	if err := r.AddAddresses(c, []vip.Address{a}); !errors.Is(err, vip.ErrNoDevice) {
		t.Errorf("AddAddresses on the removed VMAC: %v, want ErrNoDevice", err)
	}
}

func TestVMACContractViptest(t *testing.T) {
	vmacContract(t, viptest.NewKernel("eth0", "other0", "other1"))
}
