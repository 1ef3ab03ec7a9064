package conntracksync_test

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	ct "github.com/vigil-ha/vigil/conntracksync"
	"github.com/vigil-ha/vigil/conntracksync/twin"
)

// The warm standby on the twins: node a (side 0) is the master whose
// kernel holds flows; node b (side 1) is the backup with WarmStandby.
func newWarmPair(t *testing.T, flows []ct.Flow) (w *twin.Wire, a, b *twinNode) {
	t.Helper()
	w = twin.NewWire(11)
	k := twin.NewKernel()
	for _, f := range flows {
		k.Put(f)
	}
	a = newTwinNode(t, w, 0, k)
	b = newTwinNodeWith(t, w, 1, twin.NewKernel(), ct.Config{WarmStandby: true})
	return w, a, b
}

// inKernel reports how many of want's flows k holds unchanged.
func inKernel(k *twin.Kernel, want []ct.Flow) int { return sameFlows(entries(k.Flows()), want) }

// TestTwinWarmStandby: the peer's flows reach the backup's kernel before
// any takeover, in batches (far fewer writes than flows); its changes and
// deletions follow; the kernel's events for those writes enter neither
// the backup's internal cache nor the peer's external cache (nothing
// echoes back).
func TestTwinWarmStandby(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		flows := ct.SampleFlows(3000)
		_, a, b := newWarmPair(t, flows)
		waitFor(t, 30*time.Second, func() bool { return inKernel(b.k, flows) == len(flows) }, "the peer's flows in b's kernel: %v", lazyf(func() string { return fmt.Sprint(inKernel(b.k, flows)) }))
		if n := b.k.Writes(); n == 0 || n > len(flows)/50 {
			t.Errorf("%d writes for %d flows: not batched", n, len(flows))
		}
		if n := b.k.Commits(); n != 0 {
			t.Errorf("%d commits before any takeover", n)
		}
		st := b.r.Stats()
		if st.Warm.Written < uint64(len(flows)) || st.Warm.Pending != 0 || st.Warm.LostNow != 0 || !st.Warm.On || st.Warm.Batches == 0 {
			t.Errorf("b's warm stats: %+v", st.Warm)
		}

		// One change waits only the coalescing delay, not a batch.
		changed := flows[10]
		changed.Mark = 7
		a.k.Put(changed)
		a.k.Delete(flows[11].Key())
		waitFor(t, time.Second, func() bool {
			f := b.k.Flows()
			_, del := f[flows[11].Key()]
			return f[changed.Key()].Mark == 7 && !del
		}, "a's change and deletion in b's kernel")

		// Give echoes time to arrive: there must be none.
		time.Sleep(3 * time.Second)
		if n := b.r.Stats().Internal; n != 0 {
			t.Errorf("b's internal cache holds %d of the peer's flows", n)
		}
		if n := a.r.Stats().External; n != 0 {
			t.Errorf("a's external cache got %d flows back from b", n)
		}
		a.stop()
		b.stop()
	})
}

// TestTwinWarmExpiryTakeover: a warm flow that expires in the backup's
// kernel is not announced to the peer, is counted lost, and the takeover
// writes it (and only the dirty set) again; the takeover's record says
// how many were warm; afterwards the flows are the new master's
// (internal cache, kept in the kernel by the flush) and its bulk reaches
// the peer.
func TestTwinWarmExpiryTakeover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		flows := ct.SampleFlows(1000)
		w, a, b := newWarmPair(t, flows)
		waitFor(t, 30*time.Second, func() bool { return inKernel(b.k, flows) == len(flows) }, "the peer's flows in b's kernel")
		// The session's bulks and acknowledgements settle first: a flow
		// the peer sends again is rightly written again.
		waitFor(t, 30*time.Second, func() bool { s := a.r.Stats(); return s.Backlog == 0 && s.Bulks > 0 }, "a's channel idle")
		time.Sleep(3 * time.Second)
		expired := flows[42].Key()
		b.k.Delete(expired) // the kernel's own expiry: reported as port id 0
		waitFor(t, 5*time.Second, func() bool { return b.r.Stats().Warm.LostNow == 1 }, "the expiry marked lost")
		time.Sleep(2 * time.Second)
		if _, ok := b.k.Flows()[expired]; ok {
			t.Fatal("a lost flow was written again before the takeover")
		}
		if n := a.r.Stats().External; n != 0 {
			t.Fatalf("the expiry was announced to the peer: a's external cache holds %d", n)
		}
		writes := b.k.Writes()

		w.SetLoss(1) // a is gone
		fo := ct.NewFailover(slog.New(slog.DiscardHandler), b.r, "FW", 2*time.Second)
		defer fo.Close()
		fo.Takeover("VI_1", time.Now())
		if got := inKernel(b.k, flows); got != len(flows) {
			t.Fatalf("b's kernel after the takeover: %d of %d", got, len(flows))
		}
		tk := fo.Status().LastTakeover
		if tk.Entries != len(flows) || tk.Warm != len(flows)-1 || tk.Flushed != len(flows) || tk.Error != "" {
			t.Errorf("takeover record %+v: want %d entries, %d warm", tk, len(flows), len(flows)-1)
		}
		if st := b.r.Stats(); st.LastCommit.Created+st.LastCommit.Updated != 1 || st.Warm.LastCommitDirty != 1 || b.k.Writes() != writes+1 || b.k.Commits() != 0 {
			t.Errorf("the takeover wrote more than the dirty set: %+v, warm %+v, %d writes after %d", st.LastCommit, st.Warm, b.k.Writes(), writes)
		}
		// The flush made the peer's flows ours: still in the kernel, now in
		// the internal cache.
		waitFor(t, 5*time.Second, func() bool { return b.r.Stats().Internal == len(flows) }, "b's internal cache after the takeover")
		if got := inKernel(b.k, flows); got != len(flows) {
			t.Errorf("the flush after the takeover removed flows from the kernel: %d of %d left", got, len(flows))
		}
		// While master, the peer's updates are not written in the background.
		a.r.FlushExternal()
		w.SetLoss(0)
		waitFor(t, 30*time.Second, func() bool { return sameFlows(externalOf(a.r), flows) == len(flows) }, "b's bulk in a's external cache")
		stray := ct.SampleFlows(1100)[1050]
		a.k.Put(stray)
		waitFor(t, 10*time.Second, func() bool { return b.r.Stats().External == 1 }, "a's new flow in b's external cache")
		time.Sleep(time.Second)
		if _, ok := b.k.Flows()[stray.Key()]; ok {
			t.Error("the master wrote the peer's flow into its kernel")
		}
		fo.Left("VI_1", "BACKUP", false)
		waitFor(t, 5*time.Second, func() bool { _, ok := b.k.Flows()[stray.Key()]; return ok }, "the peer's flow written once BACKUP again")
		a.stop()
		b.stop()
	})
}

// TestTwinWarmFlush: flushing the external cache on the backup
// (vigilctl ct flush external) removes the warm flows from its kernel
// too, but not the backup's own flows.
func TestTwinWarmFlush(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		flows := ct.SampleFlows(600)
		_, a, b := newWarmPair(t, flows[:500])
		for _, f := range flows[500:] {
			b.k.Put(f) // b's own connections
		}
		waitFor(t, 30*time.Second, func() bool { return inKernel(b.k, flows[:500]) == 500 }, "the peer's flows in b's kernel")
		waitFor(t, 5*time.Second, func() bool { return b.r.Stats().Internal == 100 }, "b's own flows in its internal cache")
		if n := b.r.FlushExternal(); n != 500 {
			t.Errorf("flushed %d, want 500", n)
		}
		if got, own := inKernel(b.k, flows[:500]), inKernel(b.k, flows[500:]); got != 0 || own != 100 {
			t.Errorf("after the flush: %d of the peer's flows left in b's kernel, %d of its own 100", got, own)
		}
		if st := b.r.Stats(); st.External != 0 || st.Warm.Pending+st.Warm.LostNow != 0 || st.Internal != 100 {
			t.Errorf("after the flush: %+v", st)
		}
		a.stop()
		b.stop()
	})
}

// warmPairWithOwn is newWarmPair whose backup's kernel also holds its own
// flows, once the peer's flows are in the backup's kernel too.
func warmPairWithOwn(t *testing.T, peers, own []ct.Flow) (w *twin.Wire, a, b *twinNode) {
	t.Helper()
	w, a, b = newWarmPair(t, peers)
	for _, f := range own {
		b.k.Put(f)
	}
	waitFor(t, 30*time.Second, func() bool { return inKernel(b.k, peers) == len(peers) }, "the peer's flows in b's kernel")
	return w, a, b
}

// TestTwinWarmRestart: a warm standby restarted while its peer is away
// finds the peer's connections, which its earlier run wrote, in its
// kernel beside its own, and nothing tells them apart until the peer's
// table comes: it announces none of them meanwhile. Once the peer is back
// and its table is in, the standby's internal cache holds its own
// connections only, the peer's external cache holds those and none of
// its own, and a connection that then ends on the peer leaves both.
// Without the hold the standby announced all 3,000 of the peer's
// connections as its own, and kept them after they ended on the peer.
func TestTwinWarmRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		flows := ct.SampleFlows(3100)
		peers, own := flows[:3000], flows[3000:]
		w, a, b := warmPairWithOwn(t, peers, own)
		waitFor(t, 30*time.Second, func() bool { return sameFlows(externalOf(a.r), own) == len(own) }, "b's own flows in a's external cache")
		a.stop()
		b.stop()
		a.r.FlushExternal() // a forgets b's flows: what it gets next is the restarted b's

		b2 := newTwinNodeWith(t, w, 1, b.k, ct.Config{WarmStandby: true})
		time.Sleep(5 * time.Second)
		if st := b2.r.Stats(); !st.Warm.Holding || st.Internal != len(flows) {
			t.Fatalf("b restarted, its peer away: holding %v, internal cache %d, want holding with all %d flows of its kernel", st.Warm.Holding, st.Internal, len(flows))
		}
		a.start()
		waitFor(t, 30*time.Second, func() bool { st := b2.r.Stats(); return !st.Warm.Holding && st.External == len(peers) }, "the peer's table in b")
		waitFor(t, 30*time.Second, func() bool { return sameFlows(externalOf(a.r), own) == len(own) }, "b's own flows in a's external cache again")
		time.Sleep(5 * time.Second)
		if st := b2.r.Stats(); st.Internal != len(own) || st.Warm.Retracted != uint64(len(peers)) {
			t.Errorf("b's internal cache holds %d flows, want its own %d; retracted %d, want %d", st.Internal, len(own), st.Warm.Retracted, len(peers))
		}
		if ext := externalOf(a.r); len(ext) != len(own) {
			t.Errorf("a's external cache holds %d flows, want b's own %d (%d of them a's own)", len(ext), len(own), sameFlows(ext, peers))
		}

		// One of the peer's connections ends there: it leaves b's kernel and
		// b announces nothing of it.
		a.k.Delete(peers[7].Key())
		waitFor(t, 10*time.Second, func() bool { _, ok := b2.k.Flows()[peers[7].Key()]; return !ok }, "the ended flow out of b's kernel")
		time.Sleep(3 * time.Second)
		if st := b2.r.Stats(); st.Internal != len(own) || st.External != len(peers)-1 {
			t.Errorf("after the end of one of a's flows: b's internal %d (want %d), external %d (want %d)", st.Internal, len(own), st.External, len(peers)-1)
		}
		if n := len(externalOf(a.r)); n != len(own) {
			t.Errorf("a's external cache holds %d flows, want %d", n, len(own))
		}
		a.stop()
		b2.stop()
	})
}

// TestTwinWarmRestartPeerUp: restarted with its peer up, the warm standby
// holds until the peer's table is in; then the peer's external cache has
// its own connections and none of the peer's. It reads its kernel's table
// after the peer's is in, so the peer's connections never enter its
// internal cache.
func TestTwinWarmRestartPeerUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		flows := ct.SampleFlows(2050)
		peers, own := flows[:2000], flows[2000:]
		w, a, b := warmPairWithOwn(t, peers, own)
		b.stop()
		a.r.FlushExternal()
		b2 := newTwinNodeWith(t, w, 1, b.k, ct.Config{WarmStandby: true})
		waitFor(t, 30*time.Second, func() bool { return !b2.r.Stats().Warm.Holding }, "the end of b's hold")
		waitFor(t, 30*time.Second, func() bool { return sameFlows(externalOf(a.r), own) == len(own) }, "b's own flows in a's external cache")
		time.Sleep(5 * time.Second)
		if n := len(externalOf(a.r)); n != len(own) {
			t.Errorf("a's external cache holds %d flows, want b's own %d", n, len(own))
		}
		if st := b2.r.Stats(); st.Internal != len(own) || st.External != len(peers) {
			t.Errorf("b: internal %d (want %d), external %d (want %d)", st.Internal, len(own), st.External, len(peers))
		}
		// b read its kernel's table once the peer's table was in: it never
		// took the peer's connections for its own.
		if n := b2.r.Stats().Warm.Retracted; n != 0 {
			t.Errorf("b took %d of the peer's flows back from its internal cache, want 0", n)
		}
		a.stop()
		b2.stop()
	})
}

func externalOf(r *ct.Replicator) []ct.Entry {
	_, e := r.Dump()
	return e
}

// TestTwinWarmWritesReuseBuffers: the background writer's batches reuse
// their buffers. Each batch looks up up to 1,024 entries of 304 bytes
// (pointers included, so the collector scans them and zeroes their
// pages); fresh buffers for every batch were most of the standby's
// allocation while the peer's table arrived (1,201 bytes per flow here,
// 14 with the buffers reused), and the collector's headroom over that
// garbage raised its peak RSS. Measured on the writer alone: the twin
// kernel's own storage is taken out by writing the same flows a second
// time, which stores nothing new.
func TestTwinWarmWritesReuseBuffers(t *testing.T) {
	const n = 32 * 1024
	flows := ct.SampleFlows(n)
	k := twin.NewKernel()
	r, err := ct.New(slog.New(slog.DiscardHandler), ct.Config{LocalAddr: twinB, PeerAddr: twinA, WarmStandby: true},
		ct.Parts{Kernel: k, Link: twin.NewWire(1).Opener(1)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := time.Now()
	drain := func() {
		t.Helper()
		for r.Stats().Warm.Pending > 0 {
			if err := ct.WarmWrite(r, ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	ct.WarmReceive(r, flows, now)
	drain()
	if got := inKernel(k, flows); got != n {
		t.Fatalf("the kernel holds %d of %d flows", got, n)
	}
	// The same flows again, changed: every one pending, written over.
	for i := range flows {
		flows[i].Mark++
	}
	ct.WarmReceive(r, flows, now)
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	drain()
	runtime.ReadMemStats(&m1)
	if got := inKernel(k, flows); got != n {
		t.Fatalf("the kernel holds %d of %d changed flows", got, n)
	}
	per := float64(m1.TotalAlloc-m0.TotalAlloc) / n
	t.Logf("the background writes allocated %.0f bytes per flow", per)
	if per > 200 {
		t.Errorf("the background writes allocated %.0f bytes per flow, want at most 200", per)
	}
}

// newWarmTwin is a warm standby's Replicator on a twin kernel, not run:
// the test feeds it with WarmReceive and drives its writes.
func newWarmTwin(t *testing.T, k *twin.Kernel) *ct.Replicator {
	t.Helper()
	r, err := ct.New(slog.New(slog.DiscardHandler), ct.Config{LocalAddr: twinB, PeerAddr: twinA, WarmStandby: true},
		ct.Parts{Kernel: k, Link: twin.NewWire(1).Opener(1)})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestTwinWarmTakeoverWritesInChunks: a takeover whose dirty set is larger
// than one write writes it in chunks through the background writer's
// buffers, every related flow after every master: the twin kernel, like
// the real one, refuses a related flow whose master is not there. The
// dirty set's order is a map's, so without the ordering some related
// flows land in an earlier chunk than their masters and are refused.
func TestTwinWarmTakeoverWritesInChunks(t *testing.T) {
	const n = 2000 // FTP control flows, each with its data flow: 4,000 keys
	masters, _ := ct.SampleFTP(n)
	related := ct.SampleFTPData(masters)
	flows := append(append([]ct.Flow(nil), related...), masters...)
	k := twin.NewKernel()
	r := newWarmTwin(t, k)
	ct.WarmReceive(r, flows, time.Now())
	r.SetMaster(true)
	st, err := r.Commit(context.Background())
	if err != nil || st.Failed != 0 {
		t.Fatalf("takeover commit: %+v, %v", st, err)
	}
	if got := inKernel(k, flows); got != len(flows) {
		t.Fatalf("the kernel holds %d of %d flows", got, len(flows))
	}
	if w := k.Writes(); w < 2 {
		t.Errorf("%d writes for %d keys: not written in chunks", w, len(flows))
	}
	if ws := r.Stats().Warm; ws.LastCommitDirty != len(flows) || ws.Pending+ws.LostNow != 0 {
		t.Errorf("after the takeover: %+v", ws)
	}
}

// TestTwinWarmTakeoverAllocatesLittle: the takeover's write allocates no
// buffers of its own for the entries. Fresh ones for the 4,000 lost flows
// of a 1M-flow table made its commit 51-56 ms where the reused ones took
// 27-42 (ct-bench -warm-only). The twin kernel holds the flows already, so
// that its own storage does not grow; what is left is the dirty set taken
// (80 bytes a key) and the twin's per-write outcome.
func TestTwinWarmTakeoverAllocatesLittle(t *testing.T) {
	flows := ct.SampleFlows(4000)
	k := twin.NewKernel()
	for _, f := range flows {
		k.Put(f)
	}
	r := newWarmTwin(t, k)
	ctx := context.Background()
	// The first sync's background writes size the buffers.
	ct.WarmReceive(r, flows, time.Now())
	for r.Stats().Warm.Pending > 0 {
		if err := ct.WarmWrite(r, ctx); err != nil {
			t.Fatal(err)
		}
	}
	// Every flow changed again before the takeover.
	for i := range flows {
		flows[i].Mark++
	}
	ct.WarmReceive(r, flows, time.Now())
	r.SetMaster(true)
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	st, err := r.Commit(ctx)
	runtime.ReadMemStats(&m1)
	if err != nil || st.Failed != 0 || st.Updated != len(flows) {
		t.Fatalf("takeover commit: %+v, %v", st, err)
	}
	per := float64(m1.TotalAlloc-m0.TotalAlloc) / float64(len(flows))
	t.Logf("the takeover's commit allocated %.0f bytes per dirty key", per)
	if per > 200 {
		t.Errorf("the takeover's commit allocated %.0f bytes per dirty key, want at most 200", per)
	}
}

// TestTwinCommitMakesRoomFirst: a whole-cache commit makes room in the
// internal cache for the external cache's flows before it puts them
// there, rather than growing its maps from empty (Cache.reserveLike; the
// allocations it saves are TestReserveLikeAllocatesOnce's).
func TestTwinCommitMakesRoomFirst(t *testing.T) {
	const n = 20_000
	flows := ct.SampleFlows(n)
	k := twin.NewKernel()
	r, err := ct.New(slog.New(slog.DiscardHandler), ct.Config{LocalAddr: twinB, PeerAddr: twinA},
		ct.Parts{Kernel: k, Link: twin.NewWire(1).Opener(1)})
	if err != nil {
		t.Fatal(err)
	}
	ct.ExternalPut(r, flows, time.Now())
	st, err := r.Commit(context.Background())
	if err != nil || st.Created != n {
		t.Fatalf("commit: %+v, %v", st, err)
	}
	if got := r.Stats().Internal; got != n {
		t.Fatalf("the internal cache holds %d flows after the commit, want %d", got, n)
	}
	if room := ct.InternalRoom(r); room < n {
		t.Errorf("the internal cache's room is %d flows, want at least %d: not made before the commit", room, n)
	}
}
