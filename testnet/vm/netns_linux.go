package vm

import (
	"net"
	"net/netip"
	"runtime"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// The VM has no "ip netns": a test inside it makes unnamed namespaces
// with these helpers, wires them to its own (the director's) with veth
// pairs and opens sockets in them from its goroutines.

// NS is an unnamed network namespace made for one test, with a netlink
// handle (NL) inside it.
type NS struct {
	h  netns.NsHandle
	NL *netlink.Handle
}

// KeepNS runs f on a locked thread and puts the thread back into its
// namespace afterwards, whatever f switched to.
func KeepNS(t testing.TB, f func()) {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	defer func() {
		if err := netns.Set(orig); err != nil {
			panic(err) // this thread would be left in the wrong namespace
		}
	}()
	f()
}

// NewNS creates a namespace with lo up; it is closed at test end.
func NewNS(t testing.TB) *NS {
	t.Helper()
	var h netns.NsHandle
	var err error
	KeepNS(t, func() { h, err = netns.New() })
	if err != nil {
		t.Fatal(err)
	}
	nl, err := netlink.NewHandleAt(h, unix.NETLINK_ROUTE)
	if err != nil {
		h.Close()
		t.Fatal(err)
	}
	n := &NS{h: h, NL: nl}
	t.Cleanup(func() { nl.Close(); h.Close() })
	lo, err := nl.LinkByName("lo")
	must(t, err)
	must(t, nl.LinkSetUp(lo))
	return n
}

// Do runs f with the calling thread inside n (sockets made in f stay in n).
func (n *NS) Do(t testing.TB, f func()) {
	t.Helper()
	KeepNS(t, func() {
		must(t, netns.Set(n.h))
		f()
	})
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Wire connects the director (the test's own namespace, nl) to n with a
// veth pair: dirAddr on the director's end (named name), nsAddr on n's
// end (name+"p"), and a default route in n via the director. The pair
// is deleted at test end.
func Wire(t testing.TB, nl *netlink.Handle, n *NS, name string, dirAddr, nsAddr netip.Prefix) {
	t.Helper()
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: name + "p"}
	must(t, nl.LinkAdd(veth))
	t.Cleanup(func() { _ = nl.LinkDel(veth) })
	peer, err := nl.LinkByName(name + "p")
	must(t, err)
	must(t, nl.LinkSetNsFd(peer, int(n.h)))
	local, err := nl.LinkByName(name)
	must(t, err)
	must(t, nl.AddrAdd(local, &netlink.Addr{IPNet: IPNet(dirAddr)}))
	must(t, nl.LinkSetUp(local))
	far, err := n.NL.LinkByName(name + "p")
	must(t, err)
	must(t, n.NL.AddrAdd(far, &netlink.Addr{IPNet: IPNet(nsAddr)}))
	must(t, n.NL.LinkSetUp(far))
	must(t, n.NL.RouteAdd(&netlink.Route{LinkIndex: far.Attrs().Index, Gw: dirAddr.Addr().AsSlice()}))
}

// IPNet converts p for vishvananda/netlink.
func IPNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
