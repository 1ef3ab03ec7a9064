package vip_test

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/vigil-ha/vigil/vip"
)

// TestOptionsValidate: the checks on route and rule options that vip makes
// before the kernel sees them, each on both sides.
func TestOptionsValidate(t *testing.T) {
	dst := netip.MustParsePrefix("198.51.100.0/24")
	hop := func(via string) vip.NextHop { return vip.NextHop{Via: netip.MustParseAddr(via)} }
	from := netip.MustParsePrefix("192.0.2.0/24")
	cases := []struct {
		name string
		v    interface{ Validate() error }
		ok   bool
	}{
		{"multipath route", vip.Route{Dst: dst, NextHops: []vip.NextHop{hop("192.0.2.1"), hop("192.0.2.2")}}, true},
		{"multipath route with a via of its own", vip.Route{Dst: dst, Via: netip.MustParseAddr("192.0.2.3"), NextHops: []vip.NextHop{hop("192.0.2.1")}}, false},
		{"nexthop of another family", vip.Route{Dst: dst, NextHops: []vip.NextHop{hop("2001:db8::1")}}, false},
		{"nexthop without via or dev", vip.Route{Dst: dst, NextHops: []vip.NextHop{{Weight: 2}}}, false},
		{"nexthop weight 256", vip.Route{Dst: dst, NextHops: []vip.NextHop{{Dev: "eth0", Weight: 256}}}, true},
		{"nexthop weight 257", vip.Route{Dst: dst, NextHops: []vip.NextHop{{Dev: "eth0", Weight: 257}}}, false},
		{"blackhole with nexthops", vip.Route{Dst: dst, Type: "blackhole", NextHops: []vip.NextHop{hop("192.0.2.1")}}, false},
		{"protocol 255", vip.Route{Dst: dst, Dev: "eth0", Protocol: 255}, true},
		{"protocol 256", vip.Route{Dst: dst, Dev: "eth0", Protocol: 256}, false},
		{"goto rule", vip.Rule{From: from, Goto: 10}, true},
		{"goto rule with a table", vip.Rule{From: from, Goto: 10, Table: 100}, false},
		{"goto rule with suppress_prefixlength", vip.Rule{From: from, Goto: 10, HasSuppressPrefixLen: true}, false},
		{"rule without table or goto", vip.Rule{From: from}, false},
		{"blackhole rule", vip.Rule{From: from, Type: "blackhole"}, true},
		{"blackhole rule with a table", vip.Rule{From: from, Type: "blackhole", Table: 100}, false},
		{"rule type nat", vip.Rule{From: from, Type: "nat"}, false},
		{"port range 80-80", vip.Rule{From: from, Table: 100, Dport: vip.PortRange{Start: 80, End: 80}}, true},
		{"port range 81-80", vip.Rule{From: from, Table: 100, Dport: vip.PortRange{Start: 81, End: 80}}, false},
		{"uid range 5-4", vip.Rule{From: from, Table: 100, UIDRange: vip.UIDRange{Start: 5, End: 4}, HasUIDRange: true}, false},
		{"suppress_prefixlength 128", vip.Rule{From: from, Table: 100, SuppressPrefixLen: 128, HasSuppressPrefixLen: true}, true},
		{"suppress_prefixlength 129", vip.Rule{From: from, Table: 100, SuppressPrefixLen: 129, HasSuppressPrefixLen: true}, false},
	}
	for _, c := range cases {
		err := c.v.Validate()
		if c.ok && err != nil {
			t.Errorf("%s: %v, want valid", c.name, err)
		}
		if !c.ok && !errors.Is(err, vip.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", c.name, err)
		}
	}
}
