package vip_test

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/vigil-ha/vigil/testnet"
	"github.com/vigil-ha/vigil/vip"
)

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// TestAddIPv4 adds /32 and /24 VIPs with label, brd (explicit and "+"),
// scope and a peer, checks each attribute with iproute2, then adds them
// again and proves that the second call sent nothing to the kernel.
func TestAddIPv4(t *testing.T) {
	_, h, _, m := oneHost(t)
	want := []vip.Address{
		{Prefix: pfx("192.0.2.10/32"), Dev: "eth0", Label: "eth0:vip1"},
		{Prefix: pfx("192.0.2.20/24"), Dev: "eth0", BroadcastAuto: true, Label: "eth0:vip2"}, // secondary to 192.0.2.1/24
		{Prefix: pfx("198.51.100.20/24"), Dev: "eth0", BroadcastAuto: true, Scope: "link"},
		{Prefix: pfx("192.0.2.30/24"), Dev: "eth0"}, // no brd: none set (vishvananda would compute one)
		{Prefix: pfx("198.51.100.5/32"), Dev: "eth0", Broadcast: netip.MustParseAddr("198.51.100.255"), Scope: "host"},
		{Prefix: pfx("203.0.113.1/32"), Dev: "eth0", Peer: pfx("203.0.113.2/32")},
	}
	if err := m.AddAddresses(ctx(t), want); err != nil {
		t.Fatalf("AddAddresses: %v", err)
	}
	as := kernelAddrs(t, h, "eth0")
	checks := []struct {
		local     string
		plen      int
		brd       string
		scope     string
		label     string
		peer      string
		wantFound bool
	}{
		{"192.0.2.10", 32, "", "global", "eth0:vip1", "", true},
		{"192.0.2.20", 24, "192.0.2.255", "global", "eth0:vip2", "", true},
		{"198.51.100.20", 24, "198.51.100.255", "link", "eth0", "", true},
		{"192.0.2.30", 24, "", "global", "eth0", "", true},
		{"198.51.100.5", 32, "198.51.100.255", "host", "eth0", "", true},
		{"203.0.113.1", 32, "", "global", "eth0", "203.0.113.2", true},
	}
	for _, c := range checks {
		a, ok := findAddr(as, c.local, c.plen)
		if !ok {
			t.Errorf("%s/%d not in kernel: %+v", c.local, c.plen, as)
			continue
		}
		if a.Broadcast != c.brd || a.Scope != c.scope || a.Label != c.label || (c.peer != "" && a.Address != c.peer) {
			t.Errorf("%s/%d: got brd=%q scope=%q label=%q peer=%q; want brd=%q scope=%q label=%q peer=%q",
				c.local, c.plen, a.Broadcast, a.Scope, a.Label, a.Address, c.brd, c.scope, c.label, c.peer)
		}
	}
	if got := m.Stats().AddrsAdded; got != uint64(len(want)) {
		t.Errorf("AddrsAdded = %d, want %d", got, len(want))
	}
	present, err := m.Present(ctx(t), want)
	if err != nil || !reflect.DeepEqual(present, want) {
		t.Errorf("Present = %v, %v; want all %d", present, err, len(want))
	}

	// Idempotence: the same call again is a no-op, with no netlink change.
	ev := watchAddrs(t, h)
	if err := m.AddAddresses(ctx(t), want); err != nil {
		t.Fatalf("second AddAddresses: %v", err)
	}
	if evs := ev.until(t, markAddr(t, h, "203.0.113.250")); len(evs) != 0 {
		t.Errorf("second AddAddresses changed kernel addresses: %+v", evs)
	}
	if again := kernelAddrs(t, h, "eth0"); !reflect.DeepEqual(again, as) {
		t.Errorf("addresses changed by the second add:\nbefore %+v\nafter  %+v", as, again)
	}
	if got := m.Stats().AddrsAdded; got != uint64(len(want)) {
		t.Errorf("AddrsAdded after second add = %d, want %d", got, len(want))
	}
}

// TestAddIPv6 checks IFA_F_NODAD on every IPv6 VIP, noprefixroute and
// preferred_lft 0 (deprecated), idempotence without events, and that an
// IPv6 address held with another prefix length is a conflict, left alone.
func TestAddIPv6(t *testing.T) {
	_, h, _, m := oneHost(t)
	zero := 0
	want := []vip.Address{
		{Prefix: pfx("2001:db8::10/128"), Dev: "eth0"},
		{Prefix: pfx("2001:db8:1::1/64"), Dev: "eth0", NoPrefixRoute: true},
		{Prefix: pfx("2001:db8:2::1/128"), Dev: "eth0", PreferredLft: &zero},
	}
	if err := m.AddAddresses(ctx(t), want); err != nil {
		t.Fatalf("AddAddresses: %v", err)
	}
	as := kernelAddrs(t, h, "eth0")
	for _, w := range want {
		a, ok := findAddr(as, w.Prefix.Addr().String(), w.Prefix.Bits())
		if !ok {
			t.Errorf("%s not in kernel: %+v", w.Prefix, as)
			continue
		}
		if !a.NoDAD || a.Tentative {
			t.Errorf("%s: nodad=%v tentative=%v, want nodad and not tentative", w.Prefix, a.NoDAD, a.Tentative)
		}
		if a.NoPrefixRoute != w.NoPrefixRoute {
			t.Errorf("%s: noprefixroute=%v, want %v", w.Prefix, a.NoPrefixRoute, w.NoPrefixRoute)
		}
		if dep := w.PreferredLft != nil; a.Deprecated != dep || (dep && a.PreferredLft != 0) {
			t.Errorf("%s: deprecated=%v preferred_lft=%d", w.Prefix, a.Deprecated, a.PreferredLft)
		}
	}
	for _, r := range kernelRoutes(t, h, "-6") {
		if r.Dst == "2001:db8:1::/64" {
			t.Errorf("noprefixroute address got a prefix route: %+v", r)
		}
	}

	ev := watchAddrs(t, h)
	if err := m.AddAddresses(ctx(t), want); err != nil {
		t.Fatalf("second AddAddresses: %v", err)
	}
	if evs := ev.until(t, markAddr(t, h, "203.0.113.251")); len(evs) != 0 {
		t.Errorf("second AddAddresses changed kernel addresses: %+v", evs)
	}

	err := m.AddAddresses(ctx(t), []vip.Address{{Prefix: pfx("2001:db8::10/64"), Dev: "eth0"}})
	if !errors.Is(err, vip.ErrConflict) || !strings.Contains(err.Error(), "2001:db8::10") {
		t.Errorf("adding 2001:db8::10/64 over /128: err %v, want ErrConflict naming it", err)
	}
	if _, ok := findAddr(kernelAddrs(t, h, "eth0"), "2001:db8::10", 128); !ok {
		t.Errorf("conflicting add damaged 2001:db8::10/128")
	}
	// Removing the /64 must not remove the /128: it is not ours.
	if err := m.RemoveAddresses(ctx(t), []vip.Address{{Prefix: pfx("2001:db8::10/64"), Dev: "eth0"}}); err != nil {
		t.Errorf("RemoveAddresses(/64): %v", err)
	}
	if _, ok := findAddr(kernelAddrs(t, h, "eth0"), "2001:db8::10", 128); !ok {
		t.Errorf("removing 2001:db8::10/64 removed 2001:db8::10/128")
	}
}

// TestRemoveOnlyOurs: Remove deletes exactly the named addresses, leaves the
// administrator's (including the same IPv4 address with another prefix
// length) alone, and removing absent addresses is fine.
func TestRemoveOnlyOurs(t *testing.T) {
	_, h, eth, m := oneHost(t)
	eth.AddAddr(t, "192.0.2.10/24") // the admin's, same IP as our /32
	ours := []vip.Address{
		{Prefix: pfx("192.0.2.10/32"), Dev: "eth0"},
		{Prefix: pfx("2001:db8::10/128"), Dev: "eth0"},
	}
	if err := m.AddAddresses(ctx(t), ours); err != nil {
		t.Fatalf("AddAddresses: %v", err)
	}
	before := kernelAddrs(t, h, "eth0")
	remove := append(ours,
		vip.Address{Prefix: pfx("192.0.2.99/32"), Dev: "eth0"},    // never added
		vip.Address{Prefix: pfx("2001:db8::99/128"), Dev: "eth0"}, // never added
		vip.Address{Prefix: pfx("192.0.2.11/32"), Dev: "nosuch0"}, // interface gone
	)
	if err := m.RemoveAddresses(ctx(t), remove); err != nil {
		t.Fatalf("RemoveAddresses: %v", err)
	}
	after := kernelAddrs(t, h, "eth0")
	if len(after) != len(before)-2 {
		t.Errorf("removed %d addresses, want 2:\nbefore %+v\nafter  %+v", len(before)-len(after), before, after)
	}
	for _, o := range ours {
		if _, ok := findAddr(after, o.Prefix.Addr().String(), o.Prefix.Bits()); ok {
			t.Errorf("%s still present", o.Prefix)
		}
	}
	for _, keep := range []struct {
		ip   string
		plen int
	}{{"192.0.2.1", 24}, {"192.0.2.10", 24}, {"2001:db8::1", 64}} {
		if _, ok := findAddr(after, keep.ip, keep.plen); !ok {
			t.Errorf("admin address %s/%d removed", keep.ip, keep.plen)
		}
	}
	if got := m.Stats().AddrsRemoved; got != 2 {
		t.Errorf("AddrsRemoved = %d, want 2", got)
	}
	// Again: nothing left to remove, no error, no change.
	if err := m.RemoveAddresses(ctx(t), remove); err != nil {
		t.Errorf("second RemoveAddresses: %v", err)
	}
	if got := m.Stats().AddrsRemoved; got != 2 {
		t.Errorf("AddrsRemoved after second remove = %d, want 2", got)
	}
	if present, err := m.Present(ctx(t), ours); err != nil || len(present) != 0 {
		t.Errorf("Present after remove = %v, %v", present, err)
	}
}

// TestMissingInterface: an address on a missing interface fails with
// ErrNoDevice naming the interface and the address; the other entries are
// applied and nothing else changes.
func TestMissingInterface(t *testing.T) {
	_, h, _, m := oneHost(t)
	before := kernelAddrs(t, h, "eth0")
	loBefore := kernelAddrs(t, h, "lo")
	err := m.AddAddresses(ctx(t), []vip.Address{
		{Prefix: pfx("192.0.2.10/32"), Dev: "eth0"},
		{Prefix: pfx("192.0.2.11/32"), Dev: "nosuch0"},
		{Prefix: pfx("2001:db8::11/128"), Dev: "nosuch1"},
		{Prefix: pfx("192.0.2.12/32"), Dev: "eth0", Scope: "galaxy"},
		{Prefix: pfx("2001:db8::10/128"), Dev: "eth0"},
	})
	if !errors.Is(err, vip.ErrNoDevice) || !errors.Is(err, vip.ErrInvalid) {
		t.Fatalf("err = %v, want ErrNoDevice and ErrInvalid", err)
	}
	for _, s := range []string{`"nosuch0"`, "192.0.2.11/32", `"nosuch1"`, "2001:db8::11/128", "galaxy", "192.0.2.12/32"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %s", err, s)
		}
	}
	if strings.Contains(err.Error(), "192.0.2.10/32") {
		t.Errorf("error mentions the good entry: %v", err)
	}
	after := kernelAddrs(t, h, "eth0")
	if len(after) != len(before)+2 {
		t.Errorf("want exactly the 2 good addresses added:\nbefore %+v\nafter  %+v", before, after)
	}
	for _, ok := range []struct {
		ip   string
		plen int
	}{{"192.0.2.10", 32}, {"2001:db8::10", 128}} {
		if _, found := findAddr(after, ok.ip, ok.plen); !found {
			t.Errorf("good entry %s/%d not added", ok.ip, ok.plen)
		}
	}
	if _, found := findAddr(after, "192.0.2.12", 32); found {
		t.Errorf("invalid entry was added")
	}
	if lo := kernelAddrs(t, h, "lo"); !reflect.DeepEqual(lo, loBefore) {
		t.Errorf("lo changed: %+v -> %+v", loBefore, lo)
	}
	if got := m.Stats().Errors; got != 3 {
		t.Errorf("Errors = %d, want 3", got)
	}
}

// TestNewManagerInNamespace: NewManager works in the namespace of the thread
// that makes it (testnet's Host.Do), and keeps working there afterwards.
func TestNewManagerInNamespace(t *testing.T) {
	l := testnet.New(t)
	h := l.Host("r")
	sw := l.Switch("sw")
	sw.Attach(h, "eth0")
	var m *vip.Manager
	if err := h.Do(func() (err error) {
		m, err = vip.NewManager(testLog(t))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	a := []vip.Address{{Prefix: pfx("192.0.2.10/32"), Dev: "eth0"}}
	if err := m.AddAddresses(ctx(t), a); err != nil {
		t.Fatalf("AddAddresses from outside the namespace: %v", err)
	}
	if _, ok := findAddr(kernelAddrs(t, h, "eth0"), "192.0.2.10", 32); !ok {
		t.Fatal("address not added in the host's namespace")
	}
}
