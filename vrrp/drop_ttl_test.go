package vrrp_test

import (
	"testing"

	"github.com/vigil-ha/vigil/vrrp"
)

// TestAcceptPeerTTL: a unicast advert whose TTL lies outside its peer's
// min_ttl..max_ttl is DropTTL (keepalived's unicast_peer check), on both
// sides of each bound; the range is the sending peer's, not another's.
func TestAcceptPeerTTL(t *testing.T) {
	v3 := vrrp.Packet{Version: 3, Type: 1, VRID: 10, Priority: 100, MaxAdvertCentis: 100, Addrs: addrs("192.0.2.100")}
	self := peerB
	cfg := vrrp.CheckConfig{Version: 3, VRID: 10, Addrs: addrs("192.0.2.100"), Self: self,
		Peers:    addrs("192.0.2.1", "192.0.2.3"),
		PeerTTLs: []vrrp.TTLRange{{Min: 0, Max: 255}, {Min: 10, Max: 64}}}
	strict := addrs("192.0.2.3")[0]
	for _, c := range []struct {
		name string
		from bool // true: the peer with 10..64, false: the one with 0..255
		ttl  int
		want vrrp.DropReason
	}{
		{"below min_ttl", true, 9, vrrp.DropTTL},
		{"at min_ttl", true, 10, vrrp.DropNone},
		{"at max_ttl", true, 64, vrrp.DropNone},
		{"above max_ttl", true, 65, vrrp.DropTTL},
		{"other peer's default range, TTL 1", false, 1, vrrp.DropNone},
		{"other peer's default range, TTL 255", false, 255, vrrp.DropNone},
	} {
		src := peerA
		if c.from {
			src = strict
		}
		raw := encode(t, v3, src, self)
		var p vrrp.Packet
		if got := vrrp.Accept(&p, raw, vrrp.RecvMeta{Src: src, Dst: self, TTL: c.ttl}, cfg); got != c.want {
			t.Errorf("%s: Accept = %v, want %v", c.name, got, c.want)
		}
	}
	// Without PeerTTLs (no range known), the TTL of unicast is not checked.
	noRanges := cfg
	noRanges.PeerTTLs = nil
	var p vrrp.Packet
	if got := vrrp.Accept(&p, encode(t, v3, strict, self), vrrp.RecvMeta{Src: strict, Dst: self, TTL: 1}, noRanges); got != vrrp.DropNone {
		t.Errorf("no PeerTTLs: Accept = %v, want ok", got)
	}
}
