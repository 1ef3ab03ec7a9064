package vrrp_test

import (
	"net/netip"
	"testing"

	"github.com/vigil-ha/vigil/vrrp"
)

var (
	peerA  = netip.MustParseAddr("192.0.2.1")
	peerB  = netip.MustParseAddr("192.0.2.2")
	other  = netip.MustParseAddr("192.0.2.99")
	peerA6 = netip.MustParseAddr("fe80::1")
	self6  = netip.MustParseAddr("fe80::2")
)

// encode builds the wire bytes of p sent from src to dst, with a correct
// checksum, failing the test on error.
func encode(t *testing.T, p vrrp.Packet, src, dst netip.Addr) []byte {
	t.Helper()
	b, err := p.AppendChecksummed(nil, src, dst)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAcceptReasons walks RFC 5798 §7.1 (and RFC 3768 §7.1 for v2, and
// keepalived's extra checks): each case breaks one rule of a valid advert
// and expects its drop reason.
func TestAcceptReasons(t *testing.T) {
	v3 := vrrp.Packet{Version: 3, Type: 1, VRID: 10, Priority: 100, MaxAdvertCentis: 100, Addrs: addrs("192.0.2.100")}
	v2 := vrrp.Packet{Version: 2, Type: 1, VRID: 10, Priority: 100, AdvertIntSeconds: 1,
		AuthType: vrrp.AuthPassword, AuthData: [8]byte{'p', 'a', 's', 's'}, Addrs: addrs("192.0.2.100")}
	v36 := vrrp.Packet{Version: 3, Type: 1, VRID: 10, Priority: 100, MaxAdvertCentis: 100, Addrs: addrs("2001:db8::100")}

	mcast := vrrp.CheckConfig{Version: 3, VRID: 10, Addrs: addrs("192.0.2.100"), Self: peerB}
	ucast := vrrp.CheckConfig{Version: 3, VRID: 10, Addrs: addrs("192.0.2.100"), Self: peerB, Peers: addrs("192.0.2.1")}
	v2cfg := vrrp.CheckConfig{Version: 2, VRID: 10, AdvertIntSeconds: 1, AuthType: vrrp.AuthPassword,
		AuthData: [8]byte{'p', 'a', 's', 's'}, Addrs: addrs("192.0.2.100")}
	mcast6 := vrrp.CheckConfig{Version: 3, VRID: 10, Addrs: addrs("2001:db8::100"), Self: self6}

	with := func(p vrrp.Packet, f func(*vrrp.Packet)) vrrp.Packet {
		p.Addrs = append([]netip.Addr(nil), p.Addrs...)
		f(&p)
		return p
	}
	m4 := vrrp.RecvMeta{Src: peerA, Dst: vrrp.GroupIPv4, TTL: 255}
	u4 := vrrp.RecvMeta{Src: peerA, Dst: peerB, TTL: 255}
	m6 := vrrp.RecvMeta{Src: peerA6, Dst: vrrp.GroupIPv6, TTL: 255}

	type tc struct {
		name string
		raw  []byte
		meta vrrp.RecvMeta
		cfg  vrrp.CheckConfig
		want vrrp.DropReason
	}
	good := encode(t, v3, m4.Src, m4.Dst)
	badSum := append([]byte(nil), good...)
	badSum[7]++
	cases := []tc{
		{"valid multicast v3", good, m4, mcast, vrrp.DropNone},
		{"§7.1 TTL 64", good, with4TTL(m4, 64), mcast, vrrp.DropTTL},
		{"TTL checked before syntax", good[:5], with4TTL(m4, 64), mcast, vrrp.DropTTL},
		{"unicast: TTL not checked (keepalived sends IPv6 unicast with 64)",
			encode(t, v3, u4.Src, u4.Dst), with4TTL(u4, 64), ucast, vrrp.DropNone},
		{"§7.1 version 2 for a v3 instance", encode(t, with(v2, func(p *vrrp.Packet) {}), m4.Src, m4.Dst), m4, mcast, vrrp.DropVersion},
		{"version nibble 5", append([]byte{0x51}, good[1:]...), m4, mcast, vrrp.DropVersion},
		{"§7.1 incomplete packet", good[:len(good)-1], m4, mcast, vrrp.DropLength},
		{"type 2", encode(t, with(v3, func(p *vrrp.Packet) { p.Type = 2 }), m4.Src, m4.Dst), m4, mcast, vrrp.DropType},
		{"§7.1 checksum", badSum, m4, mcast, vrrp.DropChecksum},
		{"v3 checksum over another source", encode(t, v3, other, m4.Dst), m4, mcast, vrrp.DropChecksum},
		{"own packet", encode(t, v3, peerB, m4.Dst), vrrp.RecvMeta{Src: peerB, Dst: m4.Dst, TTL: 255}, mcast, vrrp.DropOwnPacket},
		{"§7.1 VRID not ours", encode(t, with(v3, func(p *vrrp.Packet) { p.VRID = 11 }), m4.Src, m4.Dst), m4, mcast, vrrp.DropUnknownVRID},
		{"unicast advert for a multicast instance", encode(t, v3, u4.Src, u4.Dst), u4, mcast, vrrp.DropDstMismatch},
		{"multicast advert for a unicast instance", good, m4, ucast, vrrp.DropDstMismatch},
		{"unicast from a stranger", encode(t, v3, other, u4.Dst), vrrp.RecvMeta{Src: other, Dst: peerB, TTL: 255}, ucast, vrrp.DropNotPeer},
		{"unicast from the peer", encode(t, v3, u4.Src, u4.Dst), u4, ucast, vrrp.DropNone},
		{"unicast v3 checksummed over the group (old keepalived)", encode(t, v3, u4.Src, vrrp.GroupIPv4), u4, ucast, vrrp.DropNone},
		{"multicast: group-checksum tolerance does not apply", encode(t, v3, m4.Src, peerB), m4, mcast, vrrp.DropChecksum},
		{"v2 valid", encode(t, v2, m4.Src, m4.Dst), m4, v2cfg, vrrp.DropNone},
		{"RFC 3768 §7.1 auth type", encode(t, with(v2, func(p *vrrp.Packet) { p.AuthType = 0; p.AuthData = [8]byte{} }), m4.Src, m4.Dst), m4, v2cfg, vrrp.DropAuthType},
		{"RFC 3768 §7.1 password", encode(t, with(v2, func(p *vrrp.Packet) { p.AuthData[0] = 'P' }), m4.Src, m4.Dst), m4, v2cfg, vrrp.DropAuthMismatch},
		{"RFC 3768 §7.1 advert interval", encode(t, with(v2, func(p *vrrp.Packet) { p.AdvertIntSeconds = 2 }), m4.Src, m4.Dst), m4, v2cfg, vrrp.DropInterval},
		{"v3 for a v2 instance", good, m4, v2cfg, vrrp.DropVersion},
		{"v3 interval 0", encode(t, with(v3, func(p *vrrp.Packet) { p.MaxAdvertCentis = 0 }), m4.Src, m4.Dst), m4, mcast, vrrp.DropInterval},
		{"v3 other interval is learnt, not dropped (§6.4.2)", encode(t, with(v3, func(p *vrrp.Packet) { p.MaxAdvertCentis = 37 }), m4.Src, m4.Dst), m4, mcast, vrrp.DropNone},
		{"address list differs", encode(t, with(v3, func(p *vrrp.Packet) { p.Addrs[0] = other }), m4.Src, m4.Dst), m4, mcast, vrrp.WarnAddrList},
		{"address count differs", encode(t, with(v3, func(p *vrrp.Packet) { p.Addrs = append(p.Addrs, other) }), m4.Src, m4.Dst), m4, mcast, vrrp.WarnAddrList},
		{"address list differs, strict", encode(t, with(v3, func(p *vrrp.Packet) { p.Addrs[0] = other }), m4.Src, m4.Dst), m4,
			func() vrrp.CheckConfig { c := mcast; c.StrictAddrs = true; return c }(), vrrp.DropAddrList},
		{"IPv6 valid", encode(t, v36, m6.Src, m6.Dst), m6, mcast6, vrrp.DropNone},
		{"IPv6 hop limit 254", encode(t, v36, m6.Src, m6.Dst), vrrp.RecvMeta{Src: peerA6, Dst: vrrp.GroupIPv6, TTL: 254}, mcast6, vrrp.DropTTL},
		{"IPv6 checksum with wrong destination", encode(t, v36, m6.Src, netip.MustParseAddr("ff02::1")), m6, mcast6, vrrp.DropChecksum},
		{"IPv6 own packet", encode(t, v36, self6, m6.Dst), vrrp.RecvMeta{Src: self6, Dst: vrrp.GroupIPv6, TTL: 255}, mcast6, vrrp.DropOwnPacket},
	}
	// Address order does not matter.
	two := with(v3, func(p *vrrp.Packet) { p.Addrs = addrs("192.0.2.100", "192.0.2.101") })
	cfg2 := mcast
	cfg2.Addrs = addrs("192.0.2.101", "192.0.2.100")
	cases = append(cases, tc{"address order differs", encode(t, two, m4.Src, m4.Dst), m4, cfg2, vrrp.DropNone})

	for _, c := range cases {
		var p vrrp.Packet
		if got := vrrp.Accept(&p, c.raw, c.meta, c.cfg); got != c.want {
			t.Errorf("%s: Accept = %v, want %v", c.name, got, c.want)
		}
	}
}

func with4TTL(m vrrp.RecvMeta, ttl int) vrrp.RecvMeta {
	m.TTL = ttl
	return m
}

func TestDropReasonNames(t *testing.T) {
	seen := map[string]vrrp.DropReason{}
	for _, r := range vrrp.DropReasons() {
		s := r.String()
		if s == "unknown" || s == "" {
			t.Errorf("reason %d has no name", r)
		}
		if o, dup := seen[s]; dup {
			t.Errorf("reasons %d and %d share the name %q", o, r, s)
		}
		seen[s] = r
		if want := r != vrrp.DropNone && r != vrrp.WarnAddrList; r.Drops() != want {
			t.Errorf("%v.Drops() = %v", r, r.Drops())
		}
	}
	if len(seen) < 15 {
		t.Errorf("only %d reasons", len(seen))
	}
	if vrrp.DropReason(200).String() != "unknown" {
		t.Errorf("out of range reason has a name")
	}
}

func TestDropCounts(t *testing.T) {
	var c vrrp.DropCounts
	c.Add(vrrp.DropTTL)
	c.Add(vrrp.DropTTL)
	c.Add(vrrp.DropNone)
	c.Add(vrrp.DropReason(250))
	if c.Get(vrrp.DropTTL) != 2 || c.Get(vrrp.DropNone) != 1 || c.Get(vrrp.DropChecksum) != 0 || c.Get(vrrp.DropReason(250)) != 0 {
		t.Errorf("counts ttl=%d none=%d checksum=%d", c.Get(vrrp.DropTTL), c.Get(vrrp.DropNone), c.Get(vrrp.DropChecksum))
	}
	s := c.Snapshot()
	if len(s) != len(vrrp.DropReasons()) || s["ttl"] != 2 || s["ok"] != 1 || s["checksum"] != 0 {
		t.Errorf("snapshot %v", s)
	}
	if n := testing.AllocsPerRun(100, func() { c.Add(vrrp.DropVersion) }); n != 0 {
		t.Errorf("Add allocates %v", n)
	}
}
