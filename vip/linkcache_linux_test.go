package vip_test

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/testnet"
	"github.com/vigil-ha/vigil/vip"
)

// linkIndex reads dev's index with iproute2, independently of the code
// under test.
func linkIndex(t *testing.T, h *testnet.Host, dev string) int {
	t.Helper()
	out := h.Exec(t, "cat", "/sys/class/net/"+dev+"/ifindex")
	i, err := strconv.Atoi(string(bytes.TrimSpace([]byte(out))))
	if err != nil {
		t.Fatalf("ifindex of %s: %q: %v", dev, out, err)
	}
	return i
}

// vethUp creates the veth pair name–peer on h and brings both ends up.
func vethUp(t *testing.T, h *testnet.Host, name, peer string) {
	t.Helper()
	h.Exec(t, "ip", "link", "add", name, "type", "veth", "peer", "name", peer)
	h.Exec(t, "ip", "link", "set", name, "up")
	h.Exec(t, "ip", "link", "set", peer, "up")
}

// announceLab is a host "r" with the veth pair va0–va1 up and
// 2001:db8::10 on va0 (mk creates them again after a deletion), an
// Announcer, an IPv4 and an IPv6 VIP and the MAC to announce them with.
func announceLab(t *testing.T) (h *testnet.Host, mk func(), ann *vip.Announcer, vips []netip.Addr, mac net.HardwareAddr) {
	t.Helper()
	h = testnet.New(t).Host("r")
	mk = func() {
		vethUp(t, h, "va0", "va1")
		h.Exec(t, "ip", "addr", "add", "2001:db8::10/128", "dev", "va0", "nodad")
	}
	mk()
	ann = vip.NewAnnouncer(testLog(t))
	t.Cleanup(func() { ann.Close() })
	vips = []netip.Addr{netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("2001:db8::10")}
	return h, mk, ann, vips, net.HardwareAddr{0x02, 0, 0x5e, 0, 0, 0x0a}
}

// TestAddAfterInterfaceRecreated: the Manager caches the index of an
// interface it added an address to; when the interface is deleted and
// created again under the same name (a new index), the next addition
// still lands on it, with nobody telling the Manager (the kernel refuses
// the stale index and the name is resolved again).
func TestAddAfterInterfaceRecreated(t *testing.T) {
	_, h, _, m := oneHost(t)
	mk := func() { vethUp(t, h, "vd0", "vd1") }
	mk()
	first := linkIndex(t, h, "vd0")
	a := vip.Address{Prefix: pfx("192.0.2.10/32"), Dev: "vd0"}
	b := vip.Address{Prefix: pfx("2001:db8::10/128"), Dev: "vd0"}
	if err := m.AddAddresses(ctx(t), []vip.Address{a, b}); err != nil {
		t.Fatalf("AddAddresses: %v", err)
	}
	h.Exec(t, "ip", "link", "del", "vd0")
	mk()
	if second := linkIndex(t, h, "vd0"); second == first {
		t.Fatalf("recreated vd0 kept index %d: the test needs a new one", first)
	}
	if err := m.AddAddresses(ctx(t), []vip.Address{a, b}); err != nil {
		t.Fatalf("AddAddresses after vd0 was recreated: %v", err)
	}
	as := kernelAddrs(t, h, "vd0")
	for _, w := range []struct {
		local string
		plen  int
	}{{"192.0.2.10", 32}, {"2001:db8::10", 128}} {
		if _, ok := findAddr(as, w.local, w.plen); !ok {
			t.Errorf("%s/%d not on the recreated vd0: %+v", w.local, w.plen, as)
		}
	}
	if s := m.Stats(); s.AddrsAdded != 4 || s.Errors != 0 {
		t.Errorf("Stats = %+v, want 4 added, 0 errors", s)
	}

	// Gone for good: the stale index is refused, the name resolves to
	// nothing, and that is the usual ErrNoDevice naming the interface.
	h.Exec(t, "ip", "link", "del", "vd0")
	err := m.AddAddresses(ctx(t), []vip.Address{a})
	if !errors.Is(err, vip.ErrNoDevice) || !bytes.Contains([]byte(err.Error()), []byte(`"vd0"`)) {
		t.Errorf("AddAddresses on a deleted interface: %v, want ErrNoDevice naming vd0", err)
	}
}

// TestAddAfterIndexReused: an index the kernel gave to another interface
// cannot be noticed by the kernel's refusal, only by InterfaceChanged: once
// told, the Manager resolves the name again and the address lands on the
// new vd0, not on the interface that now holds the old index.
func TestAddAfterIndexReused(t *testing.T) {
	_, h, _, m := oneHost(t)
	vethUp(t, h, "vd0", "vd1")
	old := linkIndex(t, h, "vd0")
	a := vip.Address{Prefix: pfx("192.0.2.10/32"), Dev: "vd0"}
	if err := m.AddAddresses(ctx(t), []vip.Address{a}); err != nil {
		t.Fatalf("AddAddresses: %v", err)
	}
	if err := m.RemoveAddresses(ctx(t), []vip.Address{a}); err != nil {
		t.Fatalf("RemoveAddresses: %v", err)
	}
	h.Exec(t, "ip", "link", "del", "vd0")
	h.Exec(t, "ip", "link", "add", "other0", "index", strconv.Itoa(old), "type", "veth", "peer", "name", "other1")
	vethUp(t, h, "vd0", "vd1")
	if got := linkIndex(t, h, "other0"); got != old {
		t.Fatalf("other0 has index %d, want vd0's old %d", got, old)
	}
	m.InterfaceChanged("vd0")
	if err := m.AddAddresses(ctx(t), []vip.Address{a}); err != nil {
		t.Fatalf("AddAddresses: %v", err)
	}
	if _, ok := findAddr(kernelAddrs(t, h, "vd0"), "192.0.2.10", 32); !ok {
		t.Errorf("192.0.2.10/32 not on the new vd0")
	}
	if as := kernelAddrs(t, h, "other0"); len(as) != 0 {
		t.Errorf("other0, holding vd0's old index %d, got addresses: %+v", old, as)
	}
}

// TestPrepareOpensAhead: Prepare opens the ARP and ICMPv6 sockets without
// sending anything; the Announce after it opens none; after the interface
// is recreated Prepare opens new ones, and the next Announce goes out on
// the new interface through them.
func TestPrepareOpensAhead(t *testing.T) {
	h, mk, ann, vips, mac := announceLab(t)

	round := func(name string, opened uint64) {
		t.Helper()
		c := h.Capture(t, "va1", "arp or icmp6")
		for range 2 { // a second Prepare keeps what is open
			if err := h.Do(func() error { return ann.Prepare("va0", vips) }); err != nil {
				t.Fatalf("%s: Prepare: %v", name, err)
			}
		}
		s := ann.Stats()
		if s.SocketsOpened != opened || s.GARPsSent+s.NAsSent != (opened-2) {
			t.Fatalf("%s: after Prepare, Stats = %+v, want %d sockets opened and nothing more sent", name, s, opened)
		}
		if err := h.Do(func() error { return ann.Announce("va0", vips, mac, false) }); err != nil {
			t.Fatalf("%s: Announce: %v", name, err)
		}
		if s := ann.Stats(); s.SocketsOpened != opened {
			t.Errorf("%s: Announce opened sockets: %+v", name, s)
		}
		testnet.Eventually(t, 10*time.Second, func() bool {
			g, n := parseAnnouncements(t, capturedSoFar(c))
			return len(g) >= 1 && len(n) >= 1
		}, "%s: GARP and NA not captured on va1", name)
		c.Stop(t)
	}
	round("first interface", 2)
	h.Exec(t, "ip", "link", "del", "va0")
	mk()
	round("recreated interface", 4)

	// IPv4 alone needs only the ARP socket.
	err := h.Do(func() error { return ann.Prepare("nosuch0", vips[:1]) })
	if !errors.Is(err, vip.ErrNoDevice) || !bytes.Contains([]byte(err.Error()), []byte("nosuch0")) {
		t.Errorf("Prepare on a missing interface: %v, want ErrNoDevice naming it", err)
	}
	if s := ann.Stats(); s.SendErrors != 0 || s.SocketsOpened != 4 {
		t.Errorf("a failed Prepare changed the counters: %+v", s)
	}
}

// TestResolveInterfacesAhead: ResolveInterfaces looks an interface up by
// name once, and the address additions on it after that look nothing up
// (InterfaceLookups stays put); an interface that does not exist is
// reported as ErrNoDevice and looked up again by the addition that needs
// it. Without the call ahead, the first addition makes the lookup.
func TestResolveInterfacesAhead(t *testing.T) {
	_, h, _, m := oneHost(t)
	vethUp(t, h, "vd0", "vd1")
	if err := m.ResolveInterfaces(ctx(t), []string{"vd0", "vdx"}); !errors.Is(err, vip.ErrNoDevice) || !strings.Contains(err.Error(), "vdx") {
		t.Fatalf("ResolveInterfaces(vd0, vdx) = %v, want ErrNoDevice naming vdx", err)
	}
	if n := m.Stats().InterfaceLookups; n != 2 {
		t.Fatalf("%d lookups by name, want 2", n)
	}
	if err := m.AddAddresses(ctx(t), []vip.Address{{Prefix: pfx("192.0.2.10/32"), Dev: "vd0"}, {Prefix: pfx("2001:db8::10/128"), Dev: "vd0"}}); err != nil {
		t.Fatalf("AddAddresses: %v", err)
	}
	if n := m.Stats().InterfaceLookups; n != 2 {
		t.Errorf("%d lookups by name after the additions on vd0, want still 2", n)
	}
	if got := len(kernelAddrs(t, h, "vd0")); got < 2 {
		t.Errorf("%d addresses on vd0, want the two added", got)
	}
	if err := m.ResolveInterfaces(ctx(t), []string{"vd0"}); err != nil || m.Stats().InterfaceLookups != 2 {
		t.Errorf("ResolveInterfaces(vd0) again: %v, %d lookups: want nil, 2", err, m.Stats().InterfaceLookups)
	}
	vethUp(t, h, "vdx", "vdy")
	if err := m.AddAddresses(ctx(t), []vip.Address{{Prefix: pfx("192.0.2.11/32"), Dev: "vdx"}}); err != nil {
		t.Fatalf("AddAddresses on vdx: %v", err)
	}
	if n := m.Stats().InterfaceLookups; n != 3 {
		t.Errorf("%d lookups by name after the first addition on vdx, want 3", n)
	}
}
