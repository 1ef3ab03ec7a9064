package viptest

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"net/netip"
	"slices"
	"testing"

	"github.com/vigil-ha/vigil/vip"
)

func TestKernelFaultsAndLinks(t *testing.T) {
	c := context.Background()
	k := NewKernel("eth0")
	a := vip.Address{Prefix: netip.MustParsePrefix("192.0.2.10/32"), Dev: "eth0"}
	b := vip.Address{Prefix: netip.MustParsePrefix("192.0.2.11/32"), Dev: "eth0"}
	boom := errors.New("boom")
	k.FailOn(a.Prefix, boom)
	if err := k.AddAddresses(c, []vip.Address{a, b}); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if got := k.Addresses(); len(got) != 1 || got[0] != b {
		t.Fatalf("Addresses = %v, want only b", got)
	}
	k.FailOn(a.Prefix, nil)
	if err := k.AddAddresses(c, []vip.Address{a, b}); err != nil {
		t.Fatal(err)
	}
	n := k.Changes()
	if err := k.AddAddresses(c, []vip.Address{a, b}); err != nil || k.Changes() != n {
		t.Fatalf("second add: %v, changes %d -> %d", err, n, k.Changes())
	}
	r := vip.Route{Dst: netip.MustParsePrefix("198.51.100.0/24"), Dev: "eth0", Src: a.Prefix.Addr()}
	if err := k.AddRoutes(c, []vip.Route{r}); err != nil {
		t.Fatal(err)
	}
	k.DelLink("eth0")
	if len(k.Addresses()) != 0 || len(k.Routes()) != 0 {
		t.Fatalf("DelLink left %v %v", k.Addresses(), k.Routes())
	}

	ann := NewAnnouncements(k)
	ips := []netip.Addr{a.Prefix.Addr()}
	if err := ann.Announce("eth0", ips, nil, false); !errors.Is(err, vip.ErrNoDevice) {
		t.Fatalf("announce on deleted link: %v", err)
	}
	k.AddLink("eth0")
	mac := net.HardwareAddr{2, 0, 0, 0, 0, 1}
	if err := ann.Announce("eth0", ips, mac, true); err != nil {
		t.Fatal(err)
	}
	ann.FailWith(boom)
	if err := ann.Announce("eth0", ips, mac, true); !errors.Is(err, boom) {
		t.Fatalf("FailWith: %v", err)
	}
	sent := ann.Sent()
	if len(sent) != 1 || sent[0].Iface != "eth0" || sent[0].Addrs[0] != ips[0] || !sent[0].Router || sent[0].MAC.String() != mac.String() {
		t.Fatalf("Sent = %+v", sent)
	}
}

// TestSysctls: the twin holds only the settings it was given, as
// /proc/sys holds only existing ones, and checks paths as vip.ProcSys does.
func TestSysctls(t *testing.T) {
	s := NewSysctls(map[string]string{
		"net/ipv4/conf/all/rp_filter":   "1",
		"net/ipv4/conf/eth0/rp_filter":  "0",
		"net/ipv4/conf/eth0/arp_ignore": "0",
	})
	if err := s.WriteSysctl("net/ipv4/conf/eth0/arp_ignore", "1"); err != nil {
		t.Fatal(err)
	}
	if v, err := s.ReadSysctl("net/ipv4/conf/eth0/arp_ignore"); err != nil || v != "1" {
		t.Errorf("read back %q, %v", v, err)
	}
	if err := s.WriteSysctl("net/ipv4/conf/eth9/arp_ignore", "1"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("write of a missing setting: %v, want ErrNotExist", err)
	}
	if err := s.WriteSysctl("net/ipv4/conf/../../kernel/x", "1"); !errors.Is(err, vip.ErrInvalid) {
		t.Errorf("write of a hostile path: %v, want ErrInvalid", err)
	}
	if names, err := s.ListSysctl("net/ipv4/conf"); err != nil || !slices.Equal(names, []string{"all", "eth0"}) {
		t.Errorf("ListSysctl = %v, %v", names, err)
	}
	if s.Writes() != 1 {
		t.Errorf("Writes = %d, want 1", s.Writes())
	}
}
