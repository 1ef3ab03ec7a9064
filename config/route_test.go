package config

import (
	"net/netip"
	"slices"
	"testing"
)

// TestRouteAndRuleOptions: src, via (also "gw" and "via inet6"), table by
// name and number in virtual_routes and virtual_rules, with the complaint
// for each bad value and the route or rule it drops.
func TestRouteAndRuleOptions(t *testing.T) {
	a := netip.MustParseAddr
	for _, tc := range []struct {
		name, body string
		routes     []Route // Dst, Src, Via, Table compared
		rules      []Rule  // From, Table compared
		want       []string
	}{
		{"src and via", "    virtual_routes {\n        198.51.100.0/24 src 192.0.2.10 via 192.0.2.1 dev eth0 table main\n    }\n",
			[]Route{{Dst: netip.MustParsePrefix("198.51.100.0/24"), Src: a("192.0.2.10"), Via: a("192.0.2.1"), Table: 254}}, nil, nil},
		{"via inet6, table by number", "    virtual_routes {\n        2001:db8:1::/48 via inet6 2001:db8::1 dev eth0 table 100\n    }\n",
			[]Route{{Dst: netip.MustParsePrefix("2001:db8:1::/48"), Via: a("2001:db8::1"), Table: 100}}, nil, nil},
		{"gw is via", "    virtual_routes {\n        198.51.100.0/24 gw 192.0.2.1 dev eth0\n    }\n",
			[]Route{{Dst: netip.MustParsePrefix("198.51.100.0/24"), Via: a("192.0.2.1")}}, nil,
			[]string{`warning t.conf:5:25: virtual_routes: "gw" for routes is deprecated; use "via" (read as via)`}},
		{"bad src", "    virtual_routes {\n        198.51.100.0/24 src nope dev eth0\n    }\n", nil, nil,
			[]string{`warning t.conf:5:29: virtual_routes: invalid route src address "nope" (route skipped)`}},
		{"bad gw", "    virtual_routes {\n        198.51.100.0/24 gw nope dev eth0\n    }\n", nil, nil,
			[]string{`warning t.conf:5:25: virtual_routes: "gw" for routes is deprecated; use "via" (read as via)`,
				`warning t.conf:5:28: virtual_routes: invalid route via address "nope" (route skipped)`}},
		{"via without address", "    virtual_routes {\n        198.51.100.0/24 dev eth0 via inet\n    }\n", nil, nil,
			[]string{`warning t.conf:5:34: virtual_routes: no parameter after via (route skipped)`}},
		{"mixed families", "    virtual_routes {\n        198.51.100.0/24 via 2001:db8::1 dev eth0\n    }\n", nil, nil,
			[]string{`warning t.conf:5:29: virtual_routes: cannot mix IPv4 and IPv6 addresses in a route (route skipped)`}},
		{"route table unknown", "    virtual_routes {\n        198.51.100.0/24 dev eth0 table nope\n    }\n", nil, nil,
			[]string{`warning t.conf:5:40: virtual_routes: routing table "nope" not found in rt_tables (route skipped)`}},
		{"rule tables", "    virtual_rules {\n        from 192.0.2.10 table local priority 10\n        from 192.0.2.11 lookup 7 priority 11\n        from 192.0.2.12 table nope priority 12\n    }\n",
			nil, []Rule{{From: netip.MustParsePrefix("192.0.2.10/32"), Table: 255}, {From: netip.MustParsePrefix("192.0.2.11/32"), Table: 7}},
			[]string{`warning t.conf:7:31: virtual_rules: routing table "nope" not found in rt_tables (rule skipped)`}},
		{"route prefix length", "    virtual_routes {\n        198.51.100.0/33 dev eth0\n        198.51.100.77/24 dev eth0\n    }\n",
			[]Route{{Dst: netip.MustParsePrefix("198.51.100.0/24")}},
			nil, []string{`warning t.conf:5:9: virtual_routes: invalid prefix length in "198.51.100.0/33" (route skipped)`}},
		{"rule prefixes", "    virtual_rules {\n        from 192.0.2.0/40 table 5 priority 1\n        to nope table 5 priority 2\n        from 192.0.2.7/24 table 5 priority 3\n    }\n",
			nil, []Rule{{From: netip.MustParsePrefix("192.0.2.0/24"), Table: 5}},
			[]string{`warning t.conf:5:14: virtual_rules: invalid rule from address "192.0.2.0/40" (rule skipped)`,
				`warning t.conf:6:12: virtual_rules: invalid rule to address "nope" (rule skipped)`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, complaints, _ := load(t, instConf(tc.body), testOpts())
			if !slices.Equal(complaints, tc.want) {
				t.Errorf("complaints:\n got %q\nwant %q", complaints, tc.want)
			}
			x := cfg.Instances[0]
			if len(x.Routes) != len(tc.routes) {
				t.Fatalf("%d routes, want %d: %+v", len(x.Routes), len(tc.routes), x.Routes)
			}
			for i, w := range tc.routes {
				g := x.Routes[i]
				if g.Dst != w.Dst || g.Src != w.Src || g.Via != w.Via || g.Table != w.Table {
					t.Errorf("route %d: %+v, want %+v", i, g, w)
				}
			}
			if len(x.Rules) != len(tc.rules) {
				t.Fatalf("%d rules, want %d: %+v", len(x.Rules), len(tc.rules), x.Rules)
			}
			for i, w := range tc.rules {
				if g := x.Rules[i]; g.From != w.From || g.Table != w.Table {
					t.Errorf("rule %d: %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

// TestVIPPrefixLength: a bad prefix length on an address falls back to a
// host prefix with a complaint; a bad address is skipped.
func TestVIPPrefixLength(t *testing.T) {
	cfg, complaints, _ := load(t, instConf("    virtual_ipaddress_excluded {\n        192.0.2.20/40\n        nope\n    }\n"), testOpts())
	want := []string{`warning t.conf:5:9: virtual_ipaddress_excluded: invalid prefix length "40" (using /32)`,
		`warning t.conf:6:9: virtual_ipaddress_excluded: "nope" is not a valid IP address (address skipped)`}
	if !slices.Equal(complaints, want) {
		t.Errorf("complaints:\n got %q\nwant %q", complaints, want)
	}
	if x := cfg.Instances[0]; len(x.ExcludedVIPs) != 1 || x.ExcludedVIPs[0].Prefix != netip.MustParsePrefix("192.0.2.20/32") {
		t.Errorf("virtual_ipaddress_excluded %+v, want only 192.0.2.20/32", x.ExcludedVIPs)
	}
}
