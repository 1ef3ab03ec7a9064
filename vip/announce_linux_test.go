package vip_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
	"github.com/vigil-ha/vigil/testnet"
	"github.com/vigil-ha/vigil/vip"
	"golang.org/x/net/icmp"
)

// seenGARP is a gratuitous ARP found in a capture.
type seenGARP struct {
	eth ethernet.Frame
	arp arp.Packet
}

// seenNA is a neighbour advertisement found in a capture.
type seenNA struct {
	eth      ethernet.Frame
	src, dst netip.Addr
	hopLimit uint8
	na       *ndp.NeighborAdvertisement
}

// parseAnnouncements decodes the frames with mdlayher/arp and mdlayher/ndp
// and keeps the GARPs (sender IP = target IP) and the NAs.
func parseAnnouncements(t *testing.T, pkts []testnet.Packet) (garps []seenGARP, nas []seenNA) {
	t.Helper()
	for _, p := range pkts {
		var f ethernet.Frame
		if err := f.UnmarshalBinary(p.Data); err != nil {
			continue
		}
		switch f.EtherType {
		case ethernet.EtherTypeARP:
			var a arp.Packet
			if err := a.UnmarshalBinary(f.Payload); err != nil {
				t.Errorf("undecodable ARP % x: %v", f.Payload, err)
				continue
			}
			if a.SenderIP == a.TargetIP {
				garps = append(garps, seenGARP{f, a})
			}
		case ethernet.EtherTypeIPv6:
			b := f.Payload
			if len(b) < 40 || b[6] != 58 { // next header ICMPv6, no extension headers
				continue
			}
			plen := int(binary.BigEndian.Uint16(b[4:6]))
			if len(b) < 40+plen {
				continue
			}
			m, err := ndp.ParseMessage(b[40 : 40+plen])
			if err != nil {
				continue // MLD and other ICMPv6
			}
			na, ok := m.(*ndp.NeighborAdvertisement)
			if !ok {
				continue
			}
			src, _ := netip.AddrFromSlice(b[8:24])
			dst, _ := netip.AddrFromSlice(b[24:40])
			nas = append(nas, seenNA{f, src, dst, b[7], na})
		}
	}
	return garps, nas
}

// capturedSoFar reads the pcap tcpdump is writing (it writes packet by packet).
func capturedSoFar(c *testnet.Capture) []testnet.Packet {
	f, err := os.Open(c.Path())
	if err != nil {
		return nil
	}
	defer f.Close()
	_, pkts, _ := testnet.ReadPcap(f)
	return pkts
}

// neighMAC returns the client's neighbour entry for ip on dev, or nil.
func neighMAC(t *testing.T, h *testnet.Host, ip, dev string) net.HardwareAddr {
	t.Helper()
	out := h.Exec(t, "ip", "-j", "neigh", "show", "to", ip, "dev", dev)
	var ns []struct {
		Lladdr string `json:"lladdr"`
	}
	if err := json.Unmarshal([]byte(out), &ns); err != nil {
		t.Fatalf("ip -j neigh: %v\n%s", err, out)
	}
	if len(ns) == 0 || ns[0].Lladdr == "" {
		return nil
	}
	mac, err := net.ParseMAC(ns[0].Lladdr)
	if err != nil {
		t.Fatalf("neighbour lladdr %q: %v", ns[0].Lladdr, err)
	}
	return mac
}

// TestAnnounceTakeover is a VIP moving from host "old" to host "new" on one
// switch. The client first talks to the VIPs on "old", so its neighbour
// cache holds old's MAC. "new" adds the VIPs and announces them once. The
// client's capture must hold exactly one GARP (request form, sender IP =
// target IP = VIP, new's MAC, broadcast) and one unsolicited NA (to ff02::1,
// hop limit 255, S=0, O=1, R=1, target link-layer option = new's MAC) per
// address, and the client's neighbour entries must switch to new's MAC by
// themselves (no arp_accept needed: Linux updates an existing entry from a
// GARP and from an NA with O=1), and still hold it after a ping.
func TestAnnounceTakeover(t *testing.T) {
	l := testnet.New(t)
	sw := l.Switch("sw")
	oldH, newH, client := l.Host("old"), l.Host("new"), l.Host("client")
	oldEth, newEth, cEth := sw.Attach(oldH, "eth0"), sw.Attach(newH, "eth0"), sw.Attach(client, "eth0")
	oldEth.AddAddr(t, "192.0.2.2/24")
	oldEth.AddAddr(t, "2001:db8::2/64")
	newEth.AddAddr(t, "192.0.2.3/24")
	newEth.AddAddr(t, "2001:db8::3/64")
	cEth.AddAddr(t, "192.0.2.100/24")
	cEth.AddAddr(t, "2001:db8::100/64")
	const vip4, vip6 = "192.0.2.10", "2001:db8::10"
	oldEth.AddAddr(t, vip4+"/32")
	oldEth.AddAddr(t, vip6+"/128")

	// The client learns old's MAC for both VIPs.
	client.Exec(t, "ping", "-c", "1", "-W", "5", vip4)
	client.Exec(t, "ping", "-6", "-c", "1", "-W", "5", vip6)
	for _, ip := range []string{vip4, vip6} {
		if got := neighMAC(t, client, ip, "eth0"); !macEqual(got, oldEth.MAC()) {
			t.Fatalf("client neighbour for %s = %v, want old's %v", ip, got, oldEth.MAC())
		}
	}

	// Takeover: old drops the VIPs, new adds them and announces.
	oldH.Exec(t, "ip", "addr", "del", vip4+"/32", "dev", "eth0")
	oldH.Exec(t, "ip", "addr", "del", vip6+"/128", "dev", "eth0")
	m, err := vip.NewManagerAt(testLog(t), newH.NsHandle())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.AddAddresses(ctx(t), []vip.Address{
		{Prefix: pfx(vip4 + "/32"), Dev: "eth0"},
		{Prefix: pfx(vip6 + "/128"), Dev: "eth0"},
	}); err != nil {
		t.Fatal(err)
	}
	capt := client.Capture(t, "eth0", "arp or icmp6")
	ann := vip.NewAnnouncer(testLog(t))
	defer ann.Close()
	vips := []netip.Addr{netip.MustParseAddr(vip4), netip.MustParseAddr(vip6)}
	if err := newH.Do(func() error { return ann.Announce("eth0", vips, nil, true) }); err != nil {
		t.Fatalf("Announce: %v", err)
	}
	testnet.Eventually(t, 10*time.Second, func() bool {
		g, n := parseAnnouncements(t, capturedSoFar(capt))
		return len(g) >= 1 && len(n) >= 1
	}, "client did not capture the GARP and the NA")
	garps, nas := parseAnnouncements(t, capt.Stop(t))

	mac := newEth.MAC()
	if len(garps) != 1 {
		t.Fatalf("captured %d GARPs, want exactly 1: %+v", len(garps), garps)
	}
	g := garps[0]
	if !bytes.Equal(g.eth.Destination, ethernet.Broadcast) || !bytes.Equal(g.eth.Source, mac) ||
		g.arp.Operation != arp.OperationRequest || g.arp.SenderIP != vips[0] || g.arp.TargetIP != vips[0] ||
		!bytes.Equal(g.arp.SenderHardwareAddr, mac) || !bytes.Equal(g.arp.TargetHardwareAddr, ethernet.Broadcast) {
		t.Errorf("GARP = eth %v->%v %+v; want broadcast request from %v for %s", g.eth.Source, g.eth.Destination, g.arp, mac, vip4)
	}
	if len(nas) != 1 {
		t.Fatalf("captured %d NAs, want exactly 1: %+v", len(nas), nas)
	}
	n := nas[0]
	var tlla net.HardwareAddr
	for _, o := range n.na.Options {
		if lla, ok := o.(*ndp.LinkLayerAddress); ok && lla.Direction == ndp.Target {
			tlla = lla.Addr
		}
	}
	if n.dst != netip.MustParseAddr("ff02::1") || n.hopLimit != 255 || n.na.Solicited || !n.na.Override ||
		!n.na.Router || n.na.TargetAddress != vips[1] || !bytes.Equal(tlla, mac) || !bytes.Equal(n.eth.Source, mac) ||
		n.src != vips[1] {
		t.Errorf("NA = %v->%v hop %d %+v tlla %v; want from the VIP to ff02::1, hop 255, S=0 O=1 R=1, target %s, tlla %v",
			n.src, n.dst, n.hopLimit, n.na, tlla, vip6, mac)
	}

	// The client's cache moved to new's MAC from the announcements alone.
	for _, ip := range []string{vip4, vip6} {
		if got := neighMAC(t, client, ip, "eth0"); !macEqual(got, mac) {
			t.Errorf("after announce, client neighbour for %s = %v, want new's %v (old's was %v)", ip, got, mac, oldEth.MAC())
		}
	}
	client.Exec(t, "ping", "-c", "1", "-W", "5", vip4)
	client.Exec(t, "ping", "-6", "-c", "1", "-W", "5", vip6)
	for _, ip := range []string{vip4, vip6} {
		if got := neighMAC(t, client, ip, "eth0"); !macEqual(got, mac) {
			t.Errorf("after ping, client neighbour for %s = %v, want %v", ip, got, mac)
		}
	}
	if s := ann.Stats(); s.GARPsSent != 1 || s.NAsSent != 1 || s.SendErrors != 0 {
		t.Errorf("Stats = %+v, want 1 GARP, 1 NA, 0 errors", s)
	}
}

// announceTwice announces vips on announceLab's va0 for mac twice (the
// second through the cached sockets) and returns the GARPs and NAs
// captured on va1, at least two of each; step names the test's step.
func announceTwice(t *testing.T, h *testnet.Host, ann *vip.Announcer, vips []netip.Addr, mac net.HardwareAddr, step string) ([]seenGARP, []seenNA) {
	t.Helper()
	c := h.Capture(t, "va1", "arp or icmp6")
	for range 2 {
		if err := h.Do(func() error { return ann.Announce("va0", vips, mac, false) }); err != nil {
			t.Fatalf("%s: Announce: %v", step, err)
		}
	}
	testnet.Eventually(t, 10*time.Second, func() bool {
		g, n := parseAnnouncements(t, capturedSoFar(c))
		return len(g) >= 2 && len(n) >= 2
	}, "%s: GARPs and NAs not captured on va1", step)
	return parseAnnouncements(t, c.Stop(t))
}

// TestAnnounceReopen: the Announcer reuses its sockets, notices when the
// interface is deleted and created again under the same name, and sends on
// the new one without an error; a missing interface is an ErrNoDevice
// naming it, counted as a send error.
func TestAnnounceReopen(t *testing.T) {
	h, mk, ann, vips, mac := announceLab(t)

	round := func(name string) {
		t.Helper()
		garps, nas := announceTwice(t, h, ann, vips, mac, name)
		for _, g := range garps {
			if !bytes.Equal(g.arp.SenderHardwareAddr, mac) || !bytes.Equal(g.eth.Source, mac) {
				t.Errorf("%s: GARP not from the given MAC %v: %+v", name, mac, g.arp)
			}
		}
		for _, n := range nas {
			if n.na.Router {
				t.Errorf("%s: NA has R=1 with router=false", name)
			}
		}
	}
	round("first interface")
	h.Exec(t, "ip", "link", "del", "va0")
	mk()
	round("recreated interface")
	if s := ann.Stats(); s.GARPsSent != 4 || s.NAsSent != 4 || s.SendErrors != 0 {
		t.Errorf("Stats = %+v, want 4 GARPs, 4 NAs, 0 errors", s)
	}

	err := h.Do(func() error { return ann.Announce("nosuch0", vips, mac, false) })
	if !errors.Is(err, vip.ErrNoDevice) || !bytes.Contains([]byte(err.Error()), []byte("nosuch0")) {
		t.Errorf("Announce on a missing interface: %v, want ErrNoDevice naming it", err)
	}
	if s := ann.Stats(); s.SendErrors != 2 {
		t.Errorf("SendErrors = %d, want 2", s.SendErrors)
	}
}

// TestAnnounceOwnMAC: with mac nil every round is sent for the
// interface's MAC as it is now: the one it had, and after it was changed,
// the new one, in the Ethernet source, the ARP sender and the NA's target
// link-layer option alike.
func TestAnnounceOwnMAC(t *testing.T) {
	h, _, ann, vips, _ := announceLab(t)
	round := func(name string, want net.HardwareAddr) {
		t.Helper()
		garps, nas := announceTwice(t, h, ann, vips, nil, name)
		for _, g := range garps {
			if !bytes.Equal(g.arp.SenderHardwareAddr, want) || !bytes.Equal(g.eth.Source, want) {
				t.Errorf("%s: GARP from %v / %v, want %v", name, g.eth.Source, g.arp.SenderHardwareAddr, want)
			}
		}
		for _, n := range nas {
			var lla net.HardwareAddr
			for _, o := range n.na.Options {
				if l, ok := o.(*ndp.LinkLayerAddress); ok && l.Direction == ndp.Target {
					lla = l.Addr
				}
			}
			if !bytes.Equal(n.eth.Source, want) || !bytes.Equal(lla, want) {
				t.Errorf("%s: NA from %v for %v, want %v", name, n.eth.Source, lla, want)
			}
		}
	}
	first, err := net.ParseMAC(strings.TrimSpace(h.Exec(t, "cat", "/sys/class/net/va0/address")))
	if err != nil {
		t.Fatal(err)
	}
	round("the interface's MAC", first)
	changed := net.HardwareAddr{0x02, 0, 0x5e, 0, 0x01, 0x99}
	h.Exec(t, "ip", "link", "set", "va0", "address", changed.String())
	round("the MAC changed", changed)
}

// TestAnnounceLinkDown: sending on an interface that is down fails, is
// counted, and the next Announce after the link is back works (the failed
// sockets were dropped and reopened).
func TestAnnounceLinkDown(t *testing.T) {
	l := testnet.New(t)
	h := l.Host("r")
	eth := l.Switch("sw").Attach(h, "eth0")
	eth.AddAddr(t, "2001:db8::10/128")
	ann := vip.NewAnnouncer(testLog(t))
	defer ann.Close()
	vips := []netip.Addr{netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("2001:db8::10")}
	send := func() error { return h.Do(func() error { return ann.Announce("eth0", vips, nil, false) }) }
	if err := send(); err != nil {
		t.Fatalf("Announce: %v", err)
	}
	eth.Down(t)
	err := send()
	if err == nil {
		t.Fatal("Announce on a down interface succeeded")
	}
	for _, s := range []string{"192.0.2.10", "2001:db8::10", "eth0"} {
		if !bytes.Contains([]byte(err.Error()), []byte(s)) {
			t.Errorf("error %q does not name %s", err, s)
		}
	}
	if s := ann.Stats(); s.SendErrors != 2 || s.GARPsSent != 1 || s.NAsSent != 1 {
		t.Errorf("Stats after the failure = %+v", s)
	}
	eth.Up(t)
	if err := send(); err != nil {
		t.Fatalf("Announce after the link came back: %v", err)
	}
	if s := ann.Stats(); s.GARPsSent != 2 || s.NAsSent != 2 {
		t.Errorf("Stats after recovery = %+v", s)
	}
}

// TestAnnounceNANotLoopedBack: an unsolicited NA leaves for the segment
// and is not looped back to the announcing host's own IPv6 stack (a
// listener there hears nothing), as keepalived's, sent on a packet
// socket, are not; a listener on the other host hears it.
func TestAnnounceNANotLoopedBack(t *testing.T) {
	l := testnet.New(t)
	sw := l.Switch("sw")
	h, peer := l.Host("h"), l.Host("peer")
	hEth, pEth := sw.Attach(h, "eth0"), sw.Attach(peer, "eth0")
	hEth.AddAddr(t, "2001:db8::3/64")
	pEth.AddAddr(t, "2001:db8::100/64")
	const vip6 = "2001:db8::10"
	h.Exec(t, "ip", "addr", "add", vip6+"/128", "dev", "eth0", "nodad")
	// listen opens, in host's namespace, a raw ICMPv6 socket that
	// counts the neighbour advertisements for vip6 it receives.
	listen := func(host *testnet.Host) *icmp.PacketConn {
		var c *icmp.PacketConn
		if err := host.Do(func() (err error) { c, err = icmp.ListenPacket("ip6:ipv6-icmp", "::"); return err }); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	// nas counts what c hears within wait, up to enough.
	nas := func(c *icmp.PacketConn, wait time.Duration, enough int) int {
		n := 0
		b := make([]byte, 1500)
		deadline := time.Now().Add(wait)
		for {
			if err := c.SetReadDeadline(deadline); err != nil {
				t.Fatal(err)
			}
			k, _, err := c.ReadFrom(b)
			if err != nil {
				return n
			}
			if m, err := ndp.ParseMessage(b[:k]); err == nil {
				if na, ok := m.(*ndp.NeighborAdvertisement); ok && na.TargetAddress == netip.MustParseAddr(vip6) {
					if n++; n >= enough {
						return n
					}
				}
			}
		}
	}
	local, remote := listen(h), listen(peer)
	ann := vip.NewAnnouncer(testLog(t))
	defer ann.Close()
	if err := h.Do(func() error {
		return ann.Announce("eth0", []netip.Addr{netip.MustParseAddr(vip6)}, hEth.MAC(), false)
	}); err != nil {
		t.Fatal(err)
	}
	if n := nas(remote, 5*time.Second, 1); n != 1 {
		t.Fatalf("the peer heard %d NAs for %s, want 1", n, vip6)
	}
	// A looped-back copy is delivered within the sending call, as the
	// peer's is: 200 ms is ample.
	if n := nas(local, 200*time.Millisecond, 1); n != 0 {
		t.Errorf("the announcing host heard %d of its own NAs for %s, want 0", n, vip6)
	}
}
