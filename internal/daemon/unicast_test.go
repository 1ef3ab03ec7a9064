package daemon

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// oneInstance is VI_1 on eth0 with the VIP 192.0.2.254/24; %s are the
// priority and extra instance lines.
const oneInstance = `
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority %s
    advert_int 1
    version 3
    %s
    virtual_ipaddress {
        192.0.2.254/24
    }
}
`

// unicastTTLConf is oneInstance with one unicast peer and extra lines.
func unicastTTLConf(prio, src, peer, extra string) string {
	return fmt.Sprintf(oneInstance, prio, "unicast_src_ip "+src+"\n    unicast_peer {\n        "+peer+"\n    }\n    "+extra)
}

// TestLoopUnicastTTL: the master's unicast_ttl is the TTL its adverts
// arrive with. A backup whose unicast_peer line asks min_ttl 10 accepts
// the master's adverts at unicast_ttl 10 and stays BACKUP; at unicast_ttl
// 9 it drops every one (counted as ttl) and takes over after
// Master_Down_Interval, as keepalived's would.
func TestLoopUnicastTTL(t *testing.T) {
	for _, tc := range []struct {
		ttl       string
		wantState string
	}{
		{"unicast_ttl 10", "BACKUP"},
		{"unicast_ttl 9", "MASTER"},
		{"", "BACKUP"}, // the default, 255
	} {
		t.Run(fmt.Sprintf("%q", tc.ttl), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				wire := vrrptest.NewWire(vrrptest.WireOptions{})
				a := startNode(t, wire, "192.0.2.1", "fe80::1", unicastTTLConf("150", "192.0.2.1", "192.0.2.2", tc.ttl))
				b := startNode(t, wire, "192.0.2.2", "fe80::2", unicastTTLConf("100", "192.0.2.2", "192.0.2.1 min_ttl 10", ""))
				time.Sleep(10 * time.Second)
				synctest.Wait()
				if a.state("VI_1") != "MASTER" {
					t.Fatalf("higher priority: %s", a.state("VI_1"))
				}
				if got := b.state("VI_1"); got != tc.wantState {
					t.Errorf("backup with min_ttl 10: %s, want %s", got, tc.wantState)
				}
				drops := b.d.Status().Instances[0].Received["ttl"]
				if tc.wantState == "MASTER" && drops == 0 || tc.wantState == "BACKUP" && drops != 0 {
					t.Errorf("backup counted %d TTL drops", drops)
				}
			})
		})
	}
}

// TestLoopUnicastFaultNoPeer: an instance with unicast_fault_no_peer and
// no unicast peer starts in FAULT and stays there: it sends no advert and
// holds no VIP while its peer, with a lower priority, becomes master.
// Without the keyword the same instance runs multicast and wins (the
// deprecated fall-back of a unicast keyword without peers is a config
// warning, tested in package config).
func TestLoopUnicastFaultNoPeer(t *testing.T) {
	for _, tc := range []struct {
		extra     string
		wantState string
	}{
		{"unicast_src_ip 192.0.2.1\n    unicast_fault_no_peer", "FAULT"},
		{"", "MASTER"},
	} {
		t.Run(tc.wantState, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				wire := vrrptest.NewWire(vrrptest.WireOptions{})
				a := startNode(t, wire, "192.0.2.1", "fe80::1", fmt.Sprintf(oneInstance, "150", tc.extra))
				b := startNode(t, wire, "192.0.2.2", "fe80::2", fmt.Sprintf(oneInstance, "100", ""))
				time.Sleep(10 * time.Second)
				synctest.Wait()
				st := a.d.Status().Instances[0]
				if st.State != tc.wantState {
					t.Fatalf("state %s, want %s", st.State, tc.wantState)
				}
				if tc.wantState == "FAULT" {
					if st.AdvertsSent != 0 || a.has("192.0.2.254/24") || !st.Faulted || st.TrackReason != noPeerFault {
						t.Errorf("faulted instance: %d adverts, VIP %v, faulted %v (%q)", st.AdvertsSent, a.has("192.0.2.254/24"), st.Faulted, st.TrackReason)
					}
					if b.state("VI_1") != "MASTER" || !b.has("192.0.2.254/24") {
						t.Errorf("peer: %s, VIP %v", b.state("VI_1"), b.has("192.0.2.254/24"))
					}
				} else if b.state("VI_1") != "BACKUP" {
					t.Errorf("peer: %s", b.state("VI_1"))
				}
			})
		})
	}
}

// TestLoopTrackSrcIP: with track_src_ip, the instance is in FAULT while
// its mcast_src_ip is missing from its interface, and back when the
// address returns, as keepalived's. It starts in FAULT when the address is
// not local; an address event on another interface, or for another
// address, changes nothing; without track_src_ip the removal is ignored.
func TestLoopTrackSrcIP(t *testing.T) {
	src := netip.MustParsePrefix("192.0.2.11/24")
	local := func(addrs ...netip.Addr) func() ([]netip.Addr, error) {
		return func() ([]netip.Addr, error) { return addrs, nil }
	}
	settle := func() { time.Sleep(10 * time.Second); synctest.Wait() }
	t.Run("removed and back", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			wire := vrrptest.NewWire(vrrptest.WireOptions{})
			a := startNodeWith(t, wire, "192.0.2.1", "fe80::1", fmt.Sprintf(oneInstance, "150", "mcast_src_ip 192.0.2.11\n    track_src_ip"),
				Options{Host: Host{LocalAddrs: local(netip.MustParseAddr("192.0.2.1"), src.Addr())}})
			b := startNode(t, wire, "192.0.2.2", "fe80::2", fmt.Sprintf(oneInstance, "100", ""))
			settle()
			if a.state("VI_1") != "MASTER" {
				t.Fatalf("source present: %s", a.state("VI_1"))
			}
			a.ifev <- check.IfaceEvent{Kind: check.AddrRemoved, Name: "eth1", Up: true, Addr: src}
			a.ifev <- check.IfaceEvent{Kind: check.AddrRemoved, Name: "eth0", Up: true, Addr: netip.MustParsePrefix("192.0.2.12/24")}
			settle()
			if a.state("VI_1") != "MASTER" {
				t.Fatalf("another interface's or address's removal: %s", a.state("VI_1"))
			}
			a.ifev <- check.IfaceEvent{Kind: check.AddrRemoved, Name: "eth0", Up: true, Addr: src}
			settle()
			st := a.d.Status().Instances[0]
			if st.State != "FAULT" || a.has("192.0.2.254/24") || !strings.Contains(st.TrackReason, "192.0.2.11 missing from eth0") {
				t.Fatalf("source removed: %s (%q), VIP %v", st.State, st.TrackReason, a.has("192.0.2.254/24"))
			}
			if b.state("VI_1") != "MASTER" {
				t.Errorf("peer: %s", b.state("VI_1"))
			}
			a.ifev <- check.IfaceEvent{Kind: check.AddrAdded, Name: "eth0", Up: true, Addr: src}
			settle()
			if a.state("VI_1") != "MASTER" || b.state("VI_1") != "BACKUP" {
				t.Errorf("source back: %s, peer %s", a.state("VI_1"), b.state("VI_1"))
			}
		})
	})
	t.Run("missing at start", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			wire := vrrptest.NewWire(vrrptest.WireOptions{})
			a := startNodeWith(t, wire, "192.0.2.1", "fe80::1", fmt.Sprintf(oneInstance, "150", "mcast_src_ip 192.0.2.11\n    track_src_ip"),
				Options{Host: Host{LocalAddrs: local(netip.MustParseAddr("192.0.2.1"))}})
			settle()
			if st := a.d.Status().Instances[0]; st.State != "FAULT" || st.AdvertsSent != 0 {
				t.Fatalf("source missing at start: %s, %d adverts", st.State, st.AdvertsSent)
			}
		})
	})
	t.Run("not tracked", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			wire := vrrptest.NewWire(vrrptest.WireOptions{})
			a := startNodeWith(t, wire, "192.0.2.1", "fe80::1", fmt.Sprintf(oneInstance, "150", "mcast_src_ip 192.0.2.11"),
				Options{Host: Host{LocalAddrs: local()}})
			settle()
			a.ifev <- check.IfaceEvent{Kind: check.AddrRemoved, Name: "eth0", Up: true, Addr: src}
			settle()
			if a.state("VI_1") != "MASTER" {
				t.Fatalf("without track_src_ip: %s", a.state("VI_1"))
			}
		})
	})
}
