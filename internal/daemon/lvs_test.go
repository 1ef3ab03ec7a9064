package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/healthcheck"
	"github.com/vigil-ha/vigil/internal/ctl"
	"github.com/vigil-ha/vigil/ipvs"
	"github.com/vigil-ha/vigil/ipvs/ipvstest"
	"github.com/vigil-ha/vigil/vip/viptest"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// These tests run the daemon's loop with IPVS on the ipvstest twin and
// the health checkers on probes the test answers (Host.Probe), inside a
// synctest bubble. The VM test in cmd/vigild runs the same path on a
// kernel with IPVS and real listeners.

// twinIPVS is the twin table with the rest of the IPVS interface, and a
// log of every change made to it.
type twinIPVS struct {
	*ipvstest.Twin
	mu       sync.Mutex // guards the following fields
	ops      []string
	timeouts ipvs.Timeouts
	syncd    map[ipvs.SyncState]ipvs.SyncDaemon
	closed   bool
}

func newTwinIPVS() *twinIPVS {
	return &twinIPVS{Twin: ipvstest.New(), timeouts: ipvs.Timeouts{TCP: 900, TCPFin: 120, UDP: 300},
		syncd: map[ipvs.SyncState]ipvs.SyncDaemon{}}
}

func (w *twinIPVS) note(format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ops = append(w.ops, fmt.Sprintf(format, args...))
}

func (w *twinIPVS) AddService(s *ipvs.Service) error {
	w.note("add-service %s", s.Key)
	return w.Twin.AddService(s)
}
func (w *twinIPVS) EditService(s *ipvs.Service) error {
	w.note("edit-service %s", s.Key)
	return w.Twin.EditService(s)
}
func (w *twinIPVS) DelService(k ipvs.ServiceKey) error {
	w.note("del-service %s", k)
	return w.Twin.DelService(k)
}
func (w *twinIPVS) AddDest(k ipvs.ServiceKey, d ipvs.Dest) error {
	w.note("add-dest %s", d.Key())
	return w.Twin.AddDest(k, d)
}
func (w *twinIPVS) EditDest(k ipvs.ServiceKey, d ipvs.Dest) error {
	w.note("edit-dest %s w%d", d.Key(), d.Weight)
	return w.Twin.EditDest(k, d)
}
func (w *twinIPVS) DelDest(k ipvs.ServiceKey, d ipvs.DestKey) error {
	w.note("del-dest %s", d)
	return w.Twin.DelDest(k, d)
}
func (w *twinIPVS) Flush() error {
	w.note("flush")
	return w.Twin.Flush()
}
func (w *twinIPVS) Timeouts() (ipvs.Timeouts, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.timeouts, nil
}
func (w *twinIPVS) SetTimeouts(t ipvs.Timeouts) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.timeouts = t
	return nil
}
func (w *twinIPVS) StartSyncDaemon(d ipvs.SyncDaemon) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.syncd[d.State]; ok {
		return fmt.Errorf("twin: %s sync daemon already runs", d.State)
	}
	w.syncd[d.State] = d
	return nil
}
func (w *twinIPVS) StopSyncDaemon(s ipvs.SyncState) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.syncd[s]; !ok {
		return fmt.Errorf("twin: no %s sync daemon", s)
	}
	delete(w.syncd, s)
	return nil
}
func (w *twinIPVS) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	return nil
}

// takeOps returns the changes made since the last call.
func (w *twinIPVS) takeOps() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	ops := w.ops
	w.ops = nil
	return ops
}

func (w *twinIPVS) syncStates() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for st, d := range w.syncd {
		out = append(out, fmt.Sprintf("%s %s id %d", st, d.Iface, d.SyncID))
	}
	slices.Sort(out)
	return out
}

// dests prints the destinations of the service key as "addr:port/wN ...";
// "none" when the service does not exist.
func (w *twinIPVS) dests(key string) string {
	t, _ := w.Services()
	for k, s := range t {
		if k.String() != key {
			continue
		}
		var out []string
		for _, dk := range slices.SortedFunc(maps.Keys(s.Dests), ipvs.DestKey.Compare) {
			out = append(out, fmt.Sprintf("%s/w%d", dk, s.Dests[dk].Weight))
		}
		return strings.Join(out, " ")
	}
	return "none"
}

// probes answers every checker by its target address: up unless marked
// down.
type probes struct {
	mu   sync.Mutex
	down map[netip.AddrPort]bool
}

func newProbes() *probes { return &probes{down: map[netip.AddrPort]bool{}} }

func (p *probes) set(addr string, up bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down[netip.MustParseAddrPort(addr)] = !up
}

func (p *probes) probe(sp healthcheck.Spec) healthcheck.Prober {
	tcp, ok := sp.Prober.(*healthcheck.TCPProbe)
	if !ok {
		panic(fmt.Sprintf("probes: %T", sp.Prober))
	}
	addr := tcp.Conn.Addr
	return healthcheck.ProberFunc(func(context.Context) healthcheck.Result {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.down[addr] {
			return healthcheck.Result{Verdict: healthcheck.Failure, Err: "connection refused"}
		}
		return healthcheck.Result{Verdict: healthcheck.Success}
	})
}

// lvsServer is a NAT virtual server on pairConf's address with two real
// servers under TCP_CHECK; %VS% and %RS1% are replaced by the tests.
const lvsServer = `
virtual_server 192.0.2.254 80 {
    delay_loop 2
    lb_algo rr
    lb_kind NAT
    protocol TCP
    %VS%
    real_server 198.51.100.1 80 {
        weight 2
        %RS1%
        TCP_CHECK {
            connect_timeout 1
        }
    }
    real_server 198.51.100.2 80 {
        weight 3
        TCP_CHECK {
            connect_timeout 1
        }
    }
}
`

const svcKey = "[192.0.2.254]:tcp:80"

// lvsText is pairConf at priority prio with lvsServer.
func lvsText(prio, vs, rs1 string) string {
	return strings.NewReplacer("%PRIO%", prio, "%VS%", vs, "%RS1%", rs1).Replace(pairConf + lvsServer)
}

// lvsNode is a daemon on the twins with its IPVS twin and probes.
type lvsNode struct {
	*node
	ipvs   *twinIPVS
	probes *probes
	logs   *syncBuffer
	dials  int
}

// startLVSNode starts a daemon for text; dial, when not nil, replaces
// the twin as Host.IPVS.
func startLVSNode(t *testing.T, wire *vrrptest.Wire, addr4 string, text string, opts Options, dial func() (IPVS, error)) *lvsNode {
	t.Helper()
	n := newLVSNode(t, wire, addr4, text, opts, dial)
	n.start(t)
	return n
}

// newLVSNode is startLVSNode without the start.
func newLVSNode(t *testing.T, wire *vrrptest.Wire, addr4 string, text string, opts Options, dial func() (IPVS, error)) *lvsNode {
	t.Helper()
	n := &lvsNode{ipvs: newTwinIPVS(), probes: newProbes(), logs: &syncBuffer{}}
	opts.Log = slog.New(slog.NewTextHandler(n.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts.Host.IPVS = func() (IPVS, error) {
		n.dials++
		if dial != nil {
			return dial()
		}
		return n.ipvs, nil
	}
	opts.Host.Probe = n.probes.probe
	n.node = newNode(t, wire, viptest.NewKernel("eth0", "eth1"), addr4, "fe80::"+addr4[len(addr4)-1:], text, opts)
	return n
}

// expect fails t unless the virtual server's destinations are want.
func (n *lvsNode) expect(t *testing.T, what, want string) {
	t.Helper()
	if got := n.ipvs.dests(svcKey); got != want {
		t.Fatalf("%s: %s, want %s", what, got, want)
	}
}

// lvsStatus returns the node's LVS status, failing without one.
func (n *lvsNode) lvsStatus(t *testing.T) *ctl.LVSStatus {
	t.Helper()
	s := n.d.Status().LVS
	if s == nil {
		t.Fatal("no LVS status")
	}
	return s
}

func settle(d time.Duration) {
	time.Sleep(d)
	synctest.Wait()
}

// TestLVSRealServerDiesAndReturns: the service is programmed at start with
// both real servers; one whose checks fail leaves the table and comes
// back when they succeed again; the status shows it; stop removes the
// service and restores the timeouts.
func TestLVSRealServerDiesAndReturns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		n := startLVSNode(t, wire, "192.0.2.1", lvsText("150", "", ""), Options{}, nil)
		settle(time.Second)
		n.expect(t, "at start", "198.51.100.1:80/w2 198.51.100.2:80/w3")
		n.probes.set("198.51.100.1:80", false)
		settle(30 * time.Second)
		n.expect(t, "after the failure", "198.51.100.2:80/w3")
		st := n.lvsStatus(t)
		if len(st.VirtualServers) != 1 || st.VirtualServers[0].Name != svcKey || !st.VirtualServers[0].QuorumUp {
			t.Fatalf("status %+v", st.VirtualServers)
		}
		rs := st.VirtualServers[0].Real[0]
		if rs.Up || rs.InTable || len(rs.Checkers) != 1 || rs.Checkers[0].Failures == 0 || rs.Checkers[0].Kind != healthcheck.KindTCP {
			t.Fatalf("real server status %+v", rs)
		}
		if !strings.Contains(n.logs.String(), "Removing service [198.51.100.1]:tcp:80 from VS "+svcKey) {
			t.Errorf("no keepalived removal line in the log:\n%s", n.logs)
		}
		n.probes.set("198.51.100.1:80", true)
		settle(30 * time.Second)
		n.expect(t, "after the recovery", "198.51.100.1:80/w2 198.51.100.2:80/w3")
		n.stop()
		if got := n.ipvs.dests(svcKey); got != "none" {
			t.Fatalf("after stop the service has %s", got)
		}
		if !n.ipvs.closed {
			t.Error("IPVS handle not closed at stop")
		}
	})
}

// TestLVSInhibitOnFailure: inhibit_on_failure keeps a failed real server
// at weight 0.
func TestLVSInhibitOnFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		n := startLVSNode(t, wire, "192.0.2.1", lvsText("150", "", "inhibit_on_failure"), Options{}, nil)
		n.probes.set("198.51.100.1:80", false)
		settle(30 * time.Second)
		n.expect(t, "inhibited", "198.51.100.1:80/w0 198.51.100.2:80/w3")
	})
}

// TestLVSQuorumSorryServer: below quorum the sorry server replaces the
// real servers, and they return when quorum does.
func TestLVSQuorumSorryServer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		n := startLVSNode(t, wire, "192.0.2.1", lvsText("150", "quorum 5\n    sorry_server 203.0.113.9 8080", ""), Options{}, nil)
		settle(time.Second)
		n.expect(t, "at start", "198.51.100.1:80/w2 198.51.100.2:80/w3")
		n.probes.set("198.51.100.2:80", false)
		settle(30 * time.Second)
		n.expect(t, "quorum lost", "203.0.113.9:8080/w1")
		if vs := n.lvsStatus(t).VirtualServers[0]; vs.QuorumUp || !vs.SorryActive {
			t.Fatalf("status %+v", vs)
		}
		n.probes.set("198.51.100.2:80", true)
		settle(30 * time.Second)
		n.expect(t, "quorum back", "198.51.100.1:80/w2 198.51.100.2:80/w3")
	})
}

// TestLVSHASuspendFollowsVRRP: with ha_suspend, the backup (which does
// not hold the address) ignores the failed checks; once it becomes master
// it acts on them.
func TestLVSHASuspendFollowsVRRP(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		a := startLVSNode(t, wire, "192.0.2.1", lvsText("200", "ha_suspend", ""), Options{}, nil)
		b := startLVSNode(t, wire, "192.0.2.2", lvsText("100", "ha_suspend", ""), Options{}, nil)
		a.probes.set("198.51.100.1:80", false)
		b.probes.set("198.51.100.1:80", false)
		settle(30 * time.Second)
		if a.state("VI_1") != "MASTER" || b.state("VI_1") != "BACKUP" {
			t.Fatalf("a %s, b %s", a.state("VI_1"), b.state("VI_1"))
		}
		a.expect(t, "master", "198.51.100.2:80/w3")
		b.expect(t, "suspended backup", "198.51.100.1:80/w2 198.51.100.2:80/w3")
		if vs := b.lvsStatus(t).VirtualServers[0]; !vs.Suspended {
			t.Fatalf("backup status %+v", vs)
		}
		a.stop()
		settle(10 * time.Second)
		if b.state("VI_1") != "MASTER" {
			t.Fatalf("b %s", b.state("VI_1"))
		}
		b.expect(t, "new master", "198.51.100.2:80/w3")
	})
}

// TestLVSReloadWeight: a reload that changes one weight edits that
// destination and nothing else; one that removes the virtual server
// removes its service; a reload that fails to load changes nothing.
func TestLVSReloadWeight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		var mu sync.Mutex
		next := lvsText("150", "", "")
		reload := func() (*config.Config, []*config.Error, error) {
			mu.Lock()
			defer mu.Unlock()
			if next == "" {
				return nil, nil, fmt.Errorf("k.conf: cannot read")
			}
			return loadConf(t, next), nil, nil
		}
		n := startLVSNode(t, wire, "192.0.2.1", next, Options{Reload: reload}, nil)
		n.probes.set("198.51.100.2:80", false)
		settle(30 * time.Second)
		n.expect(t, "before the reload", "198.51.100.1:80/w2")
		n.ipvs.takeOps()
		mu.Lock()
		next = lvsText("150", "", "weight 7")
		mu.Unlock()
		if err := n.d.Reload(context.Background()); err != nil {
			t.Fatal(err)
		}
		settle(30 * time.Second)
		if got, want := n.ipvs.takeOps(), []string{"edit-dest 198.51.100.1:80 w7"}; !slices.Equal(got, want) {
			t.Fatalf("reload changing one weight: %q, want %q", got, want)
		}
		if got, want := n.ipvs.dests(svcKey), "198.51.100.1:80/w7"; got != want {
			t.Fatalf("after the reload: %s, want %s (the dead server stays out)", got, want)
		}
		// The reload's timing line (bench/ipvs reads it): one service's
		// destinations read before its one change.
		var timing string
		for _, line := range strings.Split(n.logs.String(), "\n") {
			if strings.Contains(line, `msg="IPVS reload timing"`) {
				timing = line
			}
		}
		if !strings.Contains(timing, " services_read=1 changes=1") || !strings.Contains(timing, " apply_ms=") {
			t.Errorf("IPVS reload timing line %q, want services_read=1 changes=1 and the phases", timing)
		}
		mu.Lock()
		next = ""
		mu.Unlock()
		if err := n.d.Reload(context.Background()); err == nil {
			t.Fatal("a reload that cannot load was applied")
		}
		settle(5 * time.Second)
		if got := n.ipvs.takeOps(); len(got) != 0 {
			t.Fatalf("a refused reload changed IPVS: %q", got)
		}
		mu.Lock()
		next = prio(pairConf, "150")
		mu.Unlock()
		if err := n.d.Reload(context.Background()); err != nil {
			t.Fatal(err)
		}
		settle(time.Second)
		if got, want := n.ipvs.takeOps(), []string{"del-service " + svcKey}; !slices.Equal(got, want) {
			t.Fatalf("reload without the virtual server: %q, want %q", got, want)
		}
	})
}

// TestLVSForeignServiceLeftAlone: a service vigild was not asked for is
// reported, never changed, and survives stop; lvs_timeouts are set and
// restored.
func TestLVSForeignServiceLeftAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		tw := newTwinIPVS()
		foreign := &ipvs.Service{Key: ipvs.ServiceKey{Family: ipvs.IPv4, Protocol: ipvs.UDP, Addr: netip.MustParseAddr("203.0.113.5"), Port: 53},
			Scheduler: "rr", Netmask: ipvs.DefaultNetmask(ipvs.IPv4)}
		if err := tw.Twin.AddService(foreign); err != nil {
			t.Fatal(err)
		}
		text := "global_defs {\n lvs_timeouts tcp 7200 udp 60\n}\n" + lvsText("150", "", "")
		n := startLVSNode(t, wire, "192.0.2.1", text, Options{}, func() (IPVS, error) { return tw, nil })
		settle(5 * time.Second)
		if got := n.lvsStatus(t).Foreign; !slices.Equal(got, []string{foreign.Key.String()}) {
			t.Fatalf("foreign %q", got)
		}
		if to, _ := tw.Timeouts(); to != (ipvs.Timeouts{TCP: 7200, TCPFin: 120, UDP: 60}) {
			t.Fatalf("timeouts %+v", to)
		}
		n.stop()
		if got := tw.dests(foreign.Key.String()); got == "none" {
			t.Fatal("the foreign service was removed at stop")
		}
		if got := tw.dests(svcKey); got != "none" {
			t.Fatalf("our service stayed: %s", got)
		}
		if to, _ := tw.Timeouts(); to != (ipvs.Timeouts{TCP: 900, TCPFin: 120, UDP: 300}) {
			t.Fatalf("timeouts not restored: %+v", to)
		}
		if !strings.Contains(n.logs.String(), "is not in the configuration: left alone") {
			t.Errorf("foreign service not logged:\n%s", n.logs)
		}
	})
}

// TestLVSDontReleaseAndFlushOnStop: -I leaves the table as it is;
// bare lvs_flush_on_stop flushes it whole.
func TestLVSDontReleaseAndFlushOnStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		n := startLVSNode(t, wire, "192.0.2.1", lvsText("150", "", ""), Options{KeepIPVS: true}, nil)
		settle(5 * time.Second)
		n.stop()
		n.expect(t, "-I", "198.51.100.1:80/w2 198.51.100.2:80/w3")
		m := startLVSNode(t, wire, "192.0.2.2", "global_defs {\n lvs_flush_on_stop\n}\n"+lvsText("150", "", ""), Options{}, nil)
		settle(5 * time.Second)
		m.ipvs.takeOps()
		m.stop()
		if got := m.ipvs.takeOps(); !slices.Equal(got, []string{"flush"}) {
			t.Fatalf("lvs_flush_on_stop: %q", got)
		}
	})
}

// TestLVSNoIPVSKernel: without IPVS one error is logged, the status says
// why, and VRRP runs on.
func TestLVSNoIPVSKernel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		n := startLVSNode(t, wire, "192.0.2.1", lvsText("150", "", ""), Options{},
			func() (IPVS, error) { return nil, fmt.Errorf("%w: genetlink: family not found", ipvs.ErrNoIPVS) })
		settle(10 * time.Second)
		if n.state("VI_1") != "MASTER" || !n.has("192.0.2.254/24") {
			t.Fatalf("VRRP: %s", n.state("VI_1"))
		}
		if st := n.lvsStatus(t); !strings.Contains(st.Error, "no IPVS") {
			t.Fatalf("status error %q", st.Error)
		}
		if c := strings.Count(n.logs.String(), "Can't initialize ipvs"); c != 1 {
			t.Fatalf("%d error lines:\n%s", c, n.logs)
		}
	})
}

// TestLVSIPVSAtReload: IPVS missing at start is tried again at a reload
// (the module loaded since), and then programmed.
func TestLVSIPVSAtReload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		text := lvsText("150", "", "")
		reload := func() (*config.Config, []*config.Error, error) { return loadConf(t, text), nil, nil }
		tw, tries := newTwinIPVS(), 0
		n := startLVSNode(t, wire, "192.0.2.1", text, Options{Reload: reload}, func() (IPVS, error) {
			if tries++; tries == 1 {
				return nil, fmt.Errorf("%w: genetlink: family not found", ipvs.ErrNoIPVS)
			}
			return tw, nil
		})
		n.ipvs = tw
		settle(5 * time.Second)
		n.expect(t, "without IPVS", "none")
		if err := n.d.Reload(context.Background()); err != nil {
			t.Fatal(err)
		}
		settle(5 * time.Second)
		n.expect(t, "after the reload", "198.51.100.1:80/w2 198.51.100.2:80/w3")
		if st := n.lvsStatus(t); st.Error != "" {
			t.Fatalf("status error %q", st.Error)
		}
	})
}

// TestLVSModes: -P never opens IPVS; -C programs IPVS and runs no VRRP
// instance.
func TestLVSModes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		p := startLVSNode(t, wire, "192.0.2.1", lvsText("150", "", ""), Options{Mode: ModeVRRP}, nil)
		settle(10 * time.Second)
		if p.dials != 0 || p.d.Status().LVS != nil || p.state("VI_1") != "MASTER" {
			t.Fatalf("-P: %d dials, LVS %+v, VI_1 %s", p.dials, p.d.Status().LVS, p.state("VI_1"))
		}
		c := startLVSNode(t, wire, "192.0.2.2", lvsText("250", "", ""), Options{Mode: ModeCheck}, nil)
		settle(10 * time.Second)
		c.expect(t, "-C", "198.51.100.1:80/w2 198.51.100.2:80/w3")
		if len(c.d.Status().Instances) != 0 || p.state("VI_1") != "MASTER" {
			t.Fatalf("-C ran VRRP: %+v; the -P node is %s", c.d.Status().Instances, p.state("VI_1"))
		}
	})
}

// TestLVSSyncDaemonFollowsInstance: lvs_sync_daemon bound to an instance
// runs as backup from the start, as master while the instance is MASTER,
// and stops with vigild.
func TestLVSSyncDaemonFollowsInstance(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		text := "global_defs {\n lvs_sync_daemon eth0 VI_1\n}\n" + lvsText("150", "", "")
		n := startLVSNode(t, wire, "192.0.2.1", text, Options{}, nil)
		settle(time.Second)
		if got, want := n.ipvs.syncStates(), []string{"backup eth0 id 51"}; !slices.Equal(got, want) {
			t.Fatalf("at start: %q, want %q", got, want)
		}
		settle(10 * time.Second)
		if got, want := n.ipvs.syncStates(), []string{"master eth0 id 51"}; n.state("VI_1") != "MASTER" || !slices.Equal(got, want) {
			t.Fatalf("as master: %q, want %q", got, want)
		}
		if st := n.lvsStatus(t); st.SyncDaemon != "master" {
			t.Fatalf("status sync daemon %q", st.SyncDaemon)
		}
		n.stop()
		if got := n.ipvs.syncStates(); len(got) != 0 {
			t.Fatalf("after stop: %q", got)
		}
	})
}

// TestLVSNotifyScripts: a real server's notify_down runs when it fails,
// and the status counts the run.
func TestLVSNotifyScripts(t *testing.T) {
	touch, err := exec.LookPath("touch")
	if err != nil {
		t.Fatal(err)
	}
	mark := filepath.Join(t.TempDir(), "down")
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		n := startLVSNode(t, wire, "192.0.2.1", lvsText("150", "", `notify_down "`+touch+` `+mark+`"`), Options{}, nil)
		n.probes.set("198.51.100.1:80", false)
		settle(30 * time.Second)
		if _, err := os.Stat(mark); err != nil {
			t.Fatalf("notify_down did not run: %v\n%s", err, n.logs)
		}
		if st := n.lvsStatus(t).Scripts; st.Runs != 1 || st.Succeeded != 1 {
			t.Fatalf("script counters %+v", st)
		}
	})
}

// TestLVSHASuspendLocalAddress: under -C no instance holds the address:
// an ha_suspend virtual server acts on its checks when the address is on
// a local interface, and stays suspended when it is not.
func TestLVSHASuspendLocalAddress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		for _, tc := range []struct {
			addr  string
			dests string
		}{
			{"192.0.2.254", "198.51.100.2:80/w3"},
			{"192.0.2.253", "198.51.100.1:80/w2 198.51.100.2:80/w3"},
		} {
			local := func() ([]netip.Addr, error) { return []netip.Addr{netip.MustParseAddr(tc.addr)}, nil }
			n := startLVSNode(t, wire, "192.0.2.1", lvsText("150", "ha_suspend", ""), Options{Mode: ModeCheck, Host: Host{LocalAddrs: local}}, nil)
			n.probes.set("198.51.100.1:80", false)
			settle(30 * time.Second)
			if got := n.ipvs.dests(svcKey); got != tc.dests {
				t.Errorf("local address %s: %s, want %s", tc.addr, got, tc.dests)
			}
			n.stop()
		}
	})
}

// TestLVSHASuspendAddressEvents: under -C an ha_suspend virtual server
// follows the netlink address events, not only the addresses at start:
// suspended while its address is on no local interface, acting on its
// checks (the suspended reports included) once the address appears,
// frozen again once it is removed.
func TestLVSHASuspendAddressEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		none := func() ([]netip.Addr, error) { return nil, nil }
		n := startLVSNode(t, wire, "192.0.2.1", lvsText("150", "ha_suspend", ""), Options{Mode: ModeCheck, Host: Host{LocalAddrs: none}}, nil)
		both, one := "198.51.100.1:80/w2 198.51.100.2:80/w3", "198.51.100.2:80/w3"
		for _, step := range []struct {
			what  string
			event check.IfaceEventKind // 0: none
			rs1Up bool                 // rs1's checks then pass
			want  string
		}{
			{"address not local: suspended", 0, false, both},
			{"address added: the failure counts", check.AddrAdded, false, one},
			{"address removed: frozen again", check.AddrRemoved, true, one},
			{"address back: the recovery counts", check.AddrAdded, true, both},
		} {
			if step.event != 0 {
				n.ifev <- check.IfaceEvent{Kind: step.event, Index: 1, Name: "eth0", Up: true, Addr: netip.MustParsePrefix("192.0.2.254/24")}
			}
			n.probes.set("198.51.100.1:80", step.rs1Up)
			settle(30 * time.Second)
			n.expect(t, step.what, step.want)
		}
	})
}

// TestLVSFlushAtStart: lvs_flush empties the whole table once, before
// the first services are added, and not again at a reload.
func TestLVSFlushAtStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		tw := newTwinIPVS()
		stray := &ipvs.Service{Key: ipvs.ServiceKey{Family: ipvs.IPv4, Protocol: ipvs.TCP, Addr: netip.MustParseAddr("203.0.113.5"), Port: 25},
			Scheduler: "rr", Netmask: ipvs.DefaultNetmask(ipvs.IPv4)}
		if err := tw.Twin.AddService(stray); err != nil {
			t.Fatal(err)
		}
		text := "global_defs {\n lvs_flush\n}\n" + lvsText("150", "", "")
		reload := func() (*config.Config, []*config.Error, error) { return loadConf(t, text), nil, nil }
		n := startLVSNode(t, wire, "192.0.2.1", text, Options{Reload: reload}, func() (IPVS, error) { return tw, nil })
		settle(time.Second)
		if ops := tw.takeOps(); len(ops) == 0 || ops[0] != "flush" {
			t.Fatalf("ops at start %q, want a flush first", ops)
		}
		if got := tw.dests(stray.Key.String()); got != "none" {
			t.Fatal("lvs_flush left the stray service")
		}
		if err := n.d.Reload(context.Background()); err != nil {
			t.Fatal(err)
		}
		settle(5 * time.Second)
		if ops := tw.takeOps(); slices.Contains(ops, "flush") {
			t.Fatalf("a reload flushed again: %q", ops)
		}
	})
}

// TestLVSSyncDaemonWithoutInstance: lvs_sync_daemon without an instance
// runs both daemons from the start, and neither after stop.
func TestLVSSyncDaemonWithoutInstance(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		n := startLVSNode(t, wire, "192.0.2.1", "global_defs {\n lvs_sync_daemon eth1 id 9\n}\n"+lvsText("150", "", ""), Options{}, nil)
		settle(10 * time.Second)
		if got, want := n.ipvs.syncStates(), []string{"backup eth1 id 9", "master eth1 id 9"}; !slices.Equal(got, want) {
			t.Fatalf("running: %q, want %q", got, want)
		}
		n.stop()
		if got := n.ipvs.syncStates(); len(got) != 0 {
			t.Fatalf("after stop: %q", got)
		}
	})
}

// TestLVSOmegaAtStop: with omega, stopping runs notify_down for the alive
// real servers and quorum_down; the scripts have run when Run returns.
func TestLVSOmegaAtStop(t *testing.T) {
	touch, err := exec.LookPath("touch")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		vs := `omega
    quorum_down "` + touch + ` ` + filepath.Join(dir, "quorum_down") + `"`
		n := startLVSNode(t, wire, "192.0.2.1", lvsText("150", vs, `notify_down "`+touch+` `+filepath.Join(dir, "rs1_down")+`"`), Options{}, nil)
		settle(10 * time.Second)
		if _, err := os.Stat(filepath.Join(dir, "rs1_down")); err == nil {
			t.Fatal("notify_down ran before stop")
		}
		n.stop()
		for _, f := range []string{"rs1_down", "quorum_down"} {
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				t.Errorf("%s did not run at stop: %v", f, err)
			}
		}
		if !strings.Contains(n.logs.String(), "Shutting down service [198.51.100.1]:tcp:80 from VS "+svcKey) {
			t.Errorf("no shutdown line:\n%s", n.logs)
		}
	})
}

// TestLVSFileCheck: a FILE_CHECK with weight 0 follows its track file's
// value (0 up, anything else down) through the daemon's file watcher.
// The watcher is inotify, so this test runs on real time, not in a bubble.
func TestLVSFileCheck(t *testing.T) {
	file := filepath.Join(t.TempDir(), "rs1")
	if err := os.WriteFile(file, []byte("0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	text := "track_file tf {\n    file " + file + "\n}\n" + strings.Replace(lvsText("150", "", ""),
		"        TCP_CHECK {\n            connect_timeout 1\n        }\n    }\n    real_server 198.51.100.2",
		"        FILE_CHECK {\n            track_file tf\n            weight 0\n        }\n    }\n    real_server 198.51.100.2", 1)
	if !strings.Contains(text, "FILE_CHECK") {
		t.Fatal("the configuration has no FILE_CHECK")
	}
	n := startLVSNode(t, vrrptest.NewWire(vrrptest.WireOptions{}), "192.0.2.1", text, Options{}, nil)
	wait := func(what, want string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for n.ipvs.dests(svcKey) != want && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		n.expect(t, what, want)
	}
	wait("value 0", "198.51.100.1:80/w2 198.51.100.2:80/w3")
	if err := os.WriteFile(file, []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	wait("value 1", "198.51.100.2:80/w3")
	if err := os.WriteFile(file, []byte("0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	wait("value 0 again", "198.51.100.1:80/w2 198.51.100.2:80/w3")
}

// rs1Flap starts a node for text (in the caller's bubble) and lets rs1's
// checks fail, then pass again.
func rs1Flap(t *testing.T, text string) *lvsNode {
	t.Helper()
	wire := vrrptest.NewWire(vrrptest.WireOptions{})
	n := startLVSNode(t, wire, "192.0.2.1", text, Options{}, nil)
	settle(5 * time.Second)
	n.probes.set("198.51.100.1:80", false)
	settle(30 * time.Second)
	n.probes.set("198.51.100.1:80", true)
	settle(30 * time.Second)
	return n
}

// TestLVSCheckerLogLines: the lines operators grep keepalived's log for,
// word for word: each checker activated, a TCP_CHECK's first success, its
// failure after its retries, and the real server leaving and rejoining
// the virtual server.
func TestLVSCheckerLogLines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		text := strings.Replace(lvsText("150", "", ""), "connect_timeout 1\n", "connect_timeout 1\n            retry 2\n", 1)
		n := rs1Flap(t, text)
		logs := n.logs.String()
		rs1 := "[198.51.100.1]:tcp:80"
		for _, want := range []string{
			"Activating healthchecker for service " + rs1 + " for VS " + svcKey,
			"Activating healthchecker for service [198.51.100.2]:tcp:80 for VS " + svcKey,
			"TCP connection to [198.51.100.2]:tcp:80 success.",
			"TCP_CHECK on service " + rs1 + " failed after 2 retries.",
			"Removing service " + rs1 + " from VS " + svcKey,
			"Adding service " + rs1 + " to VS " + svcKey,
		} {
			if !strings.Contains(logs, want) {
				t.Errorf("no line %q in the log:\n%s", want, logs)
			}
		}
		// The first success and the recovery: one success line each.
		if c := strings.Count(logs, "TCP connection to "+rs1+" success."); c != 2 {
			t.Errorf("%d success lines for %s, want 2:\n%s", c, rs1, logs)
		}
	})
}

// TestLVSNotifyFIFOLines: the checkers' lines, as keepalived writes them,
// on real FIFOs: the virtual server UP when it gains its quorum at start, a
// real server DOWN and UP as it leaves and rejoins. notify_fifo gets them
// and the VRRP lines, lvs_notify_fifo only them, vrrp_notify_fifo none of
// them.
func TestLVSNotifyFIFOLines(t *testing.T) {
	dir := t.TempDir()
	all, vrrpOnly, lvsOnly := filepath.Join(dir, "all"), filepath.Join(dir, "vrrp"), filepath.Join(dir, "lvs")
	text := "global_defs {\n    notify_fifo " + all + "\n    vrrp_notify_fifo " + vrrpOnly +
		"\n    lvs_notify_fifo " + lvsOnly + "\n}\n" + lvsText("150", "", "")
	synctest.Test(t, func(t *testing.T) {
		n := rs1Flap(t, text)
		if n.state("VI_1") != "MASTER" {
			t.Fatalf("set-up: %s", n.state("VI_1"))
		}
		lvsLines := "VS " + svcKey + " UP\n" +
			"RS [198.51.100.1]:tcp:80 " + svcKey + " DOWN\n" +
			"RS [198.51.100.1]:tcp:80 " + svcKey + " UP\n"
		vrrpLines := `INSTANCE "VI_1" BACKUP 150` + "\n" + `INSTANCE "VI_1" MASTER 150` + "\n"
		if got := readFIFO(t, lvsOnly); got != lvsLines {
			t.Errorf("lvs_notify_fifo: %q, want %q", got, lvsLines)
		}
		if got := readFIFO(t, vrrpOnly); got != vrrpLines {
			t.Errorf("vrrp_notify_fifo: %q, want %q", got, vrrpLines)
		}
		got := readFIFO(t, all)
		for _, l := range strings.SplitAfter(lvsLines+vrrpLines, "\n") {
			if !strings.Contains(got, l) {
				t.Errorf("notify_fifo: %q has no %q", got, l)
			}
		}
		if len(got) != len(lvsLines)+len(vrrpLines) {
			t.Errorf("notify_fifo: %q, want the lines of both", got)
		}
	})
}
