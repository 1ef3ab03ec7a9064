package daemon

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// unicastTTLConf is an instance with one unicast peer; %s are the
// priority, the peer line and extra instance keywords.
const unicastTTLConf = `
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority %s
    advert_int 1
    version 3
    unicast_src_ip %s
    unicast_peer {
        %s
    }
    %s
    virtual_ipaddress {
        192.0.2.254/24
    }
}
`

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
				a := startNode(t, wire, "192.0.2.1", "fe80::1", fmt.Sprintf(unicastTTLConf, "150", "192.0.2.1", "192.0.2.2", tc.ttl))
				b := startNode(t, wire, "192.0.2.2", "fe80::2", fmt.Sprintf(unicastTTLConf, "100", "192.0.2.2", "192.0.2.1 min_ttl 10", ""))
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
	const conf = `
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
				a := startNode(t, wire, "192.0.2.1", "fe80::1", fmt.Sprintf(conf, "150", tc.extra))
				b := startNode(t, wire, "192.0.2.2", "fe80::2", fmt.Sprintf(conf, "100", ""))
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
