package daemon

import (
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/vip/viptest"
	"github.com/vigil-ha/vigil/vrrp"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// startMasterOnOneSocket starts a and lets VI_1 become master; it has
// one socket.
func startMasterOnOneSocket(t *testing.T, a *node) {
	t.Helper()
	a.start(t)
	time.Sleep(10 * time.Second)
	synctest.Wait()
	if a.state("VI_1") != "MASTER" || len(a.conns) != 1 {
		t.Fatalf("set-up: %s, %d sockets", a.state("VI_1"), len(a.conns))
	}
}

// TestLoopSocketReopen: eth0 is deleted and created again (a new index):
// the master's socket is reopened, its adverts go on from the new one on
// their schedule, and it still hears a better router through it.
func TestLoopSocketReopen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		adverts := listen(t, wire, netip.MustParseAddr("192.0.2.1"))
		a := newNode(t, wire, viptest.NewKernel("eth0", "eth1"), "192.0.2.1", "fe80::1", prio(pairConf, "150"), Options{})
		var index atomic.Int32
		index.Store(1)
		twin := a.d.host.Interface
		a.d.host.Interface = func(name string) (*net.Interface, error) {
			ifi, err := twin(name)
			if err == nil {
				ifi.Index = int(index.Load())
			}
			return ifi, err
		}
		startMasterOnOneSocket(t, a)
		index.Store(2)
		a.ifev <- check.IfaceEvent{Kind: check.IfaceUp, Index: 2, Name: "eth0", Up: true}
		synctest.Wait()
		if len(a.conns) != 2 || a.d.Status().Sockets[0].Reopens != 1 {
			t.Fatalf("after the new eth0: %d sockets opened, status %+v", len(a.conns), a.d.Status().Sockets)
		}
		probe := &vrrp.Packet{Version: 3, Type: vrrp.TypeAdvertisement, VRID: 9, Priority: 1, MaxAdvertCentis: 100,
			Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.9")}}
		if err := a.conns[0].WriteTo(probe, vrrp.GroupIPv4); err == nil {
			t.Error("the old socket is still open")
		}
		a.ifev <- check.IfaceEvent{Kind: check.IfaceUp, Index: 2, Name: "eth0", Up: true}
		synctest.Wait()
		if len(a.conns) != 2 {
			t.Errorf("a second event for the same index reopened again: %d sockets", len(a.conns))
		}
		before := len(adverts())
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if got := len(adverts()) - before; got != 5 {
			t.Errorf("%d adverts in 5 s from the new socket", got)
		}
		b := startNode(t, wire, "192.0.2.2", "fe80::2", prio(pairConf, "200"))
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if a.state("VI_1") != "BACKUP" || b.state("VI_1") != "MASTER" {
			t.Errorf("a better router: a %s, b %s", a.state("VI_1"), b.state("VI_1"))
		}
	})
}

// TestLoopTrackWeight: a track_interface weight moves the effective
// priority: eth1 down takes a from 150 to 90, below b's 100, and b
// preempts it; eth1 up gives a 150 back and a preempts b.
func TestLoopTrackWeight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		conf := strings.Replace(pairConf, "    version 3\n", "    version 3\n    track_interface {\n        eth1 weight -60\n    }\n", 1)
		a := startNode(t, wire, "192.0.2.1", "fe80::1", prio(conf, "150"))
		b := startNode(t, wire, "192.0.2.2", "fe80::2", prio(pairConf, "100"))
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if a.state("VI_1") != "MASTER" {
			t.Fatalf("set-up: a %s", a.state("VI_1"))
		}
		a.ifev <- check.IfaceEvent{Kind: check.IfaceDown, Index: 1, Name: "eth1"}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if st := a.inst("VI_1"); st.Priority != 90 || st.State != "BACKUP" || b.state("VI_1") != "MASTER" {
			t.Fatalf("eth1 down: a %s priority %d, b %s", st.State, st.Priority, b.state("VI_1"))
		}
		a.ifev <- check.IfaceEvent{Kind: check.IfaceUp, Index: 1, Name: "eth1", Up: true}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if st := a.inst("VI_1"); st.Priority != 150 || st.State != "MASTER" || b.state("VI_1") != "BACKUP" {
			t.Errorf("eth1 up: a %s priority %d, b %s", st.State, st.Priority, b.state("VI_1"))
		}
	})
}

// TestLoopSourceAddrEvents: an address event on the socket's interface
// makes the daemon read the interface's primary address again, and a new
// one reopens the socket; the master's own virtual address coming and
// going does not (it can never be the source), so a takeover's additions
// read nothing.
func TestLoopSourceAddrEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		var reads atomic.Int32
		var primary atomic.Value
		primary.Store(netip.MustParseAddr("192.0.2.1"))
		a := newNode(t, wire, viptest.NewKernel("eth0", "eth1"), "192.0.2.1", "fe80::1", prio(pairConf, "150"), Options{})
		a.d.host.PrimaryAddr = func(ifname string, ipv6 bool, notFrom ...netip.Addr) (netip.Addr, error) {
			reads.Add(1)
			pa := primary.Load().(netip.Addr)
			if ifname != "eth0" || ipv6 || slices.Contains(notFrom, pa) {
				t.Errorf("PrimaryAddr(%s, %v, %v): want eth0's IPv4 address, not from the VIPs", ifname, ipv6, notFrom)
			}
			return pa, nil
		}
		startMasterOnOneSocket(t, a)
		event := func(kind check.IfaceEventKind, addr string) {
			a.ifev <- check.IfaceEvent{Kind: kind, Index: 1, Name: "eth0", Up: true, Addr: netip.MustParsePrefix(addr)}
			synctest.Wait()
		}
		base := reads.Load()
		event(check.AddrAdded, "192.0.2.254/24")
		event(check.AddrRemoved, "192.0.2.254/24")
		event(check.AddrAdded, "2001:db8::9/64") // the other family
		if got := reads.Load() - base; got != 0 || len(a.conns) != 1 {
			t.Errorf("the VIP and an IPv6 address came and went: %d reads, %d sockets; want none, 1", got, len(a.conns))
		}
		event(check.AddrAdded, "192.0.2.50/24")
		if got := reads.Load() - base; got != 1 || len(a.conns) != 1 {
			t.Errorf("another address, the source unchanged: %d reads, %d sockets; want 1, 1", got, len(a.conns))
		}
		primary.Store(netip.MustParseAddr("192.0.2.60"))
		event(check.AddrAdded, "192.0.2.60/24")
		if got := reads.Load() - base; got != 2 || len(a.conns) != 2 || a.d.Status().Sockets[0].Reopens != 1 {
			t.Errorf("a new source: %d reads, %d sockets, status %+v; want 2, 2, one reopen", got, len(a.conns), a.d.Status().Sockets)
		}
	})
}
