package daemon

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/testnet"
)

// TestWitnessProbes: the witness probe on a real link between two
// namespaces: ARP for an IPv4 witness on the instance's interface, ICMP
// echo for an IPv6 one; an address nobody holds, or a link black-holed by
// nftables, is an error within the timeout.
func TestWitnessProbes(t *testing.T) {
	testnet.NeedRoot(t, "nft")
	l := testnet.New(t)
	a, b := l.Host("a"), l.Host("b")
	ia, ib := l.Wire(a, "eth0", b, "eth0")
	ia.AddAddr(t, "192.0.2.1/24")
	ib.AddAddr(t, "192.0.2.2/24")
	ia.AddAddr(t, "2001:db8::1/64")
	ib.AddAddr(t, "2001:db8::2/64")
	probe := func(addr string) error {
		return a.Do(func() error {
			return probeWitness(context.Background(), "eth0", netip.MustParseAddr(addr), time.Second)
		})
	}
	testnet.Eventually(t, 10*time.Second, func() bool { return probe("192.0.2.2") == nil }, "ARP answer from 192.0.2.2")
	testnet.Eventually(t, 10*time.Second, func() bool { return probe("2001:db8::2") == nil }, "echo reply from 2001:db8::2")
	for _, addr := range []string{"192.0.2.3", "2001:db8::3"} {
		if err := probe(addr); err == nil {
			t.Errorf("%s, held by no one, answered", addr)
		}
	}
	ia.Isolate(t)
	for _, addr := range []string{"192.0.2.2", "2001:db8::2"} {
		if err := probe(addr); err == nil {
			t.Errorf("%s answered through a black-holed link", addr)
		}
	}
}
