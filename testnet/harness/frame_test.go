package harness

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/testnet"
)

var (
	macA = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0a}
	macB = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0b}
)

func eth(src net.HardwareAddr, etherType uint16, payload ...[]byte) testnet.Packet {
	b := append([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, src...)
	b = binary.BigEndian.AppendUint16(b, etherType)
	for _, p := range payload {
		b = append(b, p...)
	}
	return testnet.Packet{Time: time.Unix(1, 0), Data: b}
}

func ipv4(proto byte, src, dst string) []byte {
	h := make([]byte, 20)
	h[0], h[8], h[9] = 0x45, 255, proto
	copy(h[12:16], netip.MustParseAddr(src).AsSlice())
	copy(h[16:20], netip.MustParseAddr(dst).AsSlice())
	return h
}

func ipv6(next byte, src, dst string) []byte {
	h := make([]byte, 40)
	h[0], h[6], h[7] = 0x60, next, 255
	copy(h[8:24], netip.MustParseAddr(src).AsSlice())
	copy(h[24:40], netip.MustParseAddr(dst).AsSlice())
	return h
}

func arpPkt(op uint16, spa, tpa string) []byte {
	b := []byte{0, 1, 8, 0, 6, 4}
	b = binary.BigEndian.AppendUint16(b, op)
	b = append(b, macB...)
	b = append(b, netip.MustParseAddr(spa).AsSlice()...)
	b = append(b, 0, 0, 0, 0, 0, 0)
	return append(b, netip.MustParseAddr(tpa).AsSlice()...)
}

func na(flags byte, target string) []byte {
	b := []byte{136, 0, 0, 0, flags, 0, 0, 0}
	return append(b, netip.MustParseAddr(target).AsSlice()...)
}

// TestClassify: frames are told apart as the failover measurements need, field by
// field (VRRP header: version/type, VRID, priority, count, interval).
func TestClassify(t *testing.T) {
	vrrp := func(vrid, prio byte) []byte { return []byte{0x31, vrid, prio, 1, 0, 10, 0, 0, 192, 0, 2, 254} }
	for _, c := range []struct {
		name string
		p    testnet.Packet
		want Frame
	}{
		{"v4 advert", eth(macA, etherIPv4, ipv4(112, "192.0.2.1", "224.0.0.18"), vrrp(51, 150)),
			Frame{Kind: FrameAdvert, VRID: 51, Prio: 150}},
		{"v4 advert prio 0", eth(macA, etherIPv4, ipv4(112, "192.0.2.1", "224.0.0.18"), vrrp(7, 0)),
			Frame{Kind: FrameAdvert, VRID: 7, Prio: 0}},
		{"v6 advert", eth(macA, etherIPv6, ipv6(112, "fe80::1", "ff02::12"), vrrp(51, 100)),
			Frame{Kind: FrameAdvert, V6: true, VRID: 51, Prio: 100}},
		{"v4 other proto", eth(macA, etherIPv4, ipv4(17, "192.0.2.1", "192.0.2.2"), vrrp(51, 100)), Frame{}},
		{"v4 truncated VRRP", eth(macA, etherIPv4, ipv4(112, "192.0.2.1", "224.0.0.18"), []byte{0x31, 51}), Frame{}},
		{"gratuitous ARP request", eth(macB, etherARP, arpPkt(1, "192.0.2.254", "192.0.2.254")),
			Frame{Kind: FrameGARP, Addr: netip.MustParseAddr("192.0.2.254")}},
		{"gratuitous ARP reply", eth(macB, etherARP, arpPkt(2, "192.0.2.254", "192.0.2.254")),
			Frame{Kind: FrameGARP, Addr: netip.MustParseAddr("192.0.2.254")}},
		{"ordinary ARP request", eth(macB, etherARP, arpPkt(1, "192.0.2.2", "192.0.2.100")), Frame{}},
		{"unsolicited NA", eth(macB, etherIPv6, ipv6(58, "fe80::2", "ff02::1"), na(0xa0, "2001:db8:1::254")),
			Frame{Kind: FrameNA, V6: true, Addr: netip.MustParseAddr("2001:db8:1::254")}},
		{"solicited NA", eth(macB, etherIPv6, ipv6(58, "fe80::2", "fe80::100"), na(0x60, "2001:db8:1::254")),
			Frame{V6: false}},
		{"short", testnet.Packet{Data: []byte{1, 2, 3}}, Frame{}},
	} {
		got := Classify(c.p)
		if got.Kind != c.want.Kind || got.V6 != c.want.V6 && c.want.Kind != FrameOther || got.VRID != c.want.VRID ||
			got.Prio != c.want.Prio || got.Addr != c.want.Addr {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
		if len(c.p.Data) >= 14 && !got.From(net.HardwareAddr(c.p.Data[6:12])) {
			t.Errorf("%s: source MAC %v", c.name, got.SrcMAC)
		}
	}
	if f := Classify(eth(macA, etherIPv4, ipv4(112, "192.0.2.1", "224.0.0.18"), vrrp(1, 1))); f.From(macB) {
		t.Errorf("from(%v) true for a frame from %v", macB, macA)
	}
}
