package vrrp_test

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/vrrp"
)

// golden is one advert captured from keepalived (testdata/*.hex): the IP
// packet split into what the socket reports and the VRRP message.
type golden struct {
	raw  []byte // VRRP message
	meta vrrp.RecvMeta
}

// readGolden reads testdata/name.hex: '#' lines are comments, the rest is
// the hex of one IP packet (IPv4 or IPv6 without extension headers).
func readGolden(t testing.TB, name string) golden {
	t.Helper()
	ip := readGoldenIP(t, name)
	switch ip[0] >> 4 {
	case 4:
		ihl := int(ip[0]&0x0f) * 4
		if ip[9] != vrrp.IPProto {
			t.Fatalf("%s: IP protocol %d", name, ip[9])
		}
		total := int(binary.BigEndian.Uint16(ip[2:4]))
		return golden{raw: ip[ihl:total], meta: vrrp.RecvMeta{
			Src: netip.AddrFrom4([4]byte(ip[12:16])), Dst: netip.AddrFrom4([4]byte(ip[16:20])), TTL: int(ip[8])}}
	case 6:
		if ip[6] != vrrp.IPProto {
			t.Fatalf("%s: next header %d", name, ip[6])
		}
		plen := int(binary.BigEndian.Uint16(ip[4:6]))
		return golden{raw: ip[40 : 40+plen], meta: vrrp.RecvMeta{
			Src: netip.AddrFrom16([16]byte(ip[8:24])), Dst: netip.AddrFrom16([16]byte(ip[24:40])), TTL: int(ip[7])}}
	}
	t.Fatalf("%s: not an IP packet", name)
	return golden{}
}

// readGoldenIP reads testdata/name.hex as the whole IP packet.
func readGoldenIP(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name+".hex"))
	if err != nil {
		t.Fatal(err)
	}
	var h strings.Builder
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			h.WriteString(l)
		}
	}
	ip, err := hex.DecodeString(h.String())
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return ip
}

func addrs(ss ...string) []netip.Addr {
	var as []netip.Addr
	for _, s := range ss {
		as = append(as, netip.MustParseAddr(s))
	}
	return as
}

// goldenWant lists, per captured file, every field as keepalived was
// configured (see the config quoted in each file), so that a decoder bug
// cannot agree with itself.
var goldenWant = []struct {
	file string
	pkt  vrrp.Packet
	src  string // "" = any IPv6 link-local
	dst  string
	ttl  int
	// check is the instance config of the receiver (the peer).
	check vrrp.CheckConfig
}{
	{"v3-ipv4", vrrp.Packet{Version: 3, Type: 1, VRID: 51, Priority: 150, MaxAdvertCentis: 100,
		Addrs: addrs("192.0.2.100"), Checksum: 0xd370}, "192.0.2.2", "224.0.0.18", 255,
		vrrp.CheckConfig{Version: 3, VRID: 51, Addrs: addrs("192.0.2.100")}},
	{"v3-ipv4-prio0", vrrp.Packet{Version: 3, Type: 1, VRID: 51, Priority: 0, MaxAdvertCentis: 100,
		Addrs: addrs("192.0.2.100"), Checksum: 0x6971}, "192.0.2.2", "224.0.0.18", 255,
		vrrp.CheckConfig{Version: 3, VRID: 51, Addrs: addrs("192.0.2.100")}},
	{"v3-ipv4-multi", vrrp.Packet{Version: 3, Type: 1, VRID: 7, Priority: 200, MaxAdvertCentis: 50,
		Addrs: addrs("192.0.2.100", "192.0.2.101", "192.0.2.102", "198.51.100.1"), Checksum: 0xf2bd}, "192.0.2.2", "224.0.0.18", 255,
		vrrp.CheckConfig{Version: 3, VRID: 7, Addrs: addrs("198.51.100.1", "192.0.2.102", "192.0.2.101", "192.0.2.100")}},
	{"v3-ipv4-unicast", vrrp.Packet{Version: 3, Type: 1, VRID: 55, Priority: 150, MaxAdvertCentis: 100,
		Addrs: addrs("192.0.2.100"), Checksum: 0xf17d}, "192.0.2.2", "192.0.2.1", 255,
		vrrp.CheckConfig{Version: 3, VRID: 55, Addrs: addrs("192.0.2.100"), Peers: addrs("192.0.2.2"), Self: netip.MustParseAddr("192.0.2.1")}},
	{"v3-ipv6", vrrp.Packet{Version: 3, Type: 1, VRID: 52, Priority: 150, MaxAdvertCentis: 100,
		Addrs: addrs("2001:db8::100", "2001:db8::101"), Checksum: 0xc782}, "", "ff02::12", 255,
		vrrp.CheckConfig{Version: 3, VRID: 52, Addrs: addrs("2001:db8::100", "2001:db8::101")}},
	{"v3-ipv6-prio0", vrrp.Packet{Version: 3, Type: 1, VRID: 52, Priority: 0, MaxAdvertCentis: 100,
		Addrs: addrs("2001:db8::100", "2001:db8::101"), Checksum: 0x5d83}, "", "ff02::12", 255,
		vrrp.CheckConfig{Version: 3, VRID: 52, Addrs: addrs("2001:db8::100", "2001:db8::101")}},
	// keepalived sends IPv6 unicast adverts with hop limit 64: a unicast
	// instance does not check it (as keepalived does not).
	{"v3-ipv6-unicast", vrrp.Packet{Version: 3, Type: 1, VRID: 56, Priority: 150, MaxAdvertCentis: 100,
		Addrs: addrs("2001:db8::100"), Checksum: 0xadab}, "2001:db8::2", "2001:db8::1", 64,
		vrrp.CheckConfig{Version: 3, VRID: 56, Addrs: addrs("2001:db8::100"), Peers: addrs("2001:db8::2")}},
	{"v2-pass", vrrp.Packet{Version: 2, Type: 1, VRID: 53, Priority: 120, AdvertIntSeconds: 1, AuthType: vrrp.AuthPassword,
		AuthData: [8]byte{'s', '3', 'c', 'r', 'e', 't'}, Addrs: addrs("192.0.2.100"), Checksum: 0x6749}, "192.0.2.2", "224.0.0.18", 255,
		vrrp.CheckConfig{Version: 2, VRID: 53, AdvertIntSeconds: 1, AuthType: vrrp.AuthPassword,
			AuthData: [8]byte{'s', '3', 'c', 'r', 'e', 't'}, Addrs: addrs("192.0.2.100")}},
	{"v2-noauth", vrrp.Packet{Version: 2, Type: 1, VRID: 54, Priority: 100, AdvertIntSeconds: 2,
		Addrs: addrs("192.0.2.100", "192.0.2.101"), Checksum: 0xf5fa}, "192.0.2.2", "224.0.0.18", 255,
		vrrp.CheckConfig{Version: 2, VRID: 54, AdvertIntSeconds: 2, Addrs: addrs("192.0.2.100", "192.0.2.101")}},
}

// TestGoldenKeepalived decodes every advert captured from keepalived
// 2.2.7, checks each field and the checksum against the configuration it
// was sent with, re-encodes it byte-exact (as is and with a recomputed
// checksum), and runs the receive checks of a matching instance on it.
func TestGoldenKeepalived(t *testing.T) {
	for _, tc := range goldenWant {
		t.Run(tc.file, func(t *testing.T) {
			g := readGolden(t, tc.file)
			if tc.src == "" {
				if !g.meta.Src.IsLinkLocalUnicast() {
					t.Errorf("source %v, want an IPv6 link-local address", g.meta.Src)
				}
			} else if g.meta.Src != netip.MustParseAddr(tc.src) {
				t.Errorf("source %v, want %s", g.meta.Src, tc.src)
			}
			if g.meta.Dst != netip.MustParseAddr(tc.dst) || g.meta.TTL != tc.ttl {
				t.Errorf("dst %v ttl %d, want %s ttl %d", g.meta.Dst, g.meta.TTL, tc.dst, tc.ttl)
			}

			var p vrrp.Packet
			if err := p.UnmarshalFamily(g.raw, g.meta.Src.Is6()); err != nil {
				t.Fatalf("UnmarshalFamily: %v", err)
			}
			if !reflect.DeepEqual(p, tc.pkt) {
				t.Errorf("decoded\n %+v\nwant\n %+v", p, tc.pkt)
			}
			var q vrrp.Packet
			if err := q.UnmarshalBinary(g.raw); err != nil || !reflect.DeepEqual(q, tc.pkt) {
				t.Errorf("UnmarshalBinary (family inferred) = %+v, %v", q, err)
			}

			if !vrrp.VerifyChecksum(g.raw, g.meta.Src, g.meta.Dst) {
				t.Errorf("VerifyChecksum = false on keepalived's packet")
			}
			if c, err := p.ComputeChecksum(g.meta.Src, g.meta.Dst); err != nil || c != tc.pkt.Checksum {
				t.Errorf("ComputeChecksum = %#04x, %v; want %#04x", c, err, tc.pkt.Checksum)
			}
			enc, err := p.AppendBinary([]byte{0xaa})
			if err != nil || !bytes.Equal(enc[1:], g.raw) || enc[0] != 0xaa {
				t.Errorf("AppendBinary = %x, %v\nwant      %x", enc, err, g.raw)
			}
			p.Checksum = 0
			enc, err = p.AppendChecksummed(nil, g.meta.Src, g.meta.Dst)
			if err != nil || !bytes.Equal(enc, g.raw) {
				t.Errorf("AppendChecksummed = %x, %v\nwant         %x", enc, err, g.raw)
			}

			var r vrrp.Packet
			if got := vrrp.Accept(&r, g.raw, g.meta, tc.check); got != vrrp.DropNone {
				t.Errorf("Accept = %v, want none", got)
			}
			// One flipped bit anywhere must break the checksum.
			for i := range g.raw {
				bad := bytes.Clone(g.raw)
				bad[i] ^= 0x10
				if vrrp.VerifyChecksum(bad, g.meta.Src, g.meta.Dst) {
					t.Errorf("VerifyChecksum accepts the packet with byte %d changed", i)
				}
			}
		})
	}
}

// TestEncodeFields builds packets by hand and compares with bytes written
// field by field from RFC 5798 §5.1 / RFC 3768 §5.1.
func TestEncodeFields(t *testing.T) {
	v3 := vrrp.Packet{Version: 3, Type: 1, VRID: 0xab, Priority: 0xcd, MaxAdvertCentis: 0xfff,
		Addrs: addrs("203.0.113.9"), Checksum: 0x1234}
	want := []byte{
		0x31,       // version 3, type 1
		0xab,       // VRID
		0xcd,       // priority
		0x01,       // count
		0x0f, 0xff, // reserved 0, max advert interval 4095 cs
		0x12, 0x34, // checksum as given
		203, 0, 113, 9,
	}
	got, err := v3.AppendBinary(nil)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("v3 = %x, %v; want %x", got, err, want)
	}
	if v3.Len() != len(want) {
		t.Errorf("Len = %d, want %d", v3.Len(), len(want))
	}

	v2 := vrrp.Packet{Version: 2, Type: 1, VRID: 1, Priority: 100, AdvertIntSeconds: 3, AuthType: 1,
		AuthData: [8]byte{'p', 'w'}, Addrs: addrs("192.0.2.7", "192.0.2.8")}
	want = []byte{
		0x21, 1, 100, 2, // version 2 type 1, VRID, priority, count
		1, 3, // auth type, advert int (s)
		0, 0, // checksum
		192, 0, 2, 7, 192, 0, 2, 8,
		'p', 'w', 0, 0, 0, 0, 0, 0, // auth data
	}
	got, err = v2.AppendBinary(nil)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("v2 = %x, %v; want %x", got, err, want)
	}
	// v2 checksum covers the message alone: src/dst must not matter.
	a, _ := v2.ComputeChecksum(netip.MustParseAddr("192.0.2.1"), vrrp.GroupIPv4)
	b, _ := v2.ComputeChecksum(netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("192.0.2.9"))
	if a != b {
		t.Errorf("v2 checksum depends on addresses: %#x vs %#x", a, b)
	}
	// v3 checksum covers the pseudo-header: it must.
	a, _ = v3.ComputeChecksum(netip.MustParseAddr("192.0.2.1"), vrrp.GroupIPv4)
	b, _ = v3.ComputeChecksum(netip.MustParseAddr("192.0.2.2"), vrrp.GroupIPv4)
	if a == b {
		t.Errorf("v3 checksum ignores the source address")
	}
}

func TestEncodeInvalid(t *testing.T) {
	many := make([]netip.Addr, 256)
	for i := range many {
		many[i] = netip.AddrFrom4([4]byte{192, 0, 2, byte(i)})
	}
	for name, p := range map[string]vrrp.Packet{
		"version 4":        {Version: 4, Type: 1},
		"version 0":        {Type: 1},
		"type 16":          {Version: 3, Type: 16},
		"interval 13 bits": {Version: 3, Type: 1, MaxAdvertCentis: 0x1000},
		"mixed families":   {Version: 3, Type: 1, Addrs: addrs("192.0.2.1", "2001:db8::1")},
		"v2 with IPv6":     {Version: 2, Type: 1, Addrs: addrs("2001:db8::1")},
		"zone":             {Version: 3, Type: 1, Addrs: addrs("fe80::1%eth0")},
		"mapped":           {Version: 3, Type: 1, Addrs: addrs("::ffff:192.0.2.1")},
		"invalid address":  {Version: 3, Type: 1, Addrs: []netip.Addr{{}}},
		"256 addresses":    {Version: 3, Type: 1, Addrs: many},
		"mixed, v6 first":  {Version: 3, Type: 1, Addrs: addrs("2001:db8::1", "192.0.2.1")},
	} {
		if b, err := p.AppendBinary(nil); !errors.Is(err, vrrp.ErrInvalid) {
			t.Errorf("%s: AppendBinary = %x, %v; want ErrInvalid", name, b, err)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	v3 := []byte{0x31, 1, 100, 1, 0, 100, 0, 0, 192, 0, 2, 1}
	v2 := []byte{0x21, 1, 100, 1, 0, 1, 0, 0, 192, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0}
	for _, tc := range []struct {
		name string
		b    []byte
		is6  bool
		want error
	}{
		{"empty", nil, false, vrrp.ErrLength},
		{"7 bytes", v3[:7], false, vrrp.ErrLength},
		{"address cut", v3[:11], false, vrrp.ErrLength},
		{"trailing byte", append(append([]byte{}, v3...), 0), false, vrrp.ErrLength},
		{"v3 IPv4 bytes read as IPv6", v3, true, vrrp.ErrLength},
		{"v2 without auth data", v2[:12], false, vrrp.ErrLength},
		{"v2 over IPv6", v2, true, vrrp.ErrVersion},
		{"version 1", append([]byte{0x11}, v3[1:]...), false, vrrp.ErrVersion},
		{"version 4", append([]byte{0x41}, v3[1:]...), false, vrrp.ErrVersion},
		{"count 2 with one address", append([]byte{0x31, 1, 100, 2}, v3[4:]...), false, vrrp.ErrLength},
	} {
		var p vrrp.Packet
		if err := p.UnmarshalFamily(tc.b, tc.is6); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
	var p vrrp.Packet
	if err := p.UnmarshalFamily(v3, false); err != nil {
		t.Fatalf("valid v3: %v", err)
	}
	if err := p.UnmarshalFamily(v2, false); err != nil {
		t.Fatalf("valid v2: %v", err)
	}
}

// TestDecodeReusesAddrs: decoding into a Packet reuses its address slice,
// so the receive path does not allocate.
func TestDecodeNoAlloc(t *testing.T) {
	g := readGolden(t, "v3-ipv6")
	want := vrrp.CheckConfig{Version: 3, VRID: 52, Addrs: addrs("2001:db8::100", "2001:db8::101")}
	var p vrrp.Packet
	n := testing.AllocsPerRun(100, func() {
		if r := vrrp.Accept(&p, g.raw, g.meta, want); r != vrrp.DropNone {
			t.Fatalf("Accept = %v", r)
		}
	})
	if n != 0 {
		t.Errorf("Accept allocates %v times per packet, want 0", n)
	}
}

func BenchmarkAccept(b *testing.B) {
	g := readGolden(b, "v3-ipv4-multi")
	want := vrrp.CheckConfig{Version: 3, VRID: 7, Addrs: addrs("192.0.2.100", "192.0.2.101", "192.0.2.102", "198.51.100.1")}
	var p vrrp.Packet
	b.ReportAllocs()
	for b.Loop() {
		if r := vrrp.Accept(&p, g.raw, g.meta, want); r != vrrp.DropNone {
			b.Fatal(r)
		}
	}
}

func BenchmarkAppendChecksummed(b *testing.B) {
	p := vrrp.Packet{Version: 3, Type: 1, VRID: 7, Priority: 100, MaxAdvertCentis: 100,
		Addrs: addrs("2001:db8::100", "2001:db8::101")}
	src, buf := netip.MustParseAddr("fe80::1"), make([]byte, 0, vrrp.MaxMessageLen)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.AppendChecksummed(buf[:0], src, vrrp.GroupIPv6); err != nil {
			b.Fatal(err)
		}
	}
}

// TestWireFacts: the interval helpers are inverses within each version's
// range, and PeekVRID reads the VRID byte of a real encoding.
func TestWireFacts(t *testing.T) {
	for _, tc := range []struct {
		version int
		in, out time.Duration
	}{
		{3, 10 * time.Millisecond, 10 * time.Millisecond},
		{3, 1234 * time.Millisecond, 1230 * time.Millisecond},
		{3, time.Hour, vrrp.MaxAdvertIntervalV3},
		{2, 3 * time.Second, 3 * time.Second},
		{2, 0, time.Second},
		{2, time.Hour, 255 * time.Second},
	} {
		p := vrrp.Packet{Version: tc.version}
		p.SetAdvertInterval(tc.in)
		if got := p.AdvertInterval(); got != tc.out {
			t.Errorf("v%d %v: got %v, want %v", tc.version, tc.in, got, tc.out)
		}
	}
	p := vrrp.Packet{Version: 3, Type: vrrp.TypeAdvertisement, VRID: 42, Priority: 100, MaxAdvertCentis: 100,
		Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.254")}}
	b, err := p.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := vrrp.PeekVRID(b); !ok || v != 42 {
		t.Errorf("PeekVRID = %d, %v", v, ok)
	}
	if _, ok := vrrp.PeekVRID(b[:1]); ok {
		t.Error("PeekVRID accepted one byte")
	}
	if vrrp.DefaultGroup(false) != netip.MustParseAddr("224.0.0.18") || vrrp.DefaultGroup(true) != netip.MustParseAddr("ff02::12") {
		t.Error("DefaultGroup")
	}
}
