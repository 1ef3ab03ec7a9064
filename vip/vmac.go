package vip

import (
	"fmt"
	"net"
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
	case v.Name == "" || len(v.Name) > 15:
		return fmt.Errorf("%w: VMAC interface name %q", ErrInvalid, v.Name)
	case v.Parent == "":
		return fmt.Errorf("%w: VMAC %s has no parent interface", ErrInvalid, v.Name)
	case v.Name == v.Parent:
		return fmt.Errorf("%w: VMAC %s is its own parent", ErrInvalid, v.Name)
	case v.VRID < 1 || v.VRID > 255:
		return fmt.Errorf("%w: VMAC %s: VRID %d", ErrInvalid, v.Name, v.VRID)
	}
	return nil
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

// Sysctls returns the per-interface settings keepalived applies with a
// VMAC, for the caller to write in the VMAC's namespace (EnsureVMAC does not
// touch sysctls, and nothing here restores the parent's old values):
//
//   - on the VMAC: arp_ignore=1 (answer ARP only for its own addresses),
//     accept_local=1 (hear another instance's adverts sent from a local
//     source), rp_filter=0 (receive on the VMAC even without an address);
//   - on the parent: arp_ignore=1 and arp_filter=1, so that the parent does
//     not answer ARP for the VIPs with its own MAC (Linux's weak host
//     model would otherwise let it win the race against the VMAC).
//
// Not in the list, as keepalived does not set it either: arp_announce=2 on
// the parent. Without it the host's own ARP requests sent through the parent
// may carry a VIP as sender address with the parent's MAC, and neighbours
// learn that (seen in TestVMAC).
func (v VMAC) Sysctls() []Sysctl {
	vm := "net/ipv4/conf/" + v.Name + "/"
	pa := "net/ipv4/conf/" + v.Parent + "/"
	return []Sysctl{
		{vm + "arp_ignore", "1"},
		{vm + "accept_local", "1"},
		{vm + "rp_filter", "0"},
		{pa + "arp_ignore", "1"},
		{pa + "arp_filter", "1"},
	}
}
