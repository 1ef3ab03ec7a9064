package daemon

import (
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// TestLoopSyncGroupTrackingWeight: with sync_group_tracking_weight, a
// member's weighted tracker moves its priority instead of faulting the
// group: both of the master's members track eth2 with weight -60 and drop
// to 150-60 = 90 when it goes down; the peer's members (100) preempt, and
// the two groups swap as wholes, every instance BACKUP or MASTER, none
// FAULT. (Had only one member dropped, the peer's group would wait for
// the other, as keepalived's: a group goes MASTER when all its members
// want to.) Without the keyword the weight
// is dropped with a warning (package config's test), which loadConf
// refuses.
func TestLoopSyncGroupTrackingWeight(t *testing.T) {
	conf := func(p, kw string) string {
		c := prio(groupConf, p)
		c = strings.Replace(c, "        OUT\n    }\n", "        OUT\n    }\n    "+kw+"\n", 1)
		for _, in := range []string{"IN", "OUT"} {
			c = strings.Replace(c, "vrrp_instance "+in+" {\n", "vrrp_instance "+in+" {\n    track_interface {\n        eth2 weight -60\n    }\n", 1)
		}
		return c
	}
	for _, tc := range []struct {
		kw                string
		wantA, wantB, pri string
	}{
		{"sync_group_tracking_weight", "BACKUP", "MASTER", "90"},
	} {
		t.Run(tc.kw, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				wire := vrrptest.NewWire(vrrptest.WireOptions{})
				a := startNode(t, wire, "192.0.2.1", "fe80::1", conf("150", tc.kw))
				b := startNode(t, wire, "192.0.2.2", "fe80::2", conf("100", tc.kw))
				time.Sleep(10 * time.Second)
				synctest.Wait()
				if a.state("IN") != "MASTER" || a.state("OUT") != "MASTER" {
					t.Fatalf("before: %s/%s", a.state("IN"), a.state("OUT"))
				}
				a.ifev <- check.IfaceEvent{Kind: check.IfaceDown, Index: 3, Name: "eth2", Up: false}
				time.Sleep(10 * time.Second)
				synctest.Wait()
				for _, in := range []string{"IN", "OUT"} {
					if a.state(in) != tc.wantA || b.state(in) != tc.wantB {
						t.Errorf("%s after eth2 down: %s on the old master, %s on the peer; want %s, %s", in, a.state(in), b.state(in), tc.wantA, tc.wantB)
					}
				}
				for _, s := range a.d.Status().Instances {
					if strconv.Itoa(s.Priority) != tc.pri {
						t.Errorf("%s's effective priority %d, want %s", s.Name, s.Priority, tc.pri)
					}
				}
			})
		})
	}
}
