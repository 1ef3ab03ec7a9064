package daemon

import (
	"context"
	"errors"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/conntracksync"
	"github.com/vigil-ha/vigil/vip/viptest"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// hbTwin is one end of an in-memory heartbeat link: Send hands the
// payload to the other end's deliver, unless the link is cut.
type hbTwin struct {
	mu      sync.Mutex
	deliver func(int, []byte)
	peer    *hbTwin
	cut     *atomic.Bool
	sent    atomic.Uint64
	recv    atomic.Uint64
}

func hbPair() (*hbTwin, *hbTwin) {
	cut := &atomic.Bool{}
	a, b := &hbTwin{cut: cut}, &hbTwin{cut: cut}
	a.peer, b.peer = b, a
	return a, b
}

func (h *hbTwin) Run(ctx context.Context, deliver func(int, []byte)) error {
	h.mu.Lock()
	h.deliver = deliver
	h.mu.Unlock()
	<-ctx.Done()
	h.mu.Lock()
	h.deliver = nil
	h.mu.Unlock()
	return ctx.Err()
}

func (h *hbTwin) Send(p []byte) {
	h.sent.Add(1)
	if h.cut.Load() {
		return
	}
	h.peer.mu.Lock()
	f := h.peer.deliver
	h.peer.mu.Unlock()
	if f != nil {
		h.peer.recv.Add(1)
		f(0, append([]byte(nil), p...))
	}
}

func (h *hbTwin) Stats() conntracksync.HeartbeatStats {
	return conntracksync.HeartbeatStats{Sent: h.sent.Load(), Received: h.recv.Load()}
}

// arbConf is pairConf with a conntrack_sync block; key "" leaves
// auth_key_file out (no arbitration).
func arbConf(prio, local, peer, key, extra string) string {
	c := strings.ReplaceAll(pairConf, "%PRIO%", prio) + "conntrack_sync {\n interface eth1\n local_address " + local +
		"\n peer_address " + peer + "\n track_group VI_1\n"
	if key != "" {
		c += " auth_key_file " + key + "\n heartbeat_interval 0.1\n" + extra
	}
	return c + "}\n"
}

// startArbNode starts a node whose conntrack replicator is a recorder
// (the arbitration is under test), whose heartbeat is hb and whose
// witness probe is witness.
func startArbNode(t *testing.T, wire *vrrptest.Wire, addr, text string, hb heartbeatSender, witness func(context.Context, string, netip.Addr, time.Duration) error) *node {
	t.Helper()
	opts := Options{}
	opts.Host.Conntrack = &fakeRep{ev: &ctEvents{}}
	opts.Host.Heartbeat = hb
	opts.Host.Witness = witness
	return startNodeKernel(t, wire, viptest.NewKernel("eth0", "eth1"), addr, "fe80::"+addr[len(addr)-1:], text, opts)
}

// TestArbiterAdvertsLost: with the heartbeat, adverts lost between the
// two nodes (both alive) leave exactly one master the whole time, the
// split is in both statuses; when adverts come back the split heals and
// the master re-announces once. Without a key (no arbitration) the same
// loss makes both MASTER, as RFC 5798 says.
func TestArbiterAdvertsLost(t *testing.T) {
	for _, arbitrate := range []bool{true, false} {
		name := "arbitration"
		if !arbitrate {
			name = "no key"
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				wire := vrrptest.NewWire(vrrptest.WireOptions{})
				key := ""
				if arbitrate {
					key = "/etc/vigil/sync.key"
				}
				ha, hb := hbPair()
				start := time.Now()
				a := startArbNode(t, wire, "192.0.2.1", arbConf("150", "198.51.100.1", "198.51.100.2", key, ""), ha, nil)
				fifo := filepath.Join(t.TempDir(), "notify.fifo")
				b := startArbNode(t, wire, "192.0.2.2", "global_defs {\n    notify_fifo "+fifo+"\n}\n"+arbConf("100", "198.51.100.2", "198.51.100.1", key, ""), hb, nil)
				sleepUntil(start, 5*time.Second)
				wantStates(t, "before the loss", a, b, "MASTER", "BACKUP")
				for _, c := range a.conns {
					c.SetIsolated(true)
				}
				dual := 0
				for at := 5 * time.Second; at < 20*time.Second; at += 100 * time.Millisecond {
					sleepUntil(start, at)
					if a.state("VI_1") == "MASTER" && b.state("VI_1") == "MASTER" {
						dual++
					}
				}
				if !arbitrate {
					if dual == 0 || a.d.Status().Arbiter != nil {
						t.Fatalf("without arbitration: %d dual-master samples, arbiter status %v", dual, a.d.Status().Arbiter)
					}
					return
				}
				if dual != 0 || a.state("VI_1") != "MASTER" || b.state("VI_1") != "BACKUP" {
					t.Fatalf("during the loss: %d dual-master samples; a %s, b %s", dual, a.state("VI_1"), b.state("VI_1"))
				}
				for _, n := range []*node{a, b} {
					s := n.d.Status().Arbiter
					if s == nil || !s.Split || s.Mode != "split" || s.Splits != 1 {
						t.Fatalf("status during the loss: %+v", s)
					}
				}
				if s := b.d.Status().Arbiter; !s.Held || s.Win || s.Rule != "incumbent" {
					t.Fatalf("b: %+v", s)
				}
				if got := readFIFO(t, fifo); got != `INSTANCE "VI_1" BACKUP 100`+"\n"+`INSTANCE "VI_1" SPLIT 100`+"\n" {
					t.Fatalf("b's FIFO during the split: %q", got)
				}
				for _, c := range a.conns {
					c.SetIsolated(false)
				}
				sleepUntil(start, 25*time.Second)
				sa, sb := a.d.Status().Arbiter, b.d.Status().Arbiter
				if sa.Split || sb.Split || sa.Reannounces != 1 || sb.Reannounces != 0 {
					t.Fatalf("after the heal: a %+v, b %+v", sa, sb)
				}
				wantStates(t, "after the heal", a, b, "MASTER", "BACKUP")

				// The sync link cut alone: no transition, the mode says so.
				ha.cut.Store(true)
				sleepUntil(start, 35*time.Second)
				sa, sb = a.d.Status().Arbiter, b.d.Status().Arbiter
				if sa.Mode != "heartbeat_lost" || sb.Mode != "heartbeat_lost" || sa.HeartbeatLosts != 1 || sa.Held || sb.Held {
					t.Fatalf("sync link cut: a %+v, b %+v", sa, sb)
				}
				wantStates(t, "sync link cut", a, b, "MASTER", "BACKUP")
			})
		})
	}
}

// TestArbiterWitnessDown: the master's witness stops answering while
// the backup's answers (adverts still flow): the master hands over, the
// backup takes over, and the old master stays BACKUP while its segment is
// the less healthy; when the witness answers again nothing moves back by
// itself... unless VRRP's own preemption says so (a has the higher
// priority and preempts).
func TestArbiterWitnessDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		var aDown atomic.Bool
		probeA := func(context.Context, string, netip.Addr, time.Duration) error {
			if aDown.Load() {
				return errors.New("no answer")
			}
			return nil
		}
		probeB := func(context.Context, string, netip.Addr, time.Duration) error { return nil }
		ha, hb := hbPair()
		start := time.Now()
		w := " witness VI_1 203.0.113.9\n"
		a := startArbNode(t, wire, "192.0.2.1", arbConf("150", "198.51.100.1", "198.51.100.2", "/k", w), ha, probeA)
		b := startArbNode(t, wire, "192.0.2.2", arbConf("100", "198.51.100.2", "198.51.100.1", "/k", w), hb, probeB)
		sleepUntil(start, 5*time.Second)
		wantStates(t, "before", a, b, "MASTER", "BACKUP")
		aDown.Store(true)
		sleepUntil(start, 10*time.Second)
		wantStates(t, "witness down", a, b, "BACKUP", "MASTER")
		sa := a.d.Status().Arbiter
		if sa.Yields != 1 || !sa.Held || sa.Rule != "health" || len(sa.Witnesses) != 1 || sa.Witnesses[0].Up {
			t.Fatalf("a: %+v", sa)
		}
		sleepUntil(start, 20*time.Second)
		wantStates(t, "witness still down", a, b, "BACKUP", "MASTER")
		aDown.Store(false)
		sleepUntil(start, 30*time.Second)
		wantStates(t, "witness back, a preempts", a, b, "MASTER", "BACKUP")
		if sa := a.d.Status().Arbiter; sa.Held {
			t.Fatalf("a still held: %+v", sa)
		}
	})
}

// wantStates fails the test unless a's and b's VI_1 are in these states.
func wantStates(t *testing.T, when string, a, b *node, sa, sb string) {
	t.Helper()
	if ga, gb := a.state("VI_1"), b.state("VI_1"); ga != sa || gb != sb {
		t.Fatalf("%s: a %s, b %s; want a %s, b %s", when, ga, gb, sa, sb)
	}
}

// TestArbiterMasterStops: the arbitration does not slow a graceful
// hand-over: the master stops (priority-0 advert, its last heartbeat still
// says MASTER) and the held backup takes over after its Skew_Time, as RFC
// 5798 says, not after the heartbeat's dead time.
func TestArbiterMasterStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		ha, hb := hbPair()
		start := time.Now()
		a := startArbNode(t, wire, "192.0.2.1", arbConf("150", "198.51.100.1", "198.51.100.2", "/k", ""), ha, nil)
		b := startArbNode(t, wire, "192.0.2.2", arbConf("100", "198.51.100.2", "198.51.100.1", "/k", ""), hb, nil)
		sleepUntil(start, 5*time.Second)
		wantStates(t, "before", a, b, "MASTER", "BACKUP")
		if s := b.d.Status().Arbiter; !s.Held {
			t.Fatalf("b not held behind a master: %+v", s)
		}
		a.stop()
		stopped := time.Now()
		skew := time.Duration(256-100) * time.Second / 256
		sleepUntil(stopped, skew-time.Millisecond)
		if b.state("VI_1") != "BACKUP" {
			t.Fatalf("b %s before its Skew_Time", b.state("VI_1"))
		}
		sleepUntil(stopped, skew+time.Millisecond)
		if b.state("VI_1") != "MASTER" {
			t.Fatalf("b %s after its Skew_Time", b.state("VI_1"))
		}
	})
}
