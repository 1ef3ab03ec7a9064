package daemon

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/vip"
	"github.com/vigil-ha/vigil/vip/viptest"
	"github.com/vigil-ha/vigil/vrrp"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// These tests run the daemon's loop on in-memory twins (vrrptest wire,
// viptest kernel) inside a synctest bubble: time is fake, so the RFC 5798
// timers are checked on both sides of their deadlines through the whole
// loop, in microseconds. The namespace tests in cmd/vigild prove the same
// behaviour on real sockets and netlink.

// node is one daemon on the test wire.
type node struct {
	d      *Daemon
	kernel *viptest.Kernel
	conns  []*vrrptest.Conn
	ifev   chan check.IfaceEvent
	listen []string // the interfaces Listen was asked for, in order
	cancel context.CancelFunc
	done   chan error
	fw     fwRecorder
	warms  atomic.Int32 // Host.WarmTakeover's calls
}

// loadConf parses text with the config package (no interface checks).
func loadConf(t testing.TB, text string) *config.Config {
	t.Helper()
	cfg, complaints := config.Parse("keepalived.conf", []byte(text), config.Options{ConfigID: "test"})
	if config.ExitCode(cfg, complaints, nil) >= 4 {
		t.Fatalf("config: %v", complaints)
	}
	return cfg
}

// startNode runs a daemon for conf whose adverts come from addr4 / addr6.
func startNode(t testing.TB, wire *vrrptest.Wire, addr4, addr6 string, text string) *node {
	t.Helper()
	return startNodeWith(t, wire, addr4, addr6, text, Options{})
}

// startNodeOn is startNode on a given kernel (which may already hold
// addresses) with a given logger (nil: none).
func startNodeOn(t testing.TB, wire *vrrptest.Wire, kernel *viptest.Kernel, log *slog.Logger, addr4, addr6 string, text string) *node {
	t.Helper()
	return startNodeKernel(t, wire, kernel, addr4, addr6, text, Options{Log: log})
}

// startNodeWith is startNode with opts (Log, Reload); opts.Host is the
// twins', but for an Interface lookup the test gives.
func startNodeWith(t testing.TB, wire *vrrptest.Wire, addr4, addr6 string, text string, opts Options) *node {
	t.Helper()
	return startNodeKernel(t, wire, viptest.NewKernel("eth0", "eth1"), addr4, addr6, text, opts)
}

// startNodeKernel starts a node on kernel with opts; opts.Host is the
// twins'.
func startNodeKernel(t testing.TB, wire *vrrptest.Wire, kernel *viptest.Kernel, addr4, addr6 string, text string, opts Options) *node {
	t.Helper()
	n := newNode(t, wire, kernel, addr4, addr6, text, opts)
	n.start(t)
	return n
}

// newNode builds a daemon for conf on the twins (kernel, the wire) without
// running it, for a test that has more to set before start; its MAC ends
// with addr4's last byte.
func newNode(t testing.TB, wire *vrrptest.Wire, kernel *viptest.Kernel, addr4, addr6 string, text string, opts Options) *node {
	t.Helper()
	n := &node{kernel: kernel, ifev: make(chan check.IfaceEvent, 16), done: make(chan error, 1)}
	mac := net.HardwareAddr{2, 0, 0, 0, 0, netip.MustParseAddr(addr4).As4()[3]}
	host := Host{
		Listen: func(ifname string, ipv6 bool, opts vrrp.ConnOptions) (vrrp.Conn, error) {
			a := addr4
			if ipv6 {
				a = addr6
			}
			c := wire.Conn(netip.MustParseAddr(a))
			if opts.AH {
				c = wire.ConnAH(netip.MustParseAddr(a))
			}
			c.SetUnicastTTL(opts.UnicastTTL)
			n.conns = append(n.conns, c)
			n.listen = append(n.listen, ifname)
			return c, nil
		},
		Interface: func(name string) (*net.Interface, error) {
			return &net.Interface{Index: 1, Name: name, HardwareAddr: mac, Flags: net.FlagUp | net.FlagRunning}, nil
		},
		VIPs:            n.kernel,
		Announcer:       viptest.NewAnnouncements(n.kernel),
		InterfaceEvents: n.ifev,
		Firewall:        &n.fw,
		GoTimer:         true,
		// The IPVS side, when the test gives one (lvs_test.go).
		IPVS: opts.Host.IPVS, Probe: opts.Host.Probe, LocalAddrs: opts.Host.LocalAddrs,
		// A test of VMACs brings its own sysctls and source addresses.
		Sysctls:     opts.Host.Sysctls,
		PrimaryAddr: opts.Host.PrimaryAddr,
		// The mail alerts, when the test takes them (mail_test.go).
		Mail: opts.Host.Mail, LocalName: opts.Host.LocalName,
		// The arbitration's twins (arbiter_test.go).
		Conntrack: opts.Host.Conntrack, Heartbeat: opts.Host.Heartbeat, Witness: opts.Host.Witness,
		// vrrp_priority: never the test process's own nice value.
		Nice: opts.Host.Nice,
		// The code a takeover runs is not mapped in: the calls are counted.
		WarmTakeover: func() { n.warms.Add(1) },
	}
	if host.Nice == nil {
		host.Nice = func(*int) error { return nil }
	}
	if opts.Host.Interface != nil {
		host.Interface = opts.Host.Interface
	}
	opts.Host = host
	d, err := New(loadConf(t, text), opts)
	if err != nil {
		t.Fatal(err)
	}
	n.d = d
	return n
}

// start runs the node's daemon until the test ends.
func (n *node) start(t testing.TB) {
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	go func() { n.done <- n.d.Run(ctx) }()
	t.Cleanup(n.stop)
}

func (n *node) stop() {
	if n.cancel != nil {
		n.cancel()
		<-n.done
		n.cancel = nil
	}
}

func (n *node) state(name string) string {
	for _, in := range n.d.Status().Instances {
		if in.Name == name {
			return in.State
		}
	}
	return "missing"
}

func (n *node) has(prefix string) bool {
	p := netip.MustParsePrefix(prefix)
	return slices.ContainsFunc(n.kernel.Addresses(), func(a vip.Address) bool { return a.Prefix == p })
}

const pairConf = `
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
`

func prio(text, p string) string { return strings.ReplaceAll(text, "%PRIO%", p) }

// sleepUntil advances the bubble's clock to start+d and lets every
// goroutine settle.
func sleepUntil(start time.Time, d time.Duration) {
	time.Sleep(time.Until(start.Add(d)))
	synctest.Wait()
}

// TestLoopElectionTimers: both start as BACKUP; the higher priority (150)
// becomes master exactly at Master_Down_Interval = 3 s + (256-150)/256 s,
// not a nanosecond earlier, and only it holds the VIP.
func TestLoopElectionTimers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		start := time.Now()
		a := startNode(t, wire, "192.0.2.1", "fe80::1", prio(pairConf, "150"))
		b := startNode(t, wire, "192.0.2.2", "fe80::2", prio(pairConf, "100"))
		down := 3*time.Second + time.Duration(256-150)*time.Second/256
		sleepUntil(start, down-time.Millisecond)
		if a.state("VI_1") != "BACKUP" || a.has("192.0.2.254/24") {
			t.Fatalf("before Master_Down_Interval: %s, VIP %v", a.state("VI_1"), a.has("192.0.2.254/24"))
		}
		sleepUntil(start, down+time.Millisecond)
		if a.state("VI_1") != "MASTER" || !a.has("192.0.2.254/24") {
			t.Fatalf("after Master_Down_Interval: %s, VIP %v", a.state("VI_1"), a.has("192.0.2.254/24"))
		}
		sleepUntil(start, 10*time.Second)
		if b.state("VI_1") != "BACKUP" || b.has("192.0.2.254/24") {
			t.Fatalf("lower priority: %s, VIP %v", b.state("VI_1"), b.has("192.0.2.254/24"))
		}
	})
}

// TestLoopShutdownHandover: the master's shutdown sends priority 0; the
// backup takes over after Skew_Time = (256-100)/256 s, not
// Master_Down_Interval.
func TestLoopShutdownHandover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		a := startNode(t, wire, "192.0.2.1", "fe80::1", prio(pairConf, "150"))
		b := startNode(t, wire, "192.0.2.2", "fe80::2", prio(pairConf, "100"))
		time.Sleep(10 * time.Second)
		synctest.Wait()
		stopAt := time.Now()
		a.stop()
		if a.has("192.0.2.254/24") {
			t.Fatal("stopped master kept its VIP")
		}
		skew := time.Duration(256-100) * time.Second / 256
		sleepUntil(stopAt, skew-time.Millisecond)
		if b.state("VI_1") != "BACKUP" {
			t.Fatalf("backup took over before Skew_Time: %s", b.state("VI_1"))
		}
		sleepUntil(stopAt, skew+time.Millisecond)
		if b.state("VI_1") != "MASTER" || !b.has("192.0.2.254/24") {
			t.Fatalf("backup did not take over at Skew_Time: %s", b.state("VI_1"))
		}
	})
}

const groupConf = `
vrrp_sync_group G1 {
    group {
        IN
        OUT
    }
}
vrrp_instance IN {
    interface eth0
    virtual_router_id 1
    priority %PRIO%
    advert_int 1
    version 3
    virtual_ipaddress {
        192.0.2.254/24
    }
}
vrrp_instance OUT {
    interface eth1
    virtual_router_id 2
    priority %PRIO%
    advert_int 1
    version 3
    virtual_ipaddress {
        198.51.100.254/24 dev eth1
    }
}
`

// TestLoopSyncGroupFault: the master's outside interface goes down: both
// of its instances go FAULT at once and release their VIPs, and the peer
// takes both over together; when the link returns, the group comes back
// together.
func TestLoopSyncGroupFault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		a := startNode(t, wire, "192.0.2.1", "fe80::1", prio(groupConf, "150"))
		b := startNode(t, wire, "192.0.2.2", "fe80::2", prio(groupConf, "100"))
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if a.state("IN") != "MASTER" || a.state("OUT") != "MASTER" {
			t.Fatalf("a: IN %s OUT %s", a.state("IN"), a.state("OUT"))
		}
		a.ifev <- check.IfaceEvent{Kind: check.IfaceDown, Index: 1, Name: "eth1", Up: false}
		synctest.Wait()
		if a.state("IN") != "FAULT" || a.state("OUT") != "FAULT" || a.has("192.0.2.254/24") || a.has("198.51.100.254/24") {
			t.Fatalf("after eth1 down: IN %s OUT %s", a.state("IN"), a.state("OUT"))
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if b.state("IN") != "MASTER" || b.state("OUT") != "MASTER" || !b.has("192.0.2.254/24") || !b.has("198.51.100.254/24") {
			t.Fatalf("peer: IN %s OUT %s", b.state("IN"), b.state("OUT"))
		}
		a.ifev <- check.IfaceEvent{Kind: check.IfaceUp, Index: 1, Name: "eth1", Up: true}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		for _, in := range []string{"IN", "OUT"} {
			if a.state(in) != "MASTER" || b.state(in) != "BACKUP" {
				t.Fatalf("after eth1 up: %s a=%s b=%s", in, a.state(in), b.state(in))
			}
		}
		if g := a.d.Status().Groups; len(g) != 1 || g[0].State != "MASTER" {
			t.Errorf("group status %+v", g)
		}
	})
}
