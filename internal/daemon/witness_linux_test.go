package daemon

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/testnet"
)

// TestWitnessProbes: the witness probe on a real link between two
// namespaces: ARP for an IPv4 witness on the instance's interface, a
// neighbour solicitation for an IPv6 one (global or link-local), ICMP echo
// without an interface; an address nobody holds, or a link black-holed by
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
	probeOn := func(ifname, addr string) error {
		return a.Do(func() error {
			return probeWitness(context.Background(), ifname, netip.MustParseAddr(addr), time.Second)
		})
	}
	probe := func(addr string) error { return probeOn("eth0", addr) }
	// b's link-local address, from its MAC (EUI-64, as the kernel makes it).
	var bLL string
	testnet.Eventually(t, 10*time.Second, func() bool {
		for _, f := range strings.Fields(b.Exec(t, "ip", "-6", "-o", "addr", "show", "dev", "eth0", "scope", "link")) {
			if strings.HasPrefix(f, "fe80::") {
				bLL = strings.SplitN(f, "/", 2)[0]
				return true
			}
		}
		return false
	}, "a link-local address on b")
	testnet.Eventually(t, 10*time.Second, func() bool { return probe("192.0.2.2") == nil }, "ARP answer from 192.0.2.2")
	testnet.Eventually(t, 10*time.Second, func() bool { return probe("2001:db8::2") == nil }, "NA from 2001:db8::2")
	testnet.Eventually(t, 10*time.Second, func() bool { return probe(bLL) == nil }, "NA from %s", bLL)
	testnet.Eventually(t, 10*time.Second, func() bool { return probeOn("", "2001:db8::2") == nil }, "echo reply from 2001:db8::2")

	// With every ICMPv6 echo dropped on b the solicitation still gets its
	// answer (it is not an echo), the interface-less probe no longer does.
	echo := b.DropRandomMatch(t, "eth0", 100, testnet.Both, "icmpv6 type { echo-request, echo-reply }")
	if err := probe("2001:db8::2"); err != nil {
		t.Errorf("NS probe with the echoes dropped: %v", err)
	}
	if err := probeOn("", "2001:db8::2"); err == nil {
		t.Error("the echo probe answered with the echoes dropped: the NS probe's success proves nothing")
	}
	echo.Remove(t)
	// With the solicitations dropped on b, the NS probe fails: it is what
	// answered above.
	ns := b.DropRandomMatch(t, "eth0", 100, testnet.In, "icmpv6 type nd-neighbor-solicit")
	if err := probe("2001:db8::2"); err == nil {
		t.Error("2001:db8::2 answered with b's neighbour solicitations dropped")
	}
	ns.Remove(t)

	for _, addr := range []string{"192.0.2.3", "2001:db8::3", "fe80::3"} {
		if err := probe(addr); err == nil {
			t.Errorf("%s, held by no one, answered", addr)
		}
	}
	ia.Isolate(t)
	for _, addr := range []string{"192.0.2.2", "2001:db8::2", bLL} {
		if err := probe(addr); err == nil {
			t.Errorf("%s answered through a black-holed link", addr)
		}
	}
}
