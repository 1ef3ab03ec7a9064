package daemon

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/vip/viptest"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// Loop tests of the paths that go through the kernel worker (statics,
// announcements, a reload that changes a master's addresses) and of a sync
// group's pull, on the twins in synctest bubbles.

// reloadNode applies text to n's running daemon on its loop.
func reloadNode(t *testing.T, n *node, text string) {
	t.Helper()
	cfg := loadConf(t, text)
	done := make(chan error, 1)
	n.d.post(context.Background(), func(now time.Time) { done <- n.d.apply(cfg, now) })
	synctest.Wait()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

const staticConf = `
static_ipaddress {
    %ADDR% dev eth1
}
static_routes {
    198.51.100.0/24 via 203.0.113.1 dev eth1
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority 100
    advert_int 1
    version 3
    virtual_ipaddress {
        192.0.2.254/24
    }
}
`

// TestLoopStatics: static_ipaddress and static_routes are installed at
// start whatever the VRRP state, reconciled by a reload (the changed
// address replaced, the unchanged route left alone), removed at shutdown.
func TestLoopStatics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		conf := func(addr string) string { return strings.ReplaceAll(staticConf, "%ADDR%", addr) }
		a := startNode(t, wire, "192.0.2.1", "fe80::1", conf("203.0.113.5/24"))
		synctest.Wait()
		if a.state("VI_1") != "BACKUP" || !a.has("203.0.113.5/24") || len(a.kernel.Routes()) != 1 {
			t.Fatalf("start: %s, addresses %v, routes %v", a.state("VI_1"), a.kernel.Addresses(), a.kernel.Routes())
		}
		changes := a.kernel.Changes()
		reloadNode(t, a, conf("203.0.113.6/24"))
		if a.has("203.0.113.5/24") || !a.has("203.0.113.6/24") || len(a.kernel.Routes()) != 1 {
			t.Fatalf("reload: addresses %v, routes %v", a.kernel.Addresses(), a.kernel.Routes())
		}
		if got := a.kernel.Changes() - changes; got != 2 {
			t.Errorf("reload made %d kernel changes, want 2 (one address out, one in)", got)
		}
		a.stop()
		if len(a.kernel.Addresses()) != 0 || len(a.kernel.Routes()) != 0 {
			t.Errorf("after stop: addresses %v, routes %v", a.kernel.Addresses(), a.kernel.Routes())
		}
	})
}

// announceConf is pairConf's owner with announcement settings.
var announceConf = "global_defs {\n    vrrp_garp_interval 0.5\n}\n" + strings.Replace(prio(pairConf, "255"), "    version 3\n",
	"    version 3\n    garp_master_repeat 2\n    garp_master_delay 3\n    garp_master_refresh 10\n", 1)

// TestLoopAnnouncements: a new master announces garp_master_repeat rounds
// vrrp_garp_interval apart, again after garp_master_delay, then once every
// garp_master_refresh, each round after its VIPs are on the host; leaving
// MASTER ends them.
func TestLoopAnnouncements(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		k := viptest.NewKernel("eth0", "eth1")
		ann := &timedAnnouncements{Announcements: viptest.NewAnnouncements(k), kernel: k}
		a := newNode(t, wire, k, "192.0.2.1", "fe80::1", announceConf, Options{})
		a.d.host.Announcer = ann
		start := time.Now()
		a.start(t)
		sleepUntil(start, 25*time.Second)
		s := time.Second
		want := []time.Duration{0, s / 2, 3 * s, 3*s + s/2, 10 * s, 20 * s}
		ann.mu.Lock()
		var got []time.Duration
		for _, at := range ann.at {
			got = append(got, at.Sub(start))
		}
		held := slices.Clone(ann.held)
		ann.mu.Unlock()
		if !slices.Equal(got, want) {
			t.Errorf("announcements at %v, want %v", got, want)
		}
		if slices.Contains(held, false) {
			t.Errorf("an announcement went out before its VIP was on the host: %v", held)
		}
		if st := a.inst("VI_1"); st.Announcements != uint64(len(want)) {
			t.Errorf("announce_sent = %d, want %d", st.Announcements, len(want))
		}
		a.stop()
		n := len(ann.Sent())
		time.Sleep(30 * time.Second)
		synctest.Wait()
		if len(ann.Sent()) != n {
			t.Errorf("announcements after stop: %d, then %d", n, len(ann.Sent()))
		}
	})
}

// TestLoopReloadMasterAddresses: a reload that changes only a master's
// virtual addresses keeps it MASTER; the worker removes the old one, adds
// and announces the new one, and the backups hear the new list at once.
func TestLoopReloadMasterAddresses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		adverts := listen(t, wire, netip.MustParseAddr("192.0.2.1"))
		a := startNode(t, wire, "192.0.2.1", "fe80::1", prio(pairConf, "150"))
		time.Sleep(10*time.Second + 300*time.Millisecond) // between two adverts
		synctest.Wait()
		if a.state("VI_1") != "MASTER" || !a.has("192.0.2.254/24") {
			t.Fatalf("set-up: %s", a.state("VI_1"))
		}
		transitions := a.inst("VI_1").Transitions
		sent := len(a.d.host.Announcer.(*viptest.Announcements).Sent())
		at := time.Now()
		reloadNode(t, a, strings.Replace(prio(pairConf, "150"), "192.0.2.254/24", "192.0.2.253/24", 1))
		if a.has("192.0.2.254/24") || !a.has("192.0.2.253/24") {
			t.Fatalf("after reload: %v", a.kernel.Addresses())
		}
		st := a.inst("VI_1")
		if st.State != "MASTER" || st.Transitions != transitions {
			t.Errorf("reload moved the master: %s, %d transitions (was %d)", st.State, st.Transitions, transitions)
		}
		if !slices.Contains(adverts(), at) {
			t.Errorf("no advert at the reload (%v); adverts at %v", at, adverts())
		}
		time.Sleep(time.Second)
		synctest.Wait()
		all := a.d.host.Announcer.(*viptest.Announcements).Sent()
		if len(all) <= sent || !slices.Contains(all[sent].Addrs, netip.MustParseAddr("192.0.2.253")) {
			t.Errorf("announcements after the reload: %+v", all[sent:])
		}
	})
}

// betterInConf is a router with a higher priority for groupConf's IN
// only, outside any sync group.
var betterInConf = strings.NewReplacer("VI_1", "IN", "virtual_router_id 51", "virtual_router_id 1").Replace(prio(pairConf, "200"))

// TestLoopSyncGroupPull: a better router takes over one member of a's
// group: that member leaves MASTER and pulls the other to BACKUP, which
// releases its VIP though nobody else claims it, and stays BACKUP since the
// group can only be MASTER together.
func TestLoopSyncGroupPull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		a := startNode(t, wire, "192.0.2.1", "fe80::1", prio(groupConf, "150"))
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if a.state("IN") != "MASTER" || a.state("OUT") != "MASTER" {
			t.Fatalf("set-up: IN %s OUT %s", a.state("IN"), a.state("OUT"))
		}
		b := startNode(t, wire, "192.0.2.2", "fe80::2", betterInConf)
		time.Sleep(30 * time.Second)
		synctest.Wait()
		if b.state("IN") != "MASTER" {
			t.Fatalf("b: IN %s", b.state("IN"))
		}
		if a.state("IN") != "BACKUP" || a.state("OUT") != "BACKUP" || a.has("192.0.2.254/24") || a.has("198.51.100.254/24") {
			t.Errorf("a: IN %s OUT %s, addresses %v", a.state("IN"), a.state("OUT"), a.kernel.Addresses())
		}
		if out := a.inst("OUT"); out.Transitions != 3 || out.Reason != "forced" {
			t.Errorf("a's OUT: %d transitions, last %q; want INIT→BACKUP→MASTER→BACKUP, forced", out.Transitions, out.Reason)
		}
		if g := a.d.Status().Groups; len(g) != 1 || g[0].State != "BACKUP" {
			t.Errorf("group status %+v", g)
		}
	})
}

// otherDevConf is a NAT director's instance: the outside VIP on the
// instance's interface, the inside gateway addresses on eth1 (IPv4, and
// excluded ones: IPv6, which an IPv4 instance only holds there, and IPv4).
var otherDevConf = `
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority 255
    advert_int 1
    version 3
    virtual_ipaddress {
        192.0.2.254/24
        198.51.100.254/24 dev eth1
    }
    virtual_ipaddress_excluded {
        2001:db8:1::fe/64 dev eth1
        198.51.100.253/24 dev eth1
        203.0.113.254/24
    }
}
`

// TestLoopAnnounceOtherDevices: a master announces every virtual address,
// excluded ones too, on the device that holds it: the instance's interface
// with the instance's MAC, every other device once per round with that
// device's own MAC (nil: the Announcer looks it up). A round with an IPv6
// address carries the Router flag when the Announcer says its device
// forwards IPv6; an IPv4-only round never does.
func TestLoopAnnounceOtherDevices(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		a := newNode(t, wire, viptest.NewKernel("eth0", "eth1"), "192.0.2.1", "fe80::1", otherDevConf, Options{})
		for _, dev := range []string{"eth0", "eth1"} {
			a.d.host.Announcer.(*viptest.Announcements).SetIPv6Forwarding(dev, true)
		}
		a.start(t)
		time.Sleep(time.Second)
		synctest.Wait()
		if a.state("VI_1") != "MASTER" {
			t.Fatalf("set-up: %s", a.state("VI_1"))
		}
		sent := a.d.host.Announcer.(*viptest.Announcements).Sent()
		if len(sent) < 2 {
			t.Fatalf("announcements: %+v", sent)
		}
		ips := func(s ...string) []netip.Addr {
			var out []netip.Addr
			for _, a := range s {
				out = append(out, netip.MustParseAddr(a))
			}
			return out
		}
		own, other := sent[0], sent[1]
		if own.Iface != "eth0" || !slices.Equal(own.Addrs, ips("192.0.2.254", "203.0.113.254")) ||
			own.MAC.String() != "02:00:00:00:00:01" || own.Router {
			t.Errorf("first announcement %+v, want 192.0.2.254 and 203.0.113.254 on eth0 with the instance's MAC, no Router flag (IPv4 only)", own)
		}
		if other.Iface != "eth1" || !slices.Equal(other.Addrs, ips("198.51.100.254", "2001:db8:1::fe", "198.51.100.253")) ||
			other.MAC != nil || !other.Router {
			t.Errorf("second announcement %+v, want the eth1 addresses with eth1's own MAC and the Router flag", other)
		}
		if st := a.inst("VI_1"); st.Announcements == 0 || st.AnnounceErrors != 0 {
			t.Errorf("announce_sent %d, errors %d", st.Announcements, st.AnnounceErrors)
		}
	})
}
