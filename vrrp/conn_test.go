package vrrp_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/vrrp"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// connEnv is a network for the shared Conn test bodies: two Conns a and b
// on one segment, and a raw injector that sends bytes from a's address
// with a chosen TTL / hop limit (a test raw socket on the real network,
// Wire.Inject on the twin).
type connEnv struct {
	a, b   vrrp.Conn
	bIndex int // interface index of b's end
	group  netip.Addr
	inject func(t *testing.T, raw []byte, dst netip.Addr, ttl int)
}

// readTimeout is generous: it bounds a broken test, it does not measure.
const readTimeout = 10 * time.Second

// readOne reads one message from c, failing the test on error.
func readOne(t *testing.T, c vrrp.Conn) ([]byte, vrrp.RecvMeta) {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(readTimeout)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, vrrp.MaxMessageLen+60)
	n, m, err := c.ReadFrom(buf)
	if err != nil {
		t.Fatalf("ReadFrom: %v", err)
	}
	return buf[:n], m
}

func advert(vrid, prio uint8, vips ...netip.Addr) *vrrp.Packet {
	return &vrrp.Packet{Version: 3, Type: vrrp.TypeAdvertisement, VRID: vrid, Priority: prio, MaxAdvertCentis: 100, Addrs: vips}
}

// testConnExchange: an advert sent to the group and one sent unicast
// arrive intact, checksummed for the right source and destination, with
// TTL 255 and the sender's address; our own multicast is not looped back.
func testConnExchange(t *testing.T, env connEnv) {
	vip := netip.MustParseAddr("192.0.2.100")
	if env.group.Is6() {
		vip = netip.MustParseAddr("2001:db8::100")
	}
	if !env.a.LocalAddr().IsValid() || env.a.LocalAddr() == env.b.LocalAddr() {
		t.Fatalf("LocalAddr a=%v b=%v", env.a.LocalAddr(), env.b.LocalAddr())
	}
	if env.group.Is6() && !env.a.LocalAddr().IsLinkLocalUnicast() {
		t.Errorf("IPv6 source %v is not link-local", env.a.LocalAddr())
	}
	cfg := vrrp.CheckConfig{Version: 3, VRID: 42, Addrs: []netip.Addr{vip}, Self: env.b.LocalAddr()}

	sent := advert(42, 200, vip)
	if err := env.a.WriteTo(sent, env.group); err != nil {
		t.Fatalf("WriteTo group: %v", err)
	}
	raw, m := readOne(t, env.b)
	if m.Src != env.a.LocalAddr() || m.Dst != env.group || m.TTL != vrrp.TTL || m.IfIndex != env.bIndex {
		t.Errorf("multicast meta = %+v, want src %v dst %v ttl 255 ifindex %d", m, env.a.LocalAddr(), env.group, env.bIndex)
	}
	var p vrrp.Packet
	if r := vrrp.Accept(&p, raw, m, cfg); r != vrrp.DropNone {
		t.Fatalf("multicast advert: Accept = %v (%x)", r, raw)
	}
	if p.VRID != 42 || p.Priority != 200 || p.MaxAdvertCentis != 100 || len(p.Addrs) != 1 || p.Addrs[0] != vip {
		t.Errorf("received %+v, sent %+v", p, sent)
	}

	// Unicast peer: the destination is b's own address.
	ucfg := cfg
	ucfg.Peers = []netip.Addr{env.a.LocalAddr()}
	if err := env.a.WriteTo(advert(42, 201, vip), env.b.LocalAddr()); err != nil {
		t.Fatalf("WriteTo unicast: %v", err)
	}
	raw, m = readOne(t, env.b)
	if m.Src != env.a.LocalAddr() || m.Dst != env.b.LocalAddr() || m.TTL != vrrp.TTL {
		t.Errorf("unicast meta = %+v, want src %v dst %v ttl 255", m, env.a.LocalAddr(), env.b.LocalAddr())
	}
	if r := vrrp.Accept(&p, raw, m, ucfg); r != vrrp.DropNone || p.Priority != 201 {
		t.Fatalf("unicast advert: Accept = %v, priority %d", r, p.Priority)
	}

	// Multicast loop is off: the first thing a reads is b's marker, not
	// the copy of its own group advert.
	if err := env.b.WriteTo(advert(99, 1, vip), env.group); err != nil {
		t.Fatalf("WriteTo from b: %v", err)
	}
	raw, m = readOne(t, env.a)
	if err := p.UnmarshalFamily(raw, m.Src.Is6()); err != nil || p.VRID != 99 || m.Src != env.b.LocalAddr() {
		t.Errorf("a read VRID %d from %v (err %v): want b's marker VRID 99 (own multicast looped back?)", p.VRID, m.Src, err)
	}

	// Wrong family is refused.
	wrong := netip.MustParseAddr("2001:db8::9")
	if env.group.Is6() {
		wrong = netip.MustParseAddr("192.0.2.9")
	}
	if err := env.a.WriteTo(sent, wrong); err == nil {
		t.Errorf("WriteTo %v on a %v conn succeeded", wrong, env.group)
	}
}

type dropCase struct {
	name string
	raw  []byte
	ttl  int
	cfg  vrrp.CheckConfig
	want vrrp.DropReason
}

// testConnDrops: bad adverts injected on the wire reach b and are dropped
// by Accept with their reason (wrong TTL, bad checksum, unknown VRID,
// wrong version, bad password).
func testConnDrops(t *testing.T, env connEnv) {
	is6 := env.group.Is6()
	vip := netip.MustParseAddr("192.0.2.100")
	if is6 {
		vip = netip.MustParseAddr("2001:db8::100")
	}
	src := env.a.LocalAddr()
	good := advert(42, 150, vip)
	enc := func(p *vrrp.Packet) []byte { return encode(t, *p, src, env.group) }
	badSum := enc(good)
	badSum[6] ^= 0xff
	v2 := &vrrp.Packet{Version: 2, Type: 1, VRID: 42, Priority: 150, AdvertIntSeconds: 1,
		AuthType: vrrp.AuthPassword, AuthData: [8]byte{'w', 'r', 'o', 'n', 'g'}, Addrs: []netip.Addr{vip}}
	v3cfg := vrrp.CheckConfig{Version: 3, VRID: 42, Addrs: []netip.Addr{vip}, Self: env.b.LocalAddr()}
	v2cfg := vrrp.CheckConfig{Version: 2, VRID: 42, AdvertIntSeconds: 1, AuthType: vrrp.AuthPassword,
		AuthData: [8]byte{'r', 'i', 'g', 'h', 't'}, Addrs: []netip.Addr{vip}, Self: env.b.LocalAddr()}

	cases := []dropCase{
		{"good", enc(good), 255, v3cfg, vrrp.DropNone},
		{"ttl 64", enc(good), 64, v3cfg, vrrp.DropTTL},
		{"ttl 254", enc(good), 254, v3cfg, vrrp.DropTTL},
		{"bad checksum", badSum, 255, v3cfg, vrrp.DropChecksum},
		{"unknown vrid", enc(advert(43, 150, vip)), 255, v3cfg, vrrp.DropUnknownVRID},
		{"version nibble 4", append([]byte{0x41}, enc(good)[1:]...), 255, v3cfg, vrrp.DropVersion},
	}
	if !is6 {
		cases = append(cases,
			dropCase{"v2 bad password", enc(v2), 255, v2cfg, vrrp.DropAuthMismatch},
			dropCase{"v2 advert for a v3 instance", enc(v2), 255, v3cfg, vrrp.DropVersion})
	}
	for _, c := range cases {
		env.inject(t, c.raw, env.group, c.ttl)
		raw, m := readOne(t, env.b)
		if m.TTL != c.ttl || m.Src != src {
			t.Errorf("%s: received with ttl %d from %v, sent ttl %d from %v", c.name, m.TTL, m.Src, c.ttl, src)
		}
		var p vrrp.Packet
		if got := vrrp.Accept(&p, raw, m, c.cfg); got != c.want {
			t.Errorf("%s: Accept = %v, want %v", c.name, got, c.want)
		}
	}
}

// twinEnv builds the shared test network on a vrrptest.Wire.
func twinEnv(t *testing.T, is6 bool) connEnv {
	w := vrrptest.NewWire(vrrptest.WireOptions{Seed: 1})
	a, b, group := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), vrrp.GroupIPv4
	if is6 {
		a, b, group = netip.MustParseAddr("fe80::1"), netip.MustParseAddr("fe80::2"), vrrp.GroupIPv6
	}
	ca, cb := w.Conn(a), w.Conn(b)
	t.Cleanup(func() { ca.Close(); cb.Close() })
	return connEnv{a: ca, b: cb, bIndex: cb.IfIndex(), group: group, inject: func(t *testing.T, raw []byte, dst netip.Addr, ttl int) {
		if n := w.Inject(raw, vrrp.RecvMeta{Src: a, Dst: dst, TTL: ttl}); n != 1 {
			t.Fatalf("Inject reached %d conns, want 1", n)
		}
	}}
}

func TestConnTwin(t *testing.T) {
	for _, fam := range []struct {
		name string
		is6  bool
	}{{"ipv4", false}, {"ipv6", true}} {
		t.Run(fam.name+"/exchange", func(t *testing.T) { testConnExchange(t, twinEnv(t, fam.is6)) })
		t.Run(fam.name+"/drops", func(t *testing.T) { testConnDrops(t, twinEnv(t, fam.is6)) })
	}
}
