package harness

import (
	"testing"

	"github.com/vigil-ha/vigil/testnet"
)

// Addresses of the router pair: one segment, 192.0.2.0/24 and
// 2001:db8:1::/64, and the virtual addresses its configurations use.
const (
	Net4, Net6           = "192.0.2.0/24", "2001:db8:1::/64"
	R1v4, R2v4, ClientV4 = "192.0.2.1", "192.0.2.2", "192.0.2.100"
	R1v6, R2v6, ClientV6 = "2001:db8:1::1", "2001:db8:1::2", "2001:db8:1::100"
	VIP4, VIP6           = "192.0.2.254", "2001:db8:1::254"
)

// RouterPair is two routers (r1, r2) and a client (cl) on one switch (sw),
// each with an eth0 on it:
//
//	r1 eth0 192.0.2.1   2001:db8:1::1   ─┐
//	r2 eth0 192.0.2.2   2001:db8:1::2   ─┼─ sw
//	cl eth0 192.0.2.100 2001:db8:1::100 ─┘
//
// The client accepts gratuitous ARP, so it learns a VIP's new owner.
type RouterPair struct {
	*testnet.Lab
	SW                 *testnet.Switch // sw (a field of another name would hide Lab.Switch)
	R1, R2, Client     *testnet.Host
	If1, If2, IfClient *testnet.Iface // the hosts' eth0
}

// NewRouterPair builds the router pair in a new lab of t's.
func NewRouterPair(t testing.TB) *RouterPair {
	t.Helper()
	return newRouterPair(t, testnet.New(t))
}

// NewNamedRouterPair builds the router pair in a lab whose namespaces are
// named "<prefix>-sw", "<prefix>-r1", ... (see [testnet.NewNamed]).
func NewNamedRouterPair(t testing.TB, prefix string) *RouterPair {
	t.Helper()
	return newRouterPair(t, testnet.NewNamed(t, prefix))
}

func newRouterPair(t testing.TB, lab *testnet.Lab) *RouterPair {
	t.Helper()
	l := &RouterPair{Lab: lab}
	l.SW = l.Switch("sw")
	l.R1, l.R2, l.Client = l.Host("r1"), l.Host("r2"), l.Host("cl")
	l.If1 = l.SW.Attach(l.R1, "eth0")
	l.If2 = l.SW.Attach(l.R2, "eth0")
	l.IfClient = l.SW.Attach(l.Client, "eth0")
	for _, a := range []struct {
		i      *testnet.Iface
		v4, v6 string
	}{{l.If1, R1v4, R1v6}, {l.If2, R2v4, R2v6}, {l.IfClient, ClientV4, ClientV6}} {
		a.i.AddAddr(t, a.v4+"/24")
		a.i.AddAddr(t, a.v6+"/64")
	}
	acceptGARP(t, l.Client)
	return l
}

// acceptGARP makes h learn a neighbour's new MAC from gratuitous ARP.
func acceptGARP(t testing.TB, h *testnet.Host) {
	t.Helper()
	h.Sysctl(t, "net.ipv4.conf.all.arp_accept", "1")
	h.Sysctl(t, "net.ipv4.conf.eth0.arp_accept", "1")
}
