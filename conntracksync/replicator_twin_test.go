package conntracksync_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	ct "github.com/vigil-ha/vigil/conntracksync"
	"github.com/vigil-ha/vigil/conntracksync/twin"
)

// Replicators on the in-memory twins of the kernel side and of the sync
// link, in synctest bubbles: no root, fake time. The namespace tests
// (replicator_linux_test.go, interop_linux_test.go) prove the same with
// ctnetlink, UDP and conntrackd.

var twinA, twinB = netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("198.51.100.2")

// twinNode is a Replicator on a twin kernel and one side of a wire.
type twinNode struct {
	k      *twin.Kernel
	r      *ct.Replicator
	side   int
	cancel context.CancelFunc
	done   chan error
}

func newTwinNode(t *testing.T, w *twin.Wire, side int, k *twin.Kernel) *twinNode {
	t.Helper()
	return newTwinNodeWith(t, w, side, k, ct.Config{})
}

// newTwinNodeWith is newTwinNode with cfg's settings but the addresses.
func newTwinNodeWith(t *testing.T, w *twin.Wire, side int, k *twin.Kernel, cfg ct.Config) *twinNode {
	t.Helper()
	cfg.LocalAddr, cfg.PeerAddr = twinA, twinB
	if side == 1 {
		cfg.LocalAddr, cfg.PeerAddr = twinB, twinA
	}
	log := slog.New(slog.DiscardHandler)
	r, err := ct.New(log, cfg, ct.Parts{Kernel: k, Link: w.Opener(side)})
	if err != nil {
		t.Fatal(err)
	}
	n := &twinNode{k: k, r: r, side: side}
	n.start()
	t.Cleanup(n.stop)
	return n
}

func (n *twinNode) start() {
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel, n.done = cancel, make(chan error, 1)
	go func() { n.done <- n.r.Run(ctx) }()
}

func (n *twinNode) stop() {
	if n.cancel == nil {
		return
	}
	n.cancel()
	if err := <-n.done; err != context.Canceled {
		panic(fmt.Sprintf("replicator stopped with %v", err))
	}
	n.cancel = nil
}

// waitFor sleeps in fake time until cond holds, at most limit.
func waitFor(t *testing.T, limit time.Duration, cond func() bool, what string, args ...any) {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("not within %s: "+what, append([]any{limit}, args...)...)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// sameFlows reports how many of want's flows the entries hold unchanged
// (timeouts aside: the wire carries what is left of them).
func sameFlows(es []ct.Entry, want []ct.Flow) int {
	got := make(map[ct.Key]ct.Flow, len(es))
	for _, e := range es {
		got[e.Flow.Key()] = e.Flow
	}
	n := 0
	for i := range want {
		g, ok := got[want[i].Key()]
		if ok && g.Reply == want[i].Reply && g.TCPState == want[i].TCPState && g.Mark == want[i].Mark && g.Master == want[i].Master {
			n++
		}
	}
	return n
}

// newTwinPair starts node a (side 0, its kernel holding flows) and node b
// (side 1, empty) on a wire that loses that share of datagrams.
func newTwinPair(t *testing.T, seed uint64, loss float64, flows []ct.Flow) (w *twin.Wire, a, b *twinNode) {
	t.Helper()
	w = twin.NewWire(seed)
	w.SetLoss(loss)
	k := twin.NewKernel()
	for _, f := range flows {
		k.Put(f)
	}
	return w, newTwinNode(t, w, 0, k), newTwinNode(t, w, 1, twin.NewKernel())
}

// TestTwinPairReplicates: the table a node has when it starts (its dump)
// and the changes after (events: new, update, delete) reach the peer's
// external cache; a restarted peer gets the whole table again.
func TestTwinPairReplicates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		flows := ct.SampleFlows(3000)
		_, a, b := newTwinPair(t, 1, 0, flows[:2000])
		ext := func() []ct.Entry { _, e := b.r.Dump(); return e }
		waitFor(t, 30*time.Second, func() bool { return sameFlows(ext(), flows[:2000]) == 2000 },
			"b's external cache after a's dump: %v of 2000", lazyf(func() string { return fmt.Sprint(sameFlows(ext(), flows[:2000])) }))

		for _, f := range flows[2000:] {
			a.k.Put(f)
		}
		changed := flows[500]
		changed.Mark = 42
		a.k.Put(changed)
		for _, f := range flows[:100] {
			a.k.Delete(f.Key())
		}
		want := append([]ct.Flow{changed}, flows[100:500]...)
		want = append(want, flows[501:]...)
		waitFor(t, 30*time.Second, func() bool { es := ext(); return len(es) == len(want) && sameFlows(es, want) == len(want) },
			"b's external cache after a's events: %v entries, %v right, want %d", lazyf(func() string { return fmt.Sprint(len(ext())) }),
			lazyf(func() string { return fmt.Sprint(sameFlows(ext(), want)) }), len(want))

		// b restarts: a new session, and a's bulk fills it again.
		b.stop()
		b.r.FlushExternal()
		b.start()
		waitFor(t, 30*time.Second, func() bool { return sameFlows(ext(), want) == len(want) }, "restarted b's external cache")
		if st := a.r.Stats(); st.Bulks < 2 || st.PeerSessions < 2 {
			t.Errorf("a's stats after b's restart: bulks %d, peer sessions %d", st.Bulks, st.PeerSessions)
		}
		a.stop()
		b.stop()
	})
}

// TestTwinPurge: with PurgeTimeout, Purge gives every flow of the internal
// cache (the node's own and those its commit wrote from the peer's) that
// timeout in the kernel, and recreates none that the kernel dropped
// meanwhile; without PurgeTimeout it changes nothing.
func TestTwinPurge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		flows := ct.SampleFlows(150)
		w := twin.NewWire(1)
		ka, kb := twin.NewKernel(), twin.NewKernel()
		for _, f := range flows[:100] {
			ka.Put(f)
		}
		for _, f := range flows[100:] {
			kb.Put(f)
		}
		a := newTwinNode(t, w, 0, ka)
		b := newTwinNodeWith(t, w, 1, kb, ct.Config{PurgeTimeout: 30 * time.Second})
		ext := func() []ct.Entry { _, e := b.r.Dump(); return e }
		waitFor(t, 30*time.Second, func() bool { return sameFlows(ext(), flows[:100]) == 100 }, "b's external cache")
		if _, err := b.r.Commit(context.Background()); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 30*time.Second, func() bool { in, _ := b.r.Dump(); return len(in) == 150 }, "b's internal cache after the commit")
		gone := flows[120].Key()
		kb.Delete(gone)

		st, err := b.r.Purge(context.Background(), nil)
		if err != nil || st.Set != 149 || st.Failed != 0 || st.Timeout != 30*time.Second {
			t.Fatalf("purge: %+v, %v", st, err)
		}
		table := kb.Flows()
		if _, ok := table[gone]; ok || len(table) != 149 {
			t.Errorf("b's kernel after the purge: %d flows, the dropped one back: %v", len(table), ok)
		}
		for k, f := range table {
			if f.TimeoutSec != 30 {
				t.Errorf("%v: timeout %d after the purge, want 30", k, f.TimeoutSec)
			}
		}
		// A purge that is no longer wanted once the kernel side is free
		// changes nothing.
		kb.Put(flows[120])
		if st, err := b.r.Purge(context.Background(), func() bool { return false }); err != nil || st.Set != 0 {
			t.Errorf("purge not current: %+v, %v", st, err)
		}
		if f := kb.Flows()[gone]; f.TimeoutSec != flows[120].TimeoutSec {
			t.Errorf("a purge not current set a timeout: %d", f.TimeoutSec)
		}

		before := ka.Flows()
		if st, err := a.r.Purge(context.Background(), nil); err != nil || st.Set != 0 || st.Entries != 0 {
			t.Errorf("purge without PurgeTimeout: %+v, %v", st, err)
		}
		for k, f := range ka.Flows() {
			if f.TimeoutSec != before[k].TimeoutSec {
				t.Errorf("%v: timeout %d changed without PurgeTimeout (was %d)", k, f.TimeoutSec, before[k].TimeoutSec)
			}
		}
		a.stop()
		b.stop()
	})
}

// TestTwinPairLossy: with a fifth of the datagrams lost both ways from
// the first one on (handshake included), every flow and every deletion
// still reaches the peer: FTFW's NACKs, resends and ALIVEs recover them.
func TestTwinPairLossy(t *testing.T) {
	for seed := range uint64(3) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				flows := ct.SampleFlows(4000)
				w, a, b := newTwinPair(t, seed, 0.2, flows[:1000])
				for i, f := range flows[1000:] {
					a.k.Put(f)
					if i%100 == 0 {
						time.Sleep(time.Millisecond)
					}
				}
				for _, f := range flows[:500] {
					a.k.Delete(f.Key())
				}
				ext := func() []ct.Entry { _, e := b.r.Dump(); return e }
				want := flows[500:]
				waitFor(t, 2*time.Minute, func() bool { es := ext(); return len(es) == len(want) && sameFlows(es, want) == len(want) },
					"b's external cache over a lossy link: %v entries, want %d", lazyf(func() string { return fmt.Sprint(len(ext())) }), len(want))
				if sent, dropped := w.Counts(0); dropped == 0 || dropped == sent {
					t.Errorf("the wire dropped %d of %d datagrams: the test lost nothing (or everything)", dropped, sent)
				}
				if st := a.r.Stats(); st.Retransmits == 0 {
					t.Errorf("no retransmits: %+v", st.Channel)
				}
				a.stop()
				b.stop()
			})
		})
	}
}

// TestTwinTakeover: the backup takes over (Failover): its commit writes
// the peer's table into its kernel, the external cache is flushed, and
// the old master, back from FAULT, asks for and gets the new master's
// table, the committed flows included (put into its internal cache by the
// commit itself).
func TestTwinTakeover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		flows := ct.SampleFlows(2000)
		w, a, b := newTwinPair(t, 7, 0, flows)
		log := slog.New(slog.DiscardHandler)
		foA := ct.NewFailover(log, a.r, "FW", 2*time.Second)
		foB := ct.NewFailover(log, b.r, "FW", 2*time.Second)
		defer foA.Close()
		defer foB.Close()
		foA.Master()
		waitFor(t, 30*time.Second, func() bool { return b.r.Stats().External == len(flows) }, "b's external cache")

		// a fails; b takes over.
		w.SetLoss(1)
		foA.Left("VI_1", "FAULT", false)
		foA.Fault()
		foB.Takeover("VI_1", time.Now())
		if got := sameFlows(entries(b.k.Flows()), flows); got != len(flows) {
			t.Fatalf("b's kernel after the takeover commit: %d of %d flows", got, len(flows))
		}
		if st := foB.Status(); !st.Master || st.LastTakeover.Entries != len(flows) || st.LastTakeover.Flushed != len(flows) || st.LastTakeover.Error != "" {
			t.Errorf("b's takeover: %+v", st)
		}
		if b.r.Stats().External != 0 {
			t.Errorf("b's external cache not flushed: %d", b.r.Stats().External)
		}
		waitFor(t, 5*time.Second, func() bool { return b.r.Stats().Internal == len(flows) }, "b's internal cache after the commit")

		// a is back (BACKUP): it asks b for its table.
		a.r.FlushExternal()
		w.SetLoss(0)
		foA.BackFromFault("VI_1")
		ext := func() []ct.Entry { _, e := a.r.Dump(); return e }
		waitFor(t, 30*time.Second, func() bool { return sameFlows(ext(), flows) == len(flows) }, "a's external cache from the new master")
		a.stop()
		b.stop()
	})
}

// TestTwinFailedCommitKeepsExternal: a takeover whose commit fails keeps the external
// cache, so the next takeover still commits the peer's flows.
func TestTwinFailedCommitKeepsExternal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		flows := ct.SampleFlows(500)
		_, a, b := newTwinPair(t, 3, 0, flows)
		fo := ct.NewFailover(slog.New(slog.DiscardHandler), b.r, "FW", time.Second)
		defer fo.Close()
		waitFor(t, 30*time.Second, func() bool { return b.r.Stats().External == len(flows) }, "b's external cache")
		b.k.FailNextCommit(twin.ErrCommit)
		fo.Takeover("VI_1", time.Now())
		if st := fo.Status().LastTakeover; st.Error == "" || st.Flushed != 0 || b.r.Stats().External != len(flows) {
			t.Fatalf("failed commit: %+v, external %d", st, b.r.Stats().External)
		}
		fo.Left("VI_1", "BACKUP", false)
		fo.Takeover("VI_1", time.Now())
		if got := sameFlows(entries(b.k.Flows()), flows); got != len(flows) || b.k.Commits() != 1 {
			t.Fatalf("second takeover: %d of %d flows in b's kernel, %d commits", got, len(flows), b.k.Commits())
		}
		a.stop()
		b.stop()
	})
}

func entries(m map[ct.Key]ct.Flow) []ct.Entry {
	out := make([]ct.Entry, 0, len(m))
	for _, f := range m {
		out = append(out, ct.Entry{Flow: f})
	}
	return out
}

// lazyf formats as fn() at the time it is printed.
type lazyf func() string

func (l lazyf) String() string { return l() }

// TestTwinSmallCommitAllocatesLittle: a takeover's commit of a small
// external cache allocates for what it writes, not for the chunks of a
// large one. Its buffers of 4,096 entries (three of them, about 1 MB each)
// were fresh memory the VIPs waited for: on a machine whose page faults
// cost 10 µs, about 10 ms for a commit of two flows.
func TestTwinSmallCommitAllocatesLittle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		flows := ct.SampleFlows(2)
		_, a, b := newTwinPair(t, 1, 0, flows)
		waitFor(t, 30*time.Second, func() bool { _, e := b.r.Dump(); return sameFlows(e, flows) == 2 }, "b's external cache")
		a.stop()
		b.stop()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		st, err := b.r.Commit(context.Background())
		runtime.ReadMemStats(&m1)
		if err != nil || st.Created != 2 {
			t.Fatalf("commit: %+v, %v", st, err)
		}
		n := m1.TotalAlloc - m0.TotalAlloc
		if n > 64<<10 {
			t.Errorf("a commit of 2 flows allocated %d bytes, want at most 64 KiB", n)
		}
	})
}
