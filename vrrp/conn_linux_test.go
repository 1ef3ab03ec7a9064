package vrrp_test

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/vigil-ha/vigil/testnet"
	"github.com/vigil-ha/vigil/vrrp"
)

// listenIn opens a Conn on eth0 inside h.
func listenIn(t testing.TB, h *testnet.Host, is6 bool, opts vrrp.ConnOptions) vrrp.Conn {
	t.Helper()
	var c vrrp.Conn
	err := h.Do(func() (err error) {
		if is6 {
			c, err = vrrp.ListenIPv6("eth0", opts)
		} else {
			c, err = vrrp.ListenIPv4("eth0", opts)
		}
		return err
	})
	if err != nil {
		t.Fatalf("listen in %s: %v", h.Name(), err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// injector opens a plain raw protocol-112 socket in h bound to src on
// eth0, for sending hand-made bytes with any TTL / hop limit.
func injector(t *testing.T, h *testnet.Host, src netip.Addr) func(t *testing.T, raw []byte, dst netip.Addr, ttl int) {
	t.Helper()
	var pc net.PacketConn
	var ifi *net.Interface
	err := h.Do(func() (err error) {
		if ifi, err = net.InterfaceByName("eth0"); err != nil {
			return err
		}
		if src.Is6() {
			pc, err = net.ListenPacket("ip6:112", src.WithZone("eth0").String())
		} else {
			pc, err = net.ListenPacket("ip4:112", src.String())
		}
		return err
	})
	if err != nil {
		t.Fatalf("injector in %s: %v", h.Name(), err)
	}
	t.Cleanup(func() { pc.Close() })
	var mu sync.Mutex
	return func(t *testing.T, raw []byte, dst netip.Addr, ttl int) {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		var err error
		if src.Is6() {
			p := ipv6.NewPacketConn(pc)
			err = errors.Join(p.SetMulticastInterface(ifi), p.SetMulticastHopLimit(ttl), p.SetHopLimit(ttl), p.SetMulticastLoopback(false))
		} else {
			p := ipv4.NewPacketConn(pc)
			err = errors.Join(p.SetMulticastInterface(ifi), p.SetMulticastTTL(ttl), p.SetTTL(ttl), p.SetMulticastLoopback(false))
		}
		if err != nil {
			t.Fatalf("injector options: %v", err)
		}
		zone := ""
		if dst.Is6() {
			zone = "eth0"
		}
		if _, err := pc.WriteTo(raw, &net.IPAddr{IP: dst.AsSlice(), Zone: zone}); err != nil {
			t.Fatalf("inject: %v", err)
		}
	}
}

// realEnv builds the shared test network from two namespaces joined by a
// veth pair, with our Conns on both ends.
func realEnv(t *testing.T, is6 bool) connEnv {
	p := newPair(t)
	a := listenIn(t, p.a, is6, vrrp.ConnOptions{})
	b := listenIn(t, p.b, is6, vrrp.ConnOptions{})
	group := vrrp.GroupIPv4
	if is6 {
		group = vrrp.GroupIPv6
	}
	return connEnv{a: a, b: b, bIndex: p.bIf.Index(), group: group, inject: injector(t, p.a, a.LocalAddr())}
}

// TestConnReal runs the shared Conn bodies over raw sockets in network
// namespaces: the same assertions as TestConnTwin, on the kernel.
func TestConnReal(t *testing.T) {
	for _, fam := range []struct {
		name string
		is6  bool
	}{{"ipv4", false}, {"ipv6", true}} {
		t.Run(fam.name+"/exchange", func(t *testing.T) {
			t.Parallel()
			testConnExchange(t, realEnv(t, fam.is6))
		})
		t.Run(fam.name+"/drops", func(t *testing.T) {
			t.Parallel()
			testConnDrops(t, realEnv(t, fam.is6))
		})
	}
}

// TestConnBoundToDevice: a Conn on eth0 does not see adverts arriving on
// another interface of the same namespace (SO_BINDTODEVICE), so instances
// on different interfaces never see each other's traffic.
func TestConnBoundToDevice(t *testing.T) {
	lab := testnet.New(t)
	a, b := lab.Host("a"), lab.Host("b")
	a0, b0 := lab.Wire(a, "eth0", b, "eth0")
	a1, b1 := lab.Wire(a, "eth1", b, "eth1")
	a0.AddAddr(t, "192.0.2.1/24")
	b0.AddAddr(t, "192.0.2.2/24")
	a1.AddAddr(t, "198.51.100.1/24")
	b1.AddAddr(t, "198.51.100.2/24")
	var send1 vrrp.Conn
	if err := a.Do(func() (err error) { send1, err = vrrp.ListenIPv4("eth1", vrrp.ConnOptions{}); return err }); err != nil {
		t.Fatal(err)
	}
	defer send1.Close()
	send0 := listenIn(t, a, false, vrrp.ConnOptions{})
	recv0 := listenIn(t, b, false, vrrp.ConnOptions{})
	// b has an instance on eth1 too: the group is joined on both
	// interfaces, as in a firewall with inside and outside instances.
	var recv1 vrrp.Conn
	if err := b.Do(func() (err error) { recv1, err = vrrp.ListenIPv4("eth1", vrrp.ConnOptions{}); return err }); err != nil {
		t.Fatal(err)
	}
	defer recv1.Close()
	if send1.LocalAddr() != netip.MustParseAddr("198.51.100.1") {
		t.Errorf("eth1 source = %v", send1.LocalAddr())
	}
	// First the advert on eth1 (b receives it on eth1, where nobody
	// listens), then a marker on eth0: recv0 must read the marker first.
	if err := send1.WriteTo(advert(1, 100), vrrp.GroupIPv4); err != nil {
		t.Fatal(err)
	}
	if err := send0.WriteTo(advert(2, 100), vrrp.GroupIPv4); err != nil {
		t.Fatal(err)
	}
	raw, m := readOne(t, recv0)
	var p vrrp.Packet
	if err := p.UnmarshalFamily(raw, false); err != nil || p.VRID != 2 || m.IfIndex != b0.Index() {
		t.Errorf("eth0 conn read VRID %d on ifindex %d (eth0 is %d, eth1 %d), err %v; want the eth0 marker VRID 2",
			p.VRID, m.IfIndex, b0.Index(), b1.Index(), err)
	}
	raw, m = readOne(t, recv1)
	if err := p.UnmarshalFamily(raw, false); err != nil || p.VRID != 1 || m.IfIndex != b1.Index() || m.Src != send1.LocalAddr() {
		t.Errorf("eth1 conn read VRID %d from %v on ifindex %d, err %v; want VRID 1 from %v on %d",
			p.VRID, m.Src, m.IfIndex, err, send1.LocalAddr(), b1.Index())
	}
}

// TestConnOptions: a configured source is used and checksummed for; a
// source of the wrong family and a non-multicast group are refused; a
// closed Conn unblocks its reader with net.ErrClosed.
func TestConnOptions(t *testing.T) {
	p := newPair(t)
	p.aIf.AddAddr(t, "192.0.2.11/24")
	a := listenIn(t, p.a, false, vrrp.ConnOptions{Src: netip.MustParseAddr("192.0.2.11")})
	b := listenIn(t, p.b, false, vrrp.ConnOptions{})
	if err := a.WriteTo(advert(5, 100), vrrp.GroupIPv4); err != nil {
		t.Fatal(err)
	}
	raw, m := readOne(t, b)
	var q vrrp.Packet
	if m.Src != netip.MustParseAddr("192.0.2.11") || vrrp.Accept(&q, raw, m, vrrp.CheckConfig{Version: 3, VRID: 5}) != vrrp.DropNone {
		t.Errorf("from configured source: meta %+v, Accept %v", m, vrrp.Accept(&q, raw, m, vrrp.CheckConfig{Version: 3, VRID: 5}))
	}
	var primary netip.Addr
	if err := p.a.Do(func() (err error) { primary, err = vrrp.PrimaryAddr("eth0", false); return err }); err != nil || primary != netip.MustParseAddr("192.0.2.1") {
		t.Errorf("PrimaryAddr = %v, %v; want 192.0.2.1", primary, err)
	}
	err := p.a.Do(func() error {
		for _, o := range []vrrp.ConnOptions{
			{Src: netip.MustParseAddr("2001:db8::1")},
			{Group: netip.MustParseAddr("192.0.2.5")},
			{Group: vrrp.GroupIPv6},
		} {
			if c, err := vrrp.ListenIPv4("eth0", o); err == nil {
				c.Close()
				t.Errorf("ListenIPv4 with %+v succeeded", o)
			}
		}
		if c, err := vrrp.ListenIPv4("nosuch0", vrrp.ConnOptions{}); err == nil {
			c.Close()
			t.Errorf("ListenIPv4 on a missing interface succeeded")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, _, err := b.ReadFrom(make([]byte, 100))
		done <- err
	}()
	b.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("ReadFrom after Close = %v, want net.ErrClosed", err)
		}
	case <-time.After(readTimeout):
		t.Fatal("Close did not unblock ReadFrom")
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	b2 := listenIn(t, p.b, false, vrrp.ConnOptions{})
	b2.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, _, err := b2.ReadFrom(make([]byte, 100)); !os.IsTimeout(err) {
		t.Errorf("ReadFrom past the deadline = %v, want a timeout", err)
	}
}

// afterLast reports whether the last occurrence of b in s comes after the
// last occurrence of a (and b occurs).
func afterLast(s, a, b string) bool {
	ib := strings.LastIndex(s, b)
	return ib >= 0 && ib > strings.LastIndex(s, a)
}

// TestConnBothFamilies: an IPv4 and an IPv6 instance may share a VRID on
// one interface (keepalived allows it); each family's Conn sees only its
// own adverts.
func TestConnBothFamilies(t *testing.T) {
	p := newPair(t)
	sentAfter := time.Now()
	a4, a6 := listenIn(t, p.a, false, vrrp.ConnOptions{}), listenIn(t, p.a, true, vrrp.ConnOptions{})
	b4, b6 := listenIn(t, p.b, false, vrrp.ConnOptions{}), listenIn(t, p.b, true, vrrp.ConnOptions{})
	if err := a6.WriteTo(advert(7, 60, netip.MustParseAddr("2001:db8::100")), vrrp.GroupIPv6); err != nil {
		t.Fatal(err)
	}
	if err := a4.WriteTo(advert(7, 40, netip.MustParseAddr("192.0.2.100")), vrrp.GroupIPv4); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		conn vrrp.Conn
		prio uint8
		is6  bool
	}{{b4, 40, false}, {b6, 60, true}} {
		raw, m := readOne(t, c.conn)
		// The kernel's receive stamp (SO_TIMESTAMPNS) lies between the
		// send and the read.
		if m.At.Before(sentAfter.Round(0)) || m.At.After(time.Now().Round(0)) {
			t.Errorf("ipv6=%v receive stamp %v not between the send (after %v) and now", c.is6, m.At, sentAfter)
		}
		var q vrrp.Packet
		if err := q.UnmarshalFamily(raw, m.Src.Is6()); err != nil || q.Priority != c.prio || m.Src.Is6() != c.is6 || q.Is6() != c.is6 {
			t.Errorf("ipv6=%v conn read priority %d from %v (err %v), want %d", c.is6, q.Priority, m.Src, err, c.prio)
		}
	}
}

// BenchmarkConnAdvert measures one advert sent by a real Conn and
// received, decoded and checked by another, across a veth pair: the CPU
// cost per advert sent plus received (both in one process).
func BenchmarkConnAdvert(b *testing.B) {
	for _, fam := range []struct {
		name string
		is6  bool
	}{{"ipv4", false}, {"ipv6", true}} {
		b.Run(fam.name, func(b *testing.B) {
			lab := testnet.New(b)
			ha, hb := lab.Host("a"), lab.Host("b")
			ia, ib := lab.Wire(ha, "eth0", hb, "eth0")
			ia.AddAddr(b, "192.0.2.1/24")
			ib.AddAddr(b, "192.0.2.2/24")
			waitLinkLocal(b, ha, "eth0")
			waitLinkLocal(b, hb, "eth0")
			var ca, cb vrrp.Conn
			listen := vrrp.ListenIPv4
			group, vip := vrrp.GroupIPv4, netip.MustParseAddr("192.0.2.100")
			if fam.is6 {
				listen, group, vip = vrrp.ListenIPv6, vrrp.GroupIPv6, netip.MustParseAddr("2001:db8::100")
			}
			if err := ha.Do(func() (err error) { ca, err = listen("eth0", vrrp.ConnOptions{}); return err }); err != nil {
				b.Fatal(err)
			}
			defer ca.Close()
			if err := hb.Do(func() (err error) { cb, err = listen("eth0", vrrp.ConnOptions{}); return err }); err != nil {
				b.Fatal(err)
			}
			defer cb.Close()
			pkt := advert(9, 100, vip)
			cfg := vrrp.CheckConfig{Version: 3, VRID: 9, Addrs: []netip.Addr{vip}}
			buf := make([]byte, vrrp.MaxMessageLen+60)
			var q vrrp.Packet
			b.ReportAllocs()
			for b.Loop() {
				if err := ca.WriteTo(pkt, group); err != nil {
					b.Fatal(err)
				}
				cb.SetReadDeadline(time.Now().Add(readTimeout))
				n, m, err := cb.ReadFrom(buf)
				if err != nil {
					b.Fatal(err)
				}
				if r := vrrp.Accept(&q, buf[:n], m, cfg); r != vrrp.DropNone {
					b.Fatal(r)
				}
			}
		})
	}
}

// TestPrimaryAddrSkipsTentative: the default IPv6 source is a link-local
// address that is usable now, not one still in duplicate address
// detection (sending from that fails with EINVAL).
func TestPrimaryAddrSkipsTentative(t *testing.T) {
	p := newPair(t)
	p.a.Sysctl(t, "net.ipv6.conf.eth0.accept_dad", "1")
	p.a.Sysctl(t, "net.ipv6.conf.eth0.dad_transmits", "100")
	p.a.Exec(t, "ip", "-6", "addr", "flush", "dev", "eth0", "scope", "link")
	p.a.Exec(t, "ip", "-6", "addr", "add", "fe80::98/64", "dev", "eth0", "nodad")
	// Added last: the kernel lists it first.
	p.a.Exec(t, "ip", "-6", "addr", "add", "fe80::99/64", "dev", "eth0")
	if out := p.a.Exec(t, "ip", "-6", "addr", "show", "dev", "eth0"); !strings.Contains(out, "fe80::99/64 scope link tentative") {
		t.Fatalf("setup: fe80::99 is not tentative:\n%s", out)
	}
	var got netip.Addr
	if err := p.a.Do(func() (err error) { got, err = vrrp.PrimaryAddr("eth0", true); return err }); err != nil {
		t.Fatal(err)
	}
	if got != netip.MustParseAddr("fe80::98") {
		t.Errorf("PrimaryAddr = %v, want fe80::98 (fe80::99 is tentative)", got)
	}
	c := listenIn(t, p.a, true, vrrp.ConnOptions{})
	if err := c.WriteTo(advert(3, 100), vrrp.GroupIPv6); err != nil {
		t.Errorf("WriteTo from the default source: %v", err)
	}
}

// BenchmarkConnWrite measures WriteTo alone (encode, checksum, sendmsg) of
// a multicast advert onto a veth whose far end nobody reads.
func BenchmarkConnWrite(b *testing.B) {
	lab := testnet.New(b)
	ha, hb := lab.Host("a"), lab.Host("b")
	ia, _ := lab.Wire(ha, "eth0", hb, "eth0")
	ia.AddAddr(b, "192.0.2.1/24")
	var c vrrp.Conn
	if err := ha.Do(func() (err error) { c, err = vrrp.ListenIPv4("eth0", vrrp.ConnOptions{}); return err }); err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	pkt := advert(9, 100, netip.MustParseAddr("192.0.2.100"))
	b.ReportAllocs()
	for b.Loop() {
		if err := c.WriteTo(pkt, vrrp.GroupIPv4); err != nil {
			b.Fatal(err)
		}
	}
}

// TestConnLinkFlap: while the interface is down WriteTo fails (the daemon
// counts it and carries on); once it is up again the same Conns exchange
// adverts without being reopened (group membership survives).
func TestConnLinkFlap(t *testing.T) {
	for _, fam := range []struct {
		name string
		is6  bool
	}{{"ipv4", false}, {"ipv6", true}} {
		t.Run(fam.name, func(t *testing.T) {
			t.Parallel()
			p := newPair(t)
			a := listenIn(t, p.a, fam.is6, vrrp.ConnOptions{})
			b := listenIn(t, p.b, fam.is6, vrrp.ConnOptions{})
			group := vrrp.GroupIPv4
			if fam.is6 {
				group = vrrp.GroupIPv6
			}
			p.aIf.Down(t)
			if err := a.WriteTo(advert(8, 1), group); err == nil {
				t.Errorf("WriteTo on a down interface succeeded")
			}
			p.aIf.Up(t)
			waitLinkLocal(t, p.a, "eth0")
			if err := a.WriteTo(advert(8, 2), group); err != nil {
				t.Fatalf("WriteTo after the link came back: %v", err)
			}
			raw, m := readOne(t, b)
			var q vrrp.Packet
			if err := q.UnmarshalFamily(raw, m.Src.Is6()); err != nil || q.Priority != 2 || m.Src != a.LocalAddr() {
				t.Errorf("after the flap b read priority %d from %v (err %v), want 2 from %v", q.Priority, m.Src, err, a.LocalAddr())
			}
		})
	}
}

// TestPrimaryAddrNotFromVIP: an IPv6 instance's first VIP is link-local,
// and a master adds it to the interface, where the kernel lists it before
// the interface's own link-local address. It must never become the source
// of adverts (the backup would see its own VIP as the master's address,
// and the pair would flap).
func TestPrimaryAddrNotFromVIP(t *testing.T) {
	p := newPair(t)
	p.a.Exec(t, "ip", "-6", "addr", "flush", "dev", "eth0", "scope", "link")
	p.a.Exec(t, "ip", "-6", "addr", "add", "fe80::98/64", "dev", "eth0", "nodad")
	// The VIP, added last: the kernel lists it first.
	vip := netip.MustParseAddr("fe80::51")
	p.a.Exec(t, "ip", "-6", "addr", "add", "fe80::51/64", "dev", "eth0", "nodad")
	var plain, got netip.Addr
	if err := p.a.Do(func() (err error) {
		if plain, err = vrrp.PrimaryAddr("eth0", true); err != nil {
			return err
		}
		got, err = vrrp.PrimaryAddr("eth0", true, vip)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if plain != vip {
		t.Fatalf("setup: without exclusions PrimaryAddr = %v, want the VIP %v listed first", plain, vip)
	}
	if got != netip.MustParseAddr("fe80::98") {
		t.Errorf("PrimaryAddr excluding the VIP = %v, want fe80::98", got)
	}
	c := listenIn(t, p.a, true, vrrp.ConnOptions{NotFrom: []netip.Addr{vip}})
	if c.LocalAddr() != netip.MustParseAddr("fe80::98") {
		t.Errorf("Listen with NotFrom: source %v, want fe80::98", c.LocalAddr())
	}
}

// TestConnReadAllocs: reading an advert from a real socket, with its
// sender, TTL and kernel receive stamp, and checking it allocate nothing.
// The adverts are queued before the count so that only the reads are
// measured.
func TestConnReadAllocs(t *testing.T) {
	for _, fam := range []struct {
		name string
		is6  bool
	}{{"ipv4", false}, {"ipv6", true}} {
		t.Run(fam.name, func(t *testing.T) {
			p := newPair(t)
			ca, cb := listenIn(t, p.a, fam.is6, vrrp.ConnOptions{}), listenIn(t, p.b, fam.is6, vrrp.ConnOptions{})
			group, vip := vrrp.GroupIPv4, netip.MustParseAddr("192.0.2.100")
			if fam.is6 {
				group, vip = vrrp.GroupIPv6, netip.MustParseAddr("2001:db8::100")
			}
			pkt := advert(9, 100, vip)
			cfg := vrrp.CheckConfig{Version: 3, VRID: 9, Addrs: []netip.Addr{vip}}
			const runs = 50
			for range runs + 1 { // AllocsPerRun runs once more to warm up
				if err := ca.WriteTo(pkt, group); err != nil {
					t.Fatal(err)
				}
			}
			cb.SetReadDeadline(time.Now().Add(readTimeout))
			buf := make([]byte, vrrp.MaxMessageLen+60)
			var q vrrp.Packet
			var bad error
			allocs := testing.AllocsPerRun(runs, func() {
				n, m, err := cb.ReadFrom(buf)
				if err != nil {
					bad = err
					return
				}
				if r := vrrp.Accept(&q, buf[:n], m, cfg); r != vrrp.DropNone {
					bad = fmt.Errorf("dropped: %v", r)
				}
				if m.At.IsZero() {
					bad = errors.New("no kernel receive stamp")
				}
			})
			if bad != nil {
				t.Fatal(bad)
			}
			if allocs != 0 {
				t.Errorf("%v allocations per advert read and checked, want 0", allocs)
			}
		})
	}
}

// TestConnWriteAllocs: encoding, checksumming and sending an advert on a
// real socket allocates nothing, to the group or to a unicast peer.
func TestConnWriteAllocs(t *testing.T) {
	for _, fam := range []struct {
		name      string
		is6       bool
		vip, peer string
	}{{"ipv4", false, "192.0.2.100", "192.0.2.2"}, {"ipv6", true, "2001:db8::100", "2001:db8::2"}} {
		t.Run(fam.name, func(t *testing.T) {
			p := newPair(t)
			c := listenIn(t, p.a, fam.is6, vrrp.ConnOptions{})
			group := vrrp.GroupIPv4
			if fam.is6 {
				group = vrrp.GroupIPv6
			}
			pkt := advert(9, 100, netip.MustParseAddr(fam.vip))
			for _, dst := range []netip.Addr{group, netip.MustParseAddr(fam.peer)} {
				var bad error
				allocs := testing.AllocsPerRun(50, func() {
					if err := c.WriteTo(pkt, dst); err != nil {
						bad = err
					}
				})
				if bad != nil {
					t.Fatal(bad)
				}
				if allocs != 0 {
					t.Errorf("%v allocations per advert sent to %v, want 0", allocs, dst)
				}
			}
		})
	}
}

// TestConnReadBatch: adverts queued on a real socket come back from one
// ReadBatch in the order sent, each with what ReadFrom gives (sender,
// destination, TTL, the kernel's stamp, the message without its IP
// header); a batch shorter than the queue leaves the rest for the next
// call, and the reads allocate nothing.
func TestConnReadBatch(t *testing.T) {
	for _, fam := range []struct {
		name string
		is6  bool
		vip  string
	}{{"ipv4", false, "192.0.2.100"}, {"ipv6", true, "2001:db8::100"}} {
		t.Run(fam.name, func(t *testing.T) {
			p := newPair(t)
			ca, cb := listenIn(t, p.a, fam.is6, vrrp.ConnOptions{}), listenIn(t, p.b, fam.is6, vrrp.ConnOptions{})
			br, ok := cb.(vrrp.BatchReader)
			if !ok {
				t.Fatalf("%T is not a vrrp.BatchReader", cb)
			}
			group, vip := vrrp.GroupIPv4, netip.MustParseAddr(fam.vip)
			if fam.is6 {
				group = vrrp.GroupIPv6
			}
			const queued = 7
			for i := range queued {
				if err := ca.WriteTo(advert(uint8(10+i), 100, vip), group); err != nil {
					t.Fatal(err)
				}
			}
			cb.SetReadDeadline(time.Now().Add(readTimeout))
			ms := make([]vrrp.Message, 5)
			for i := range ms {
				ms[i].Buf = make([]byte, vrrp.MaxMessageLen)
			}
			var got []vrrp.Message
			for len(got) < queued {
				n, err := br.ReadBatch(ms)
				if err != nil {
					t.Fatalf("after %d adverts: %v", len(got), err)
				}
				if n < 1 || n > len(ms) {
					t.Fatalf("ReadBatch = %d, want 1..%d", n, len(ms))
				}
				for _, m := range ms[:n] {
					got = append(got, vrrp.Message{Buf: append([]byte(nil), m.Buf[:m.N]...), N: m.N, Meta: m.Meta})
				}
			}
			if len(got) != queued {
				t.Fatalf("read %d adverts, want %d", len(got), queued)
			}
			for i, m := range got {
				vrid, ok := vrrp.PeekVRID(m.Buf)
				if !ok || vrid != uint8(10+i) {
					t.Errorf("advert %d: VRID %d (ok %v), want %d", i, vrid, ok, 10+i)
				}
				cfg := vrrp.CheckConfig{Version: 3, VRID: uint8(10 + i), Addrs: []netip.Addr{vip}}
				var q vrrp.Packet
				if r := vrrp.Accept(&q, m.Buf, m.Meta, cfg); r != vrrp.DropNone {
					t.Errorf("advert %d: %v (meta %+v)", i, r, m.Meta)
				}
				if m.Meta.Src != ca.LocalAddr() || m.Meta.Dst != group || m.Meta.TTL != vrrp.TTL || m.Meta.At.IsZero() {
					t.Errorf("advert %d: meta %+v, want from %v to %v, TTL 255, a receive stamp", i, m.Meta, ca.LocalAddr(), group)
				}
			}
			const runs = 20
			for range runs + 1 {
				if err := ca.WriteTo(advert(9, 100, vip), group); err != nil {
					t.Fatal(err)
				}
			}
			var bad error
			allocs := testing.AllocsPerRun(runs, func() {
				if _, err := br.ReadBatch(ms[:1]); err != nil {
					bad = err
				}
			})
			if bad != nil {
				t.Fatal(bad)
			}
			if allocs != 0 {
				t.Errorf("%v allocations per ReadBatch, want 0", allocs)
			}
		})
	}
}

// TestConnReadBatchClose: a ReadBatch blocked on an empty socket returns
// net.ErrClosed when the Conn is closed, and os.ErrDeadlineExceeded at its
// deadline, as ReadFrom does.
func TestConnReadBatchClose(t *testing.T) {
	p := newPair(t)
	c := listenIn(t, p.b, false, vrrp.ConnOptions{})
	ms := []vrrp.Message{{Buf: make([]byte, vrrp.MaxMessageLen)}}
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := vrrp.ReadBatch(c, ms); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("at the deadline: %v, want os.ErrDeadlineExceeded", err)
	}
	c.SetReadDeadline(time.Time{})
	errc := make(chan error, 1)
	go func() { _, err := vrrp.ReadBatch(c, ms); errc <- err }()
	time.Sleep(20 * time.Millisecond)
	c.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("after Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(readTimeout):
		t.Fatal("ReadBatch still blocked after Close")
	}
}

// BenchmarkConnBatch measures a burst of 8 adverts sent by a real Conn
// and read by another with ReadBatch across a veth pair, per advert
// (compare BenchmarkConnAdvert/ipv4: one advert, one ReadFrom).
func BenchmarkConnBatch(b *testing.B) {
	const burst = 8
	p := newPair(b)
	ca, cb := listenIn(b, p.a, false, vrrp.ConnOptions{}), listenIn(b, p.b, false, vrrp.ConnOptions{})
	vip := netip.MustParseAddr("192.0.2.100")
	pkts := make([]*vrrp.Packet, burst)
	for i := range pkts {
		pkts[i] = advert(uint8(i+1), 100, vip)
	}
	ms := make([]vrrp.Message, burst)
	for i := range ms {
		ms[i].Buf = make([]byte, vrrp.MaxMessageLen)
	}
	var q vrrp.Packet
	b.ReportAllocs()
	for b.Loop() {
		for _, pkt := range pkts {
			if err := ca.WriteTo(pkt, vrrp.GroupIPv4); err != nil {
				b.Fatal(err)
			}
		}
		cb.SetReadDeadline(time.Now().Add(readTimeout))
		for got := 0; got < burst; {
			n, err := vrrp.ReadBatch(cb, ms)
			if err != nil {
				b.Fatal(err)
			}
			for _, m := range ms[:n] {
				cfg := vrrp.CheckConfig{Version: 3, Addrs: []netip.Addr{vip}}
				cfg.VRID, _ = vrrp.PeekVRID(m.Buf[:m.N])
				if r := vrrp.Accept(&q, m.Buf[:m.N], m.Meta, cfg); r != vrrp.DropNone {
					b.Fatal(r)
				}
			}
			got += n
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*burst), "ns/advert")
}
