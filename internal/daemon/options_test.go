package daemon

import (
	"net/netip"
	"reflect"
	"testing"

	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/vip"
	"github.com/vigil-ha/vigil/vrrp"
)

// nonZeroFields fails the test when a field of v is its zero value, so
// that a field added to vip's types must be added to the mapping tests.
func nonZeroFields(t *testing.T, v any, except ...string) {
	t.Helper()
	rv := reflect.ValueOf(v)
	skip := map[string]bool{}
	for _, e := range except {
		skip[e] = true
	}
	for i := range rv.NumField() {
		if f := rv.Type().Field(i); !skip[f.Name] && rv.Field(i).IsZero() {
			t.Errorf("%T.%s is zero: the mapping test does not cover it", v, f.Name)
		}
	}
}

// TestVIPMapping: every resolved option of a config address, route and
// rule reaches the vip type the Manager installs.
func TestVIPMapping(t *testing.T) {
	lft := 0
	a := config.Address{Prefix: netip.MustParsePrefix("192.0.2.20/24"), Broadcast: netip.MustParseAddr("192.0.2.255"),
		BroadcastAuto: true, Scope: "link", Label: "eth0:v", Peer: netip.MustParsePrefix("192.0.2.21/24"), NoDAD: true,
		NoPrefixRoute: true, Home: true, MngTmpAddr: true, AutoJoin: true, PreferredLft: &lft}
	wantA := vip.Address{Prefix: a.Prefix, Dev: "eth0", Broadcast: a.Broadcast, BroadcastAuto: true, Scope: "link",
		Label: "eth0:v", Peer: a.Peer, NoDAD: true, NoPrefixRoute: true, Home: true, MngTmpAddr: true, AutoJoin: true,
		PreferredLft: &lft}
	nonZeroFields(t, wantA)
	if got := vipAddress(a, "eth0"); !reflect.DeepEqual(got, wantA) {
		t.Errorf("vipAddress:\n got %+v\nwant %+v", got, wantA)
	}

	m := config.RouteMetrics{MTU: 1, MTULock: true, AdvMSS: 2, Window: 3, RTT: 4, RTTVar: 5, Ssthresh: 6, Cwnd: 7,
		Hoplimit: 8, Reordering: 9, InitCwnd: 10, InitRwnd: 11, RTOMin: 12, RTOMinLock: true, QuickACK: 1,
		Features: 1, Congctl: "reno", FastOpenNoCookie: 1}
	nonZeroFields(t, m)
	r := config.Route{Dst: netip.MustParsePrefix("198.51.100.0/24"), Src: netip.MustParseAddr("192.0.2.20"),
		Via: netip.MustParseAddr("192.0.2.254"), Dev: "eth0", Table: 100, Metric: 7, Scope: "link", Type: "unicast",
		OnLink: true, Protocol: 4, Tos: 0x10, Realm: 1<<16 | 2, Metrics: m,
		NextHops: []config.NextHop{{Via: netip.MustParseAddr("192.0.2.252"), Dev: "eth1", Weight: 2, OnLink: true}}}
	wantR := vip.Route{Dst: r.Dst, Src: r.Src, Via: r.Via, Dev: "eth0", Table: 100, Metric: 7, Scope: "link",
		Type: "unicast", OnLink: true, Protocol: 4, Tos: 0x10, Realm: 1<<16 | 2,
		Metrics: vip.RouteMetrics{MTU: 1, MTULock: true, AdvMSS: 2, Window: 3, RTT: 4, RTTVar: 5, Ssthresh: 6, Cwnd: 7,
			Hoplimit: 8, Reordering: 9, InitCwnd: 10, InitRwnd: 11, RTOMin: 12, RTOMinLock: true, QuickACK: 1,
			Features: 1, Congctl: "reno", FastOpenNoCookie: 1},
		NextHops: []vip.NextHop{{Via: netip.MustParseAddr("192.0.2.252"), Dev: "eth1", Weight: 2, OnLink: true}}}
	nonZeroFields(t, wantR)
	if got := vipRoute(r); !reflect.DeepEqual(got, wantR) {
		t.Errorf("vipRoute:\n got %+v\nwant %+v", got, wantR)
	}

	u := config.Rule{From: netip.MustParsePrefix("192.0.2.0/24"), To: netip.MustParsePrefix("198.51.100.0/24"),
		IPv6: true, Table: 100, Preference: 10, IIF: "eth0", OIF: "eth1", FWMark: 1, FWMask: 0xff, Not: true, Goto: 20, Type: "nop",
		Tos: 0x10, Realm: 3<<16 | 4, IPProto: 6, Sport: [2]uint16{1, 2}, Dport: [2]uint16{3, 4},
		UIDRange: [2]uint32{5, 6}, HasUIDRange: true, SuppressPrefixLen: 1, HasSuppressPrefixLen: true,
		SuppressIfGroup: 2, HasSuppressIfGroup: true, Protocol: 4}
	wantU := vip.Rule{From: u.From, To: u.To, IPv6: true, Table: 100, Priority: 10, IIF: "eth0", OIF: "eth1",
		FwMark: 1, FwMask: 0xff, Not: true, Goto: 20, Type: "nop", Tos: 0x10, Realm: 3<<16 | 4, IPProto: 6,
		Sport: vip.PortRange{Start: 1, End: 2}, Dport: vip.PortRange{Start: 3, End: 4},
		UIDRange: vip.UIDRange{Start: 5, End: 6}, HasUIDRange: true, SuppressPrefixLen: 1, HasSuppressPrefixLen: true,
		SuppressIfGroup: 2, HasSuppressIfGroup: true, Protocol: 4}
	nonZeroFields(t, wantU)
	if got := vipRule(u); !reflect.DeepEqual(got, wantU) {
		t.Errorf("vipRule:\n got %+v\nwant %+v", got, wantU)
	}
}

// TestPeerTTLsInCheck: unicast_peer min_ttl / max_ttl reach the receive
// checks, peer by peer.
func TestPeerTTLsInCheck(t *testing.T) {
	conf := "vrrp_instance V {\n interface eth0\n virtual_router_id 1\n unicast_peer {\n  192.0.2.2 min_ttl 10 max_ttl 64\n  192.0.2.3\n }\n virtual_ipaddress {\n  192.0.2.100\n }\n}\n"
	cfg, errs := config.Parse("t.conf", []byte(conf), config.Options{})
	for _, e := range errs {
		t.Logf("complaint: %v", e)
	}
	inst := &instance{cfg: cfg.Instances[0]}
	inst.buildPackets(netip.MustParseAddr("192.0.2.1"))
	want := []vrrp.TTLRange{{Min: 10, Max: 64}, {Min: 0, Max: 255}}
	if !reflect.DeepEqual(inst.check.PeerTTLs, want) || len(inst.check.Peers) != 2 {
		t.Errorf("check peers %v with TTL ranges %v, want two with %v", inst.check.Peers, inst.check.PeerTTLs, want)
	}
}
