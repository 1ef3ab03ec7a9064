package daemon

import (
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/vip"
	"github.com/vigil-ha/vigil/vip/viptest"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// TestExtraIfTargets: with all, one target per interface other than the
// one the instance's VIPs are on, its first address, in configuration
// order; that one too with vmac_xmit_base; without all only that one, and
// only with vmac_xmit_base.
func TestExtraIfTargets(t *testing.T) {
	a := func(p, dev string) vip.Address { return vip.Address{Prefix: netip.MustParsePrefix(p), Dev: dev} }
	addrs := []vip.Address{
		a("192.0.2.254/24", "vrrp.51"), a("198.51.100.1/24", "eth1"), a("198.51.100.2/24", "eth1"),
		a("203.0.113.1/24", "eth2"), a("192.0.2.253/24", "vrrp.51"),
	}
	self := extraTarget{"vrrp.51", netip.MustParseAddr("192.0.2.254")}
	others := []extraTarget{{"eth1", netip.MustParseAddr("198.51.100.1")}, {"eth2", netip.MustParseAddr("203.0.113.1")}}
	for _, tc := range []struct {
		all, xmitBase bool
		want          []extraTarget
	}{
		{true, false, others},
		{true, true, append([]extraTarget{self}, others...)},
		{false, true, []extraTarget{self}},
		{false, false, nil},
	} {
		if got := extraIfTargets("vrrp.51", tc.all, tc.xmitBase, addrs); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("all %v xmit_base %v: targets %v, want %v", tc.all, tc.xmitBase, got, tc.want)
		}
	}
	if got := extraIfTargets("eth0", true, false, []vip.Address{a("192.0.2.254/24", "eth0")}); got != nil {
		t.Errorf("no other interface: %v", got)
	}
}

// TestLoopGARPExtraIf: with garp_extra_if all 30, a master announces its
// first VIP on eth1 (not eth0, the instance's interface) every 30 s, the
// first 30 s after becoming MASTER, not a nanosecond before; without all
// (the instance's VMAC only) nothing is sent on eth1; a backup sends
// nothing.
func TestLoopGARPExtraIf(t *testing.T) {
	conf := func(prio, kw string) string {
		c := "global_defs {\n    vrrp_garp_master_delay 0\n}\n" + fmt.Sprintf(oneInstance, prio, kw)
		return strings.Replace(c, "192.0.2.254/24\n", "192.0.2.254/24\n        198.51.100.1/24 dev eth1\n        198.51.100.2/24 dev eth1\n", 1)
	}
	// The master's own rounds announce both eth1 addresses there too;
	// an extra-interface round only the first.
	onEth1 := func(n *node) []viptest.Announcement {
		var out []viptest.Announcement
		for _, a := range n.d.host.Announcer.(*viptest.Announcements).Sent() {
			if a.Iface == "eth1" && len(a.Addrs) == 1 {
				out = append(out, a)
			}
		}
		return out
	}
	for _, tc := range []struct {
		kw     string
		rounds bool
	}{
		{"garp_extra_if all 30", true},
		{"garp_extra_if 30", false},
	} {
		t.Run(tc.kw, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				wire := vrrptest.NewWire(vrrptest.WireOptions{})
				start := time.Now()
				a := startNode(t, wire, "192.0.2.1", "fe80::1", conf("150", tc.kw))
				b := startNode(t, wire, "192.0.2.2", "fe80::2", conf("100", tc.kw))
				masterAt := start.Add(3*time.Second + time.Duration(256-150)*time.Second/256)
				sleepUntil(masterAt, time.Millisecond)
				if a.state("VI_1") != "MASTER" {
					t.Fatalf("set-up: %s", a.state("VI_1"))
				}
				sleepUntil(masterAt, 30*time.Second-time.Millisecond)
				if n := len(onEth1(a)); n != 0 {
					t.Fatalf("%d announcements on eth1 before the first interval", n)
				}
				sleepUntil(masterAt, 30*time.Second+time.Millisecond)
				want := 0
				if tc.rounds {
					want = 1
				}
				if got := onEth1(a); len(got) != want || want == 1 && !reflect.DeepEqual(got[0].Addrs, []netip.Addr{netip.MustParseAddr("198.51.100.1")}) {
					t.Fatalf("after one interval: %+v, want %d round(s) for 198.51.100.1", got, want)
				}
				sleepUntil(masterAt, 95*time.Second)
				if got := len(onEth1(a)); got != 3*want {
					t.Errorf("after 95 s: %d rounds, want %d", got, 3*want)
				}
				if got := len(onEth1(b)); got != 0 {
					t.Errorf("the backup sent %d rounds on eth1", got)
				}
			})
		})
	}
}
