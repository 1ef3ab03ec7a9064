package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

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

// lvsConf is one VRRP instance holding 192.0.2.254 and a NAT virtual
// server on it with two real servers under TCP_CHECK. %PRIO%, %VS% and
// %RS1% are replaced by the tests.
const lvsConf = `
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority %PRIO%
    advert_int 1
    version 3
    virtual_ipaddress {
        192.0.2.254/24
    }
}
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

func lvsText(prio, vs, rs1 string) string {
	return strings.NewReplacer("%PRIO%", prio, "%VS%", vs, "%RS1%", rs1).Replace(lvsConf)
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
	n.start(t)
	return n
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
		if got, want := n.ipvs.dests(svcKey), "198.51.100.1:80/w2 198.51.100.2:80/w3"; got != want {
			t.Fatalf("at start: %s, want %s", got, want)
		}
		n.probes.set("198.51.100.1:80", false)
		settle(30 * time.Second)
		if got, want := n.ipvs.dests(svcKey), "198.51.100.2:80/w3"; got != want {
			t.Fatalf("after the failure: %s, want %s", got, want)
		}
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
		if got, want := n.ipvs.dests(svcKey), "198.51.100.1:80/w2 198.51.100.2:80/w3"; got != want {
			t.Fatalf("after the recovery: %s, want %s", got, want)
		}
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
		if got, want := n.ipvs.dests(svcKey), "198.51.100.1:80/w0 198.51.100.2:80/w3"; got != want {
			t.Fatalf("inhibited: %s, want %s", got, want)
		}
	})
}

// TestLVSQuorumSorryServer: below quorum the sorry server replaces the
// real servers, and they return when quorum does.
func TestLVSQuorumSorryServer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		n := startLVSNode(t, wire, "192.0.2.1", lvsText("150", "quorum 5\n    sorry_server 203.0.113.9 8080", ""), Options{}, nil)
		settle(time.Second)
		if got, want := n.ipvs.dests(svcKey), "198.51.100.1:80/w2 198.51.100.2:80/w3"; got != want {
			t.Fatalf("at start: %s, want %s", got, want)
		}
		n.probes.set("198.51.100.2:80", false)
		settle(30 * time.Second)
		if got, want := n.ipvs.dests(svcKey), "203.0.113.9:8080/w1"; got != want {
			t.Fatalf("quorum lost: %s, want %s", got, want)
		}
		if vs := n.lvsStatus(t).VirtualServers[0]; vs.QuorumUp || !vs.SorryActive {
			t.Fatalf("status %+v", vs)
		}
		n.probes.set("198.51.100.2:80", true)
		settle(30 * time.Second)
		if got, want := n.ipvs.dests(svcKey), "198.51.100.1:80/w2 198.51.100.2:80/w3"; got != want {
			t.Fatalf("quorum back: %s, want %s", got, want)
		}
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
		if got, want := a.ipvs.dests(svcKey), "198.51.100.2:80/w3"; got != want {
			t.Fatalf("master: %s, want %s", got, want)
		}
		if got, want := b.ipvs.dests(svcKey), "198.51.100.1:80/w2 198.51.100.2:80/w3"; got != want {
			t.Fatalf("suspended backup: %s, want %s", got, want)
		}
		if vs := b.lvsStatus(t).VirtualServers[0]; !vs.Suspended {
			t.Fatalf("backup status %+v", vs)
		}
		a.stop()
		settle(10 * time.Second)
		if b.state("VI_1") != "MASTER" {
			t.Fatalf("b %s", b.state("VI_1"))
		}
		if got, want := b.ipvs.dests(svcKey), "198.51.100.2:80/w3"; got != want {
			t.Fatalf("new master: %s, want %s", got, want)
		}
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
		if got, want := n.ipvs.dests(svcKey), "198.51.100.1:80/w2"; got != want {
			t.Fatalf("before the reload: %s, want %s", got, want)
		}
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
		if got, want := n.ipvs.dests(svcKey), "198.51.100.1:80/w2 198.51.100.2:80/w3"; got != want {
			t.Fatalf("-I: %s, want %s", got, want)
		}
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
		if got, want := c.ipvs.dests(svcKey), "198.51.100.1:80/w2 198.51.100.2:80/w3"; got != want {
			t.Fatalf("-C: %s, want %s", got, want)
		}
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
