package vip

import (
	"fmt"
	"net"
	"net/netip"
)

// VMAC describes a keepalived use_vmac interface: a macvlan on Parent
// carrying the VRRP virtual router MAC, so that the MAC, not just the
// addresses, moves with the master.
type VMAC struct {
	// Name of the macvlan interface (keepalived's default is
	// "vrrp.<VRID>"); at most 15 bytes.
	Name string
	// Parent is the physical interface the macvlan sits on.
	Parent string
	// VRID is the virtual router ID, 1-255.
	VRID int
	// IPv6 selects the IPv6 virtual MAC (00-00-5E-00-02-VRID) instead of
	// the IPv4 one (00-00-5E-00-01-VRID).
	IPv6 bool
	// LinkLocal, when valid, is an IPv6 link-local address EnsureVMAC puts
	// on the VMAC (without duplicate address detection), so that adverts
	// sent from it leave from a non-virtual address, as keepalived does
	// with a copy of the parent's link-local address. The kernel's own
	// EUI-64 address is never generated on a VMAC (RFC 5798 §7.4).
	LinkLocal netip.Addr
}

// MAC returns the virtual router MAC address of RFC 5798 §7.3.
func (v VMAC) MAC() net.HardwareAddr {
	kind := byte(1)
	if v.IPv6 {
		kind = 2
	}
	return net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, kind, byte(v.VRID)}
}

// Validate checks the description without kernel access. Errors wrap
// ErrInvalid.
func (v VMAC) Validate() error {
	switch {
	case !ValidIfName(v.Name):
		return fmt.Errorf("%w: VMAC interface name %q", ErrInvalid, v.Name)
	case !ValidIfName(v.Parent):
		return fmt.Errorf("%w: VMAC %s: parent interface name %q", ErrInvalid, v.Name, v.Parent)
	case v.Name == v.Parent:
		return fmt.Errorf("%w: VMAC %s is its own parent", ErrInvalid, v.Name)
	case v.VRID < 1 || v.VRID > 255:
		return fmt.Errorf("%w: VMAC %s: VRID %d", ErrInvalid, v.Name, v.VRID)
	case v.LinkLocal.IsValid() && (!v.IPv6 || !v.LinkLocal.Is6() || !v.LinkLocal.IsLinkLocalUnicast()):
		return fmt.Errorf("%w: VMAC %s: %s is not an IPv6 link-local address for an IPv6 VMAC", ErrInvalid, v.Name, v.LinkLocal)
	}
	return nil
}

// ValidIfName reports whether name can be a Linux interface name: 1 to 15
// bytes of printable ASCII, neither "." nor "..", without '/', ':' or
// white space (the kernel's own rule, narrowed to ASCII). Such a name is
// also safe as one element of a /proc/sys path.
func ValidIfName(name string) bool {
	if name == "" || len(name) > 15 || name == "." || name == ".." {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c >= 0x7f || c == '/' || c == ':' {
			return false
		}
	}
	return true
}

// isVirtualRouterMAC reports whether mac is a VRRP virtual router MAC.
func isVirtualRouterMAC(mac net.HardwareAddr) bool {
	return len(mac) == 6 && mac[0] == 0 && mac[1] == 0 && mac[2] == 0x5e && mac[3] == 0 &&
		(mac[4] == 1 || mac[4] == 2)
}

// Sysctl is one /proc/sys setting.
type Sysctl struct {
	Path  string // under /proc/sys, slash-separated, e.g. "net/ipv4/conf/vrrp.51/arp_ignore"
	Value string
}

// Sysctls returns the per-interface settings keepalived 2.2.7 applies with
// a VMAC, for the caller to write in the VMAC's namespace (EnsureVMAC does
// not touch sysctls). own are on the VMAC itself and go with it; parent are
// on the parent interface, and the caller restores their old values when
// the parent's last VMAC goes.
//
//   - own, IPv4 VMAC: arp_ignore=1 (answer ARP only for its own addresses),
//     accept_local=1 (hear another instance's adverts sent from a local
//     source), rp_filter=0 (receive adverts from a source routed through the
//     parent), promote_secondaries=1, and IPv6 off (disable_ipv6=1);
//   - own, IPv6 VMAC: IPv6 on (disable_ipv6=0) and, where vigil differs
//     from keepalived, arp_ignore=1: the macvlan receives the segment's
//     broadcasts too, and would otherwise answer ARP for an IPv4 VIP held
//     by the host (on another VMAC) with the IPv6 virtual MAC (seen in
//     TestVMAC);
//   - parent, IPv4 VMAC only: arp_ignore=1 and arp_filter=1, so that the
//     parent does not answer ARP for the VIPs with its own MAC (Linux's
//     weak host model would otherwise let it win the race against the VMAC).
//
// Not in the list, as keepalived does not set it either: arp_announce=2 on
// the parent. Without it the host's own ARP requests sent through the parent
// may carry a VIP as sender address with the parent's MAC, and neighbours
// learn that (seen in TestVMAC).
func (v VMAC) Sysctls() (own, parent []Sysctl) {
	v6 := "net/ipv6/conf/" + v.Name + "/disable_ipv6"
	vm := "net/ipv4/conf/" + v.Name + "/"
	if v.IPv6 {
		return []Sysctl{{vm + "arp_ignore", "1"}, {v6, "0"}}, nil
	}
	pa := "net/ipv4/conf/" + v.Parent + "/"
	return []Sysctl{
			{vm + "arp_ignore", "1"},
			{vm + "accept_local", "1"},
			{vm + "rp_filter", "0"},
			{vm + "promote_secondaries", "1"},
			{v6, "1"},
		}, []Sysctl{
			{pa + "arp_ignore", "1"},
			{pa + "arp_filter", "1"},
		}
}
