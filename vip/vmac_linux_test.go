package vip_test

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/testnet"
	"github.com/vigil-ha/vigil/vip"
)

func kernelLink(t *testing.T, h *testnet.Host, name string) (testnet.Link, bool) {
	t.Helper()
	l, err := h.Link(name)
	return l, err == nil
}

// TestVMAC creates a keepalived-style VMAC (macvlan, private mode, virtual
// router MAC), proves EnsureVMAC is idempotent and refuses to take over
// another interface, puts a VIP on it and announces it: the client's
// neighbour entry holds the virtual MAC. RemoveVMAC removes only VMACs.
func TestVMAC(t *testing.T) {
	l := testnet.New(t)
	sw := l.Switch("sw")
	h, client := l.Host("r"), l.Host("client")
	sw.Attach(h, "eth0").AddAddr(t, "192.0.2.1/24")
	sw.Attach(client, "eth0").AddAddr(t, "192.0.2.100/24")
	m, err := vip.NewManagerAt(testLog(t), h.NsHandle())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()

	v := vip.VMAC{Name: "vrrp.51", Parent: "eth0", VRID: 51}
	idx, err := m.EnsureVMAC(ctx(t), v)
	if err != nil {
		t.Fatalf("EnsureVMAC: %v", err)
	}
	k, ok := kernelLink(t, h, "vrrp.51")
	if !ok || k.Index != idx || k.Address != "00:00:5e:00:01:33" || k.LinkInfo.Kind != "macvlan" ||
		k.LinkInfo.Data.Mode != "private" || k.Parent != "eth0" {
		t.Fatalf("VMAC in kernel = %+v (found %v), want macvlan private on eth0 with 00:00:5e:00:01:33, index %d", k, ok, idx)
	}
	if idx2, err := m.EnsureVMAC(ctx(t), v); err != nil || idx2 != idx {
		t.Errorf("second EnsureVMAC = %d, %v; want %d, nil", idx2, err, idx)
	}
	ll := netip.MustParseAddr("fe80::db8:1")
	v6 := vip.VMAC{Name: "vrrp6.51", Parent: "eth0", VRID: 51, IPv6: true, LinkLocal: ll}
	for range 2 {
		if _, err := m.EnsureVMAC(ctx(t), v6); err != nil {
			t.Fatalf("EnsureVMAC IPv6: %v", err)
		}
	}
	if k, _ := kernelLink(t, h, "vrrp6.51"); k.Address != "00:00:5e:00:02:33" {
		t.Errorf("IPv6 VMAC MAC = %s", k.Address)
	}
	// The given link-local address, once, without DAD; no EUI-64 address
	// made from the virtual MAC (RFC 5798 §7.4).
	out := h.Exec(t, "ip", "-6", "-o", "addr", "show", "dev", "vrrp6.51")
	if strings.Count(out, "inet6 ") != 1 || !strings.Contains(out, "fe80::db8:1/64") || strings.Contains(out, "tentative") {
		t.Errorf("addresses on the IPv6 VMAC:\n%s\nwant only fe80::db8:1/64, not tentative", out)
	}
	if _, err := m.EnsureVMAC(ctx(t), vip.VMAC{Name: "vrrp.54", Parent: "eth0", VRID: 54, LinkLocal: ll}); !errors.Is(err, vip.ErrInvalid) {
		t.Errorf("an IPv4 VMAC with a link-local address: %v, want ErrInvalid", err)
	}

	// Someone else's interface with the name: refused, untouched.
	h.Exec(t, "ip", "link", "add", "vx52", "type", "veth", "peer", "name", "vx52p")
	before, _ := kernelLink(t, h, "vx52")
	if _, err := m.EnsureVMAC(ctx(t), vip.VMAC{Name: "vx52", Parent: "eth0", VRID: 52}); !errors.Is(err, vip.ErrConflict) {
		t.Errorf("EnsureVMAC over a veth: %v, want ErrConflict", err)
	}
	if err := m.RemoveVMAC(ctx(t), "vx52"); !errors.Is(err, vip.ErrConflict) {
		t.Errorf("RemoveVMAC of a veth: %v, want ErrConflict", err)
	}
	if after, ok := kernelLink(t, h, "vx52"); !ok || after.Address != before.Address {
		t.Errorf("veth vx52 touched: %+v -> %+v", before, after)
	}
	if _, err := m.EnsureVMAC(ctx(t), vip.VMAC{Name: "vrrp.53", Parent: "nosuch0", VRID: 53}); !errors.Is(err, vip.ErrNoDevice) {
		t.Errorf("missing parent: %v, want ErrNoDevice", err)
	}

	// A VIP on the VMAC, announced with the interface's own MAC (nil).
	// Without VMAC.Sysctls (arp_ignore on the parent and on every VMAC),
	// eth0 or vrrp6.51 would answer the client's ARP for the VIP with
	// their own MAC (Linux's weak host model).
	own, parent := v.Sysctls()
	own6, _ := v6.Sysctls()
	var sys vip.ProcSys
	if err := h.Do(func() error {
		for _, s := range append(append(own, parent...), own6...) {
			if err := sys.WriteSysctl(s.Path, s.Value); err != nil {
				return err
			}
			if got, err := sys.ReadSysctl(s.Path); err != nil || got != s.Value {
				return fmt.Errorf("%s reads back %q, %v; want %q", s.Path, got, err, s.Value)
			}
		}
		names, err := sys.ListSysctl("net/ipv4/conf")
		if err != nil || !slices.Contains(names, "vrrp.51") || !slices.Contains(names, "all") {
			return fmt.Errorf("ListSysctl(net/ipv4/conf) = %v, %v", names, err)
		}
		if err := sys.WriteSysctl("net/ipv4/conf/eth0/no_such_setting", "1"); err == nil {
			return errors.New("ProcSys created a setting")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// And without arp_announce=2, r's own ARP request for the client
	// (answering the ping through eth0) would say "tell 192.0.2.10" from
	// eth0's MAC, and the client would learn that instead.
	h.Sysctl(t, "net/ipv4/conf/eth0/arp_announce", "2")
	if err := m.AddAddresses(ctx(t), []vip.Address{{Prefix: pfx("192.0.2.10/32"), Dev: "vrrp.51"}}); err != nil {
		t.Fatal(err)
	}
	ann := vip.NewAnnouncer(testLog(t))
	defer ann.Close()
	capt := client.Capture(t, "eth0", "arp")
	if err := h.Do(func() error {
		return ann.Announce("vrrp.51", []netip.Addr{netip.MustParseAddr("192.0.2.10")}, nil, false)
	}); err != nil {
		t.Fatalf("Announce on the VMAC: %v", err)
	}
	testnet.Eventually(t, 10*time.Second, func() bool {
		g, _ := parseAnnouncements(t, capturedSoFar(capt))
		return len(g) >= 1
	}, "GARP from the VMAC not captured")
	garps, _ := parseAnnouncements(t, capt.Stop(t))
	if len(garps) != 1 || garps[0].eth.Source.String() != v.MAC().String() || garps[0].arp.SenderHardwareAddr.String() != v.MAC().String() {
		t.Errorf("GARP from the VMAC = %+v, want sender %v", garps, v.MAC())
	}
	client.Exec(t, "ping", "-c", "1", "-W", "5", "192.0.2.10")
	if got := neighMAC(t, client, "192.0.2.10", "eth0"); got.String() != v.MAC().String() {
		t.Errorf("client neighbour for the VIP = %v, want the virtual MAC %v", got, v.MAC())
	}

	for range 2 {
		if err := m.RemoveVMAC(ctx(t), "vrrp.51"); err != nil {
			t.Fatalf("RemoveVMAC: %v", err)
		}
	}
	if _, ok := kernelLink(t, h, "vrrp.51"); ok {
		t.Error("vrrp.51 still exists")
	}
	if _, ok := kernelLink(t, h, "eth0"); !ok {
		t.Error("parent eth0 gone")
	}
}

func TestVMACValidate(t *testing.T) {
	for _, v := range []vip.VMAC{
		{Name: "", Parent: "eth0", VRID: 1},
		{Name: "a-very-long-vmac-name", Parent: "eth0", VRID: 1},
		{Name: "vrrp.1", VRID: 1},
		{Name: "eth0", Parent: "eth0", VRID: 1},
		{Name: "vrrp.0", Parent: "eth0", VRID: 0},
		{Name: "vrrp.256", Parent: "eth0", VRID: 256},
	} {
		if err := v.Validate(); !errors.Is(err, vip.ErrInvalid) {
			t.Errorf("%+v: Validate = %v, want ErrInvalid", v, err)
		}
	}
	if err := (vip.VMAC{Name: "vrrp.255", Parent: "eth0", VRID: 255}).Validate(); err != nil {
		t.Errorf("valid VMAC: %v", err)
	}
}
