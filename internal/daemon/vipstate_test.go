package daemon

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/internal/ctl"
	"github.com/vigil-ha/vigil/vip"
	"github.com/vigil-ha/vigil/vip/viptest"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// These loop tests cover the VIPs a master does not hold alone: those a
// killed predecessor left on the host (removed at start-up, before any
// instance is BACKUP) and those someone removes while it is MASTER
// (keepalived's answer: release MASTER, take it back after Skew_Time). The
// namespace tests in cmd/vigild prove the same with the real binary.

// syncBuf is a log sink the loop writes and the test reads.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) count(sub string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Count(s.b.String(), sub)
}

func (s *syncBuf) index(sub string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Index(s.b.String(), sub)
}

func newLogBuf() (*syncBuf, *slog.Logger) {
	b := &syncBuf{}
	return b, slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func (n *node) inst(name string) ctl.InstanceStatus {
	for _, in := range n.d.Status().Instances {
		if in.Name == name {
			return in
		}
	}
	return ctl.InstanceStatus{}
}

// leftoverConf has a VIP, an excluded VIP, a virtual route and rule, and a
// static address; nopreempt so that a restarted node stays BACKUP.
const leftoverConf = `
static_ipaddress {
    192.0.2.10/24 dev eth0
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority %PRIO%
    advert_int 1
    version 3
    nopreempt
    virtual_ipaddress {
        192.0.2.254/24
    }
    virtual_ipaddress_excluded {
        2001:db8:1::254/64
    }
    virtual_routes {
        203.0.113.0/24 via 192.0.2.99 dev eth0 table 100
    }
    virtual_rules {
        from 192.0.2.254/32 table 100 priority 1000
    }
}
`

// stale puts on k what a killed master running leftoverConf leaves
// behind, plus an address vigil does not manage.
func stale(t *testing.T, k *viptest.Kernel) (vips []vip.Address, static, foreign vip.Address) {
	t.Helper()
	c := context.Background()
	p := netip.MustParsePrefix
	vips = []vip.Address{
		{Prefix: p("192.0.2.254/24"), Dev: "eth0"},
		{Prefix: p("2001:db8:1::254/64"), Dev: "eth0", NoDAD: true},
	}
	static = vip.Address{Prefix: p("192.0.2.10/24"), Dev: "eth0"}
	foreign = vip.Address{Prefix: p("192.0.2.1/24"), Dev: "eth0"}
	if err := k.AddAddresses(c, append([]vip.Address{foreign, static}, vips...)); err != nil {
		t.Fatal(err)
	}
	if err := k.AddAddresses(c, vips); err != nil {
		t.Fatal(err)
	}
	if err := k.AddRoutes(c, []vip.Route{{Dst: p("203.0.113.0/24"), Via: netip.MustParseAddr("192.0.2.99"), Dev: "eth0", Table: 100}}); err != nil {
		t.Fatal(err)
	}
	if err := k.AddRules(c, []vip.Rule{{From: p("192.0.2.254/32"), Table: 100, Priority: 1000}}); err != nil {
		t.Fatal(err)
	}
	return vips, static, foreign
}

// TestLoopStartupRemovesLeftovers: a master was killed and left its VIPs,
// route and rule; the peer took over. The restarted node enters BACKUP
// without them (removed before the instance started, logged as keepalived
// does), keeps the static and the foreign address, and counts what it
// removed.
func TestLoopStartupRemovesLeftovers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		b := startNode(t, wire, "192.0.2.2", "fe80::2", prio(leftoverConf, "100"))
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if b.state("VI_1") != "MASTER" {
			t.Fatalf("peer: %s", b.state("VI_1"))
		}
		k := viptest.NewKernel("eth0", "eth1")
		_, static, foreign := stale(t, k)
		logs, log := newLogBuf()
		a := startNodeOn(t, wire, k, log, "192.0.2.1", "fe80::1", prio(leftoverConf, "150"))
		synctest.Wait()
		if a.state("VI_1") != "BACKUP" {
			t.Fatalf("restarted node: %s, want BACKUP", a.state("VI_1"))
		}
		if got := k.Addresses(); len(got) != 2 || got[0] != foreign || got[1] != static {
			t.Errorf("restarted BACKUP holds %v, want only %v and the static %v", got, foreign, static)
		}
		if r := k.Routes(); len(r) != 0 {
			t.Errorf("virtual route left: %v", r)
		}
		if r := k.Rules(); len(r) != 0 {
			t.Errorf("virtual rule left: %v", r)
		}
		if got, want := a.inst("VI_1").StartupRemoved, (ctl.LeftoverCounts{Addresses: 2, Routes: 1, Rules: 1}); got != want {
			t.Errorf("startup_removed = %+v, want %+v", got, want)
		}
		var m bytes.Buffer
		if err := ctl.WriteMetrics(&m, a.d.Status()); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{
			`vigil_startup_removed_total{family="inet",instance="VI_1",interface="eth0",vrid="51",kind="address"} 2`,
			`vigil_startup_removed_total{family="inet",instance="VI_1",interface="eth0",vrid="51",kind="route"} 1`,
			`vigil_startup_removed_total{family="inet",instance="VI_1",interface="eth0",vrid="51",kind="rule"} 1`,
		} {
			if !strings.Contains(m.String(), want) {
				t.Errorf("metrics lack %s", want)
			}
		}
		for _, line := range []string{"(VI_1) removing Virtual Rules", "(VI_1) removing Virtual Routes", "(VI_1) removing VIPs.", "(VI_1) removing E-VIPs."} {
			if logs.count(line) != 1 {
				t.Errorf("log has %q %d times, want once", line, logs.count(line))
			}
		}
		if rm, in := logs.index("removing VIPs."), logs.index("Entering BACKUP STATE"); rm < 0 || in < 0 || rm > in {
			t.Errorf("VIPs removed (at %d) after entering BACKUP (at %d)", rm, in)
		}
		// Stays BACKUP without them (nopreempt), the peer keeps them.
		time.Sleep(20 * time.Second)
		synctest.Wait()
		if a.state("VI_1") != "BACKUP" || a.has("192.0.2.254/24") || !b.has("192.0.2.254/24") {
			t.Errorf("later: a %s (VIP %v), peer VIP %v", a.state("VI_1"), a.has("192.0.2.254/24"), b.has("192.0.2.254/24"))
		}
	})
}

// TestLoopStartupOwnerReadds: an address owner removes the leftovers like
// everyone (keepalived does too) and adds them again as it becomes MASTER.
func TestLoopStartupOwnerReadds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		k := viptest.NewKernel("eth0", "eth1")
		vips, static, foreign := stale(t, k)
		owner := strings.Replace(prio(leftoverConf, "255"), "nopreempt", "", 1)
		a := startNodeOn(t, wire, k, nil, "192.0.2.1", "fe80::1", owner)
		synctest.Wait()
		if a.state("VI_1") != "MASTER" {
			t.Fatalf("owner: %s", a.state("VI_1"))
		}
		if got := k.Addresses(); len(got) != 4 || got[0] != foreign || got[1] != static || got[2] != vips[0] || got[3] != vips[1] {
			t.Errorf("owner holds %v", got)
		}
		if len(k.Routes()) != 1 || len(k.Rules()) != 1 {
			t.Errorf("owner routes %v rules %v", k.Routes(), k.Rules())
		}
		if got := a.inst("VI_1").StartupRemoved; got.Addresses != 2 {
			t.Errorf("startup_removed = %+v", got)
		}
	})
}

// TestLoopReloadKeepsAddresses: the sweep is for start-up only; a reload
// of a BACKUP does not remove an address that matches one of its VIPs.
func TestLoopReloadKeepsAddresses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		b := startNode(t, wire, "192.0.2.2", "fe80::2", prio(leftoverConf, "200"))
		a := startNode(t, wire, "192.0.2.1", "fe80::1", prio(leftoverConf, "100"))
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if a.state("VI_1") != "BACKUP" || b.state("VI_1") != "MASTER" {
			t.Fatalf("a %s b %s", a.state("VI_1"), b.state("VI_1"))
		}
		stale(t, a.kernel)
		done := make(chan error, 1)
		cfg := loadConf(t, prio(leftoverConf, "100"))
		a.d.post(context.Background(), func(now time.Time) { done <- a.d.apply(cfg, now) })
		synctest.Wait()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if !a.has("192.0.2.254/24") || len(a.kernel.Routes()) != 1 {
			t.Errorf("reload removed addresses: %v %v", a.kernel.Addresses(), a.kernel.Routes())
		}
		if got := a.inst("VI_1").StartupRemoved; got != (ctl.LeftoverCounts{}) {
			t.Errorf("startup_removed after reload = %+v", got)
		}
	})
}

// removeVIP deletes a VIP from n's kernel behind the daemon's back and
// reports it the way the netlink watcher does.
func removeVIP(t *testing.T, n *node, dev, prefix string) {
	t.Helper()
	p := netip.MustParsePrefix(prefix)
	a := vip.Address{Prefix: p, Dev: dev, NoDAD: p.Addr().Is6()}
	if err := n.kernel.RemoveAddresses(context.Background(), []vip.Address{a}); err != nil {
		t.Fatal(err)
	}
	n.ifev <- check.IfaceEvent{Kind: check.AddrRemoved, Index: 1, Name: dev, Up: true, Addr: p}
}

// TestLoopVIPRemovedWhileMaster: `ip addr del` of the master's VIP. As
// keepalived 2.2.7 does, the master sends priority 0, goes BACKUP and
// takes over again after its Skew_Time (shorter than the peer's), putting
// the VIP back; the peer never becomes master. Every removal is counted,
// the log line is rate-limited per VIP.
func TestLoopVIPRemovedWhileMaster(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		logs, log := newLogBuf()
		a := startNodeOn(t, wire, viptest.NewKernel("eth0", "eth1"), log, "192.0.2.1", "fe80::1", prio(pairConf, "150"))
		b := startNode(t, wire, "192.0.2.2", "fe80::2", prio(pairConf, "100"))
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if a.state("VI_1") != "MASTER" || b.state("VI_1") != "BACKUP" {
			t.Fatalf("a %s b %s", a.state("VI_1"), b.state("VI_1"))
		}
		skewA := time.Duration(256-150) * time.Second / 256
		for i := 1; i <= 3; i++ {
			at := time.Now()
			removeVIP(t, a, "eth0", "192.0.2.254/24")
			synctest.Wait()
			if s := a.inst("VI_1"); s.State != "BACKUP" || s.Reason != "vip_removed" || a.has("192.0.2.254/24") {
				t.Fatalf("#%d after removal: %s (%s), VIP %v", i, s.State, s.Reason, a.has("192.0.2.254/24"))
			}
			sleepUntil(at, skewA-time.Millisecond)
			if a.state("VI_1") != "BACKUP" || a.has("192.0.2.254/24") || b.state("VI_1") != "BACKUP" {
				t.Fatalf("#%d before Skew_Time: a %s b %s", i, a.state("VI_1"), b.state("VI_1"))
			}
			sleepUntil(at, skewA+time.Millisecond)
			if a.state("VI_1") != "MASTER" || !a.has("192.0.2.254/24") {
				t.Fatalf("#%d after Skew_Time: a %s, VIP %v", i, a.state("VI_1"), a.has("192.0.2.254/24"))
			}
			time.Sleep(2 * time.Second)
			synctest.Wait()
			if b.state("VI_1") != "BACKUP" || b.has("192.0.2.254/24") || b.inst("VI_1").Transitions != 1 {
				t.Fatalf("#%d peer: %s, VIP %v, transitions %d", i, b.state("VI_1"), b.has("192.0.2.254/24"), b.inst("VI_1").Transitions)
			}
			if s := a.inst("VI_1"); s.VIPsRemoved != uint64(i) || s.VIPsRestored != uint64(i) {
				t.Fatalf("#%d counters removed %d restored %d", i, s.VIPsRemoved, s.VIPsRestored)
			}
		}
		const line = "VIP 192.0.2.254/24 was removed from eth0 while MASTER"
		if n := logs.count(line); n != 1 {
			t.Errorf("%d lines %q within %v, want 1", n, line, vipLogEvery)
		}
		time.Sleep(vipLogEvery)
		synctest.Wait()
		removeVIP(t, a, "eth0", "192.0.2.254/24")
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if n := logs.count(line); n != 2 {
			t.Errorf("%d lines %q after %v, want 2", n, line, vipLogEvery)
		}
		if s := a.inst("VI_1"); s.VIPsRemoved != 4 || s.VIPsRestored != 4 || s.State != "MASTER" {
			t.Errorf("final: %s removed %d restored %d", s.State, s.VIPsRemoved, s.VIPsRestored)
		}
		var m bytes.Buffer
		if err := ctl.WriteMetrics(&m, a.d.Status()); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{
			`vigil_vips_removed_while_master_total{family="inet",instance="VI_1",interface="eth0",vrid="51"} 4`,
			`vigil_vips_restored_total{family="inet",instance="VI_1",interface="eth0",vrid="51"} 4`,
		} {
			if !strings.Contains(m.String(), want) {
				t.Errorf("metrics lack %s", want)
			}
		}
	})
}

// TestLoopVIPRemovedIgnored: a removal of an address tagged no_track, a
// stale event for a VIP that is still there, and a removal on a backup
// change nothing.
func TestLoopVIPRemovedIgnored(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		conf := strings.Replace(pairConf, "192.0.2.254/24", "192.0.2.254/24 no_track\n        192.0.2.253/24", 1)
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		a := startNode(t, wire, "192.0.2.1", "fe80::1", prio(conf, "150"))
		b := startNode(t, wire, "192.0.2.2", "fe80::2", prio(conf, "100"))
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if a.state("VI_1") != "MASTER" {
			t.Fatalf("a %s", a.state("VI_1"))
		}
		removeVIP(t, a, "eth0", "192.0.2.254/24") // no_track
		a.ifev <- check.IfaceEvent{Kind: check.AddrRemoved, Index: 1, Name: "eth0", Up: true, Addr: netip.MustParsePrefix("192.0.2.253/24")}
		removeVIP(t, b, "eth0", "192.0.2.253/24") // a backup's
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if s := a.inst("VI_1"); s.State != "MASTER" || s.Transitions != 2 || s.VIPsRemoved != 0 {
			t.Errorf("a: %s transitions %d removed %d", s.State, s.Transitions, s.VIPsRemoved)
		}
		if a.has("192.0.2.254/24") || !a.has("192.0.2.253/24") {
			t.Errorf("a holds %v", a.kernel.Addresses())
		}
		if s := b.inst("VI_1"); s.State != "BACKUP" || s.VIPsRemoved != 0 {
			t.Errorf("b: %s removed %d", s.State, s.VIPsRemoved)
		}
	})
}

// TestLoopVIPRemovedSyncGroup: a VIP of one member removed: every master of
// the group leaves with its own priority-0 advert and Skew_Time, and the
// group comes back together, holding every VIP.
func TestLoopVIPRemovedSyncGroup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		a := startNode(t, wire, "192.0.2.1", "fe80::1", prio(groupConf, "150"))
		b := startNode(t, wire, "192.0.2.2", "fe80::2", prio(groupConf, "100"))
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if a.state("IN") != "MASTER" || a.state("OUT") != "MASTER" {
			t.Fatalf("a: IN %s OUT %s", a.state("IN"), a.state("OUT"))
		}
		at := time.Now()
		removeVIP(t, a, "eth1", "198.51.100.254/24")
		synctest.Wait()
		for _, in := range []string{"IN", "OUT"} {
			if s := a.inst(in); s.State != "BACKUP" || s.Reason != "vip_removed" {
				t.Fatalf("a %s after removal: %s (%s)", in, s.State, s.Reason)
			}
		}
		if a.has("192.0.2.254/24") || a.has("198.51.100.254/24") {
			t.Fatalf("a kept VIPs as BACKUP: %v", a.kernel.Addresses())
		}
		skewA := time.Duration(256-150) * time.Second / 256
		sleepUntil(at, skewA+time.Millisecond)
		for _, in := range []string{"IN", "OUT"} {
			if a.state(in) != "MASTER" || b.state(in) != "BACKUP" {
				t.Fatalf("after Skew_Time: %s a=%s b=%s", in, a.state(in), b.state(in))
			}
		}
		if !a.has("192.0.2.254/24") || !a.has("198.51.100.254/24") {
			t.Errorf("a holds %v", a.kernel.Addresses())
		}
		if s := a.inst("OUT"); s.VIPsRemoved != 1 || s.VIPsRestored != 1 {
			t.Errorf("OUT counters removed %d restored %d", s.VIPsRemoved, s.VIPsRestored)
		}
		if s := a.inst("IN"); s.VIPsRemoved != 0 {
			t.Errorf("IN counted a removal: %d", s.VIPsRemoved)
		}
	})
}

// TestLoopStartupKeepsStatics: an address that is both a static and a VIP
// of a BACKUP (a configuration keepalived accepts too) is a static: the
// start-up sweep leaves it.
func TestLoopStartupKeepsStatics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		conf := strings.Replace(prio(leftoverConf, "100"), "192.0.2.10/24 dev eth0", "192.0.2.254/24 dev eth0", 1)
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		k := viptest.NewKernel("eth0", "eth1")
		stale(t, k)
		a := startNodeOn(t, wire, k, nil, "192.0.2.1", "fe80::1", conf)
		synctest.Wait()
		if a.state("VI_1") != "BACKUP" {
			t.Fatalf("a %s", a.state("VI_1"))
		}
		if !a.has("192.0.2.254/24") || a.has("2001:db8:1::254/64") {
			t.Errorf("a holds %v, want the static 192.0.2.254/24 and not the IPv6 VIP", k.Addresses())
		}
		if got := a.inst("VI_1").StartupRemoved; got != (ctl.LeftoverCounts{Addresses: 1, Routes: 1, Rules: 1}) {
			t.Errorf("startup_removed = %+v", got)
		}
	})
}
