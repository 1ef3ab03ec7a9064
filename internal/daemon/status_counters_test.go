package daemon

import (
	"net/netip"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/internal/ctl"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

const countersConf = `
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority 100
    advert_int 1
    version 3
    track_interface {
        eth1 weight -30
    }
    virtual_ipaddress {
        192.0.2.254/24
    }
    virtual_ipaddress_excluded {
        198.51.100.9/32 dev eth1
    }
}
`

// TestLoopMasterCounters: the counters keepalived keeps per instance, and
// the latest transition's time, through the loop. r1 (100) becomes master
// alone at Master_Down_Interval: become_master 1, the transition's time
// exactly then. A priority-0 advert from another router is counted as
// received (r1 stays master, RFC 5798 §6.4.3). A priority-200 advert sends
// r1 to BACKUP: release_master 1, the time moves to that advert's. With the
// peer silent r1 is master again (become_master 2); its stop sends one
// priority-0 advert, counted as sent (the wire sees exactly that many) and
// not as a release, as keepalived counts neither a release at stop.
// Meanwhile the status shows the trackers (its interface, weight 0; eth1,
// weight -30, going down) and which VIP is excluded.
func TestLoopMasterCounters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		seen := capture(t, wire, "192.0.2.200")
		start := time.Now()
		r1 := startNode(t, wire, "192.0.2.1", "fe80::1", countersConf)
		down := 3*time.Second + time.Duration(256-100)*time.Second/256
		sleepUntil(start, down)
		in := r1.instStatus(t, "VI_1")
		if in.State != "MASTER" || in.BecomeMaster != 1 || in.ReleaseMaster != 0 || !in.Since.Equal(start.Add(down)) {
			t.Fatalf("alone: %s, become %d release %d, since +%v; want MASTER 1 0 +%v",
				in.State, in.BecomeMaster, in.ReleaseMaster, in.Since.Sub(start), down)
		}
		wantTrackers := []ctl.TrackerStatus{
			{Kind: "interface", Name: "eth0", State: "up"},
			{Kind: "interface", Name: "eth1", State: "up", Weight: -30},
		}
		if !slices.Equal(in.Trackers, wantTrackers) {
			t.Errorf("trackers %+v, want %+v", in.Trackers, wantTrackers)
		}
		if len(in.VIPs) != 2 || !slices.Equal(in.ExcludedVIPs, []string{"198.51.100.9/32 dev eth1"}) {
			t.Errorf("VIPs %q, excluded %q", in.VIPs, in.ExcludedVIPs)
		}

		peer := newScriptedPeer(wire, "192.0.2.9", 0, time.Second)
		peer.advertAt(t, start, 5*time.Second+time.Second/2)
		in = r1.instStatus(t, "VI_1")
		if in.State != "MASTER" || in.PriorityZeroReceived != 1 || in.BecomeMaster != 1 {
			t.Fatalf("after a priority-0 advert: %s, received %d, become %d", in.State, in.PriorityZeroReceived, in.BecomeMaster)
		}

		peer.pkt.Priority = 200
		peer.advertAt(t, start, 6*time.Second+time.Second/2)
		in = r1.instStatus(t, "VI_1")
		if in.State != "BACKUP" || in.ReleaseMaster != 1 || !in.Since.Equal(start.Add(6*time.Second+time.Second/2)) ||
			in.PriorityZeroReceived != 1 {
			t.Fatalf("after a higher priority: %s, release %d, since +%v, priority-0 received %d",
				in.State, in.ReleaseMaster, in.Since.Sub(start), in.PriorityZeroReceived)
		}

		r1.ifev <- check.IfaceEvent{Kind: check.IfaceDown, Index: 2, Name: "eth1"}
		synctest.Wait()
		in = r1.instStatus(t, "VI_1")
		if in.Trackers[1].State != "down" || in.Priority != 70 {
			t.Errorf("eth1 down: trackers %+v, priority %d", in.Trackers, in.Priority)
		}

		sleepUntil(start, 15*time.Second)
		if in = r1.instStatus(t, "VI_1"); in.State != "MASTER" || in.BecomeMaster != 2 || in.PriorityZeroSent != 0 {
			t.Fatalf("peer silent: %s, become %d, priority-0 sent %d", in.State, in.BecomeMaster, in.PriorityZeroSent)
		}
		r1.stop()
		synctest.Wait()
		in = r1.instStatus(t, "VI_1")
		zeros := 0
		for _, a := range seen() {
			if a.src == netip.MustParseAddr("192.0.2.1") && a.prio == 0 {
				zeros++
			}
		}
		if in.PriorityZeroSent != 1 || zeros != 1 || in.ReleaseMaster != 1 || in.BecomeMaster != 2 {
			t.Fatalf("after stop: priority-0 sent %d (wire: %d), release %d, become %d; want 1 (1), 1, 2",
				in.PriorityZeroSent, zeros, in.ReleaseMaster, in.BecomeMaster)
		}
	})
}
