package conntracksync

import (
	"context"
	"reflect"
	"runtime"
	"testing"
	"time"
	"unsafe"
)

func heapAlloc() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// A plain IPv4 flow costs the cache its map slot (ckey4 beside rec4) over the
// map's load. rec4 aligns on four bytes, so the slot is 60 bytes, not 64;
// measured at 100k flows, 83 bytes of heap per flow rather than 94, 1.1 MB
// less on every node.
func TestRec4Slot(t *testing.T) {
	var slot struct {
		k ckey4
		r rec4
	}
	if n := unsafe.Sizeof(slot); n != 60 {
		t.Errorf("a ckey4 and rec4 slot takes %d bytes, want 60", n)
	}
	const n = 100_000
	var flows []Flow
	for _, f := range SampleFlows(3 * n) {
		if _, _, ok := pack4(&f); ok && len(flows) < n {
			flows = append(flows, f)
		}
	}
	if len(flows) < n {
		t.Fatalf("%d plain IPv4 flows among the samples, want %d", len(flows), n)
	}
	before := heapAlloc()
	c := NewCache()
	now := time.Unix(1000, 0)
	for i := range flows {
		c.Put(flows[i], now)
	}
	per := (int64(heapAlloc()) - int64(before)) / n
	t.Logf("%d bytes of heap per cached flow", per)
	if per > 88 {
		t.Errorf("%d bytes of heap per cached plain IPv4 flow, want at most 88", per)
	}
	runtime.KeepAlive(c)
	runtime.KeepAlive(flows)
}

// plainFlows returns n plain IPv4 flows (stored as fixed-size records)
// and m others (stored compact) from the samples.
func plainFlows(t *testing.T, n, m int) (v4, others []Flow) {
	t.Helper()
	for _, f := range SampleFlows(3 * (n + m)) {
		if _, _, ok := pack4(&f); ok {
			if len(v4) < n {
				v4 = append(v4, f)
			}
		} else if len(others) < m {
			others = append(others, f)
		}
	}
	if len(v4) < n || len(others) < m {
		t.Fatalf("%d plain IPv4 and %d other flows among the samples, want %d and %d", len(v4), len(others), n, m)
	}
	return v4, others
}

// A cache drained of most of its flows gives their room back: by one
// deletion at a time (a master's kernel events once it has handed over, the
// peer's deletions), by a sweep after a dump, or by Release (the external
// cache after a takeover). A cache that keeps the room of its largest size
// (4.2 MB for the 50k flows here) fails.
func TestCacheGivesBackRoomWhenDrained(t *testing.T) {
	const n, kept = 50_000, 100
	flows, _ := plainFlows(t, n, 0)
	now := time.Unix(1000, 0)
	for _, how := range []string{"delete", "apply", "sweep", "release"} {
		before := heapAlloc()
		c := NewCache()
		for i := range flows {
			c.Put(flows[i], now)
		}
		switch how {
		case "delete":
			for i := kept; i < n; i++ {
				c.Delete(flows[i].Key())
			}
		case "apply":
			// In batches of a datagram's size, as the peer's deletions
			// come (a batch's scratch is kept for the next one).
			const batch = 64
			del := make([]bool, batch)
			for i := range del {
				del[i] = true
			}
			for i := kept; i < n; i += batch {
				b := flows[i:min(i+batch, n)]
				c.Apply(b, del[:len(b)], now)
			}
		case "sweep":
			c.BeginDump()
			for i := range kept {
				c.Put(flows[i], now)
			}
			if removed := c.Sweep(); len(removed) != n-kept {
				t.Fatalf("sweep removed %d flows, want %d", len(removed), n-kept)
			}
		case "release":
			if got := c.Release(); got != n {
				t.Fatalf("release removed %d flows, want %d", got, n)
			}
			for i := range kept {
				c.Put(flows[i], now)
			}
		}
		if c.Len() != kept {
			t.Fatalf("%s: %d flows left, want %d", how, c.Len(), kept)
		}
		held := int64(heapAlloc()) - int64(before)
		t.Logf("%s: %d bytes held by %d flows after %d", how, held, kept, n)
		if held > 1<<20 {
			t.Errorf("%s: the drained cache holds %d bytes, want at most 1 MiB", how, held)
		}
		runtime.KeepAlive(c)
	}
}

// The maps rebuilt smaller hold every flow left, of both kinds, exactly,
// and the cache goes on working: a flow put after the rebuild is there.
func TestCacheShrinkKeepsWhatIsLeft(t *testing.T) {
	const n, kept = 8 * mapShrinkMin, 50
	v4, others := plainFlows(t, n, 2*kept)
	t0, t1 := time.Unix(1000, 0), time.Unix(2000, 0)
	c := NewCache()
	for i := range v4 {
		c.Put(v4[i], t0)
	}
	for i := range others[:kept] {
		c.Put(others[i], t1)
	}
	want := map[Key]Entry{}
	for _, e := range c.Snapshot() {
		want[e.Flow.Key()] = e
	}
	for i := kept; i < n; i++ {
		c.Delete(v4[i].Key())
		delete(want, v4[i].Key())
	}
	if c.peak >= mapShrinkMin {
		t.Errorf("the maps' peak is %d after the drain to %d flows, want them rebuilt", c.peak, c.Len())
	}
	c.Put(others[kept], t1)
	want[others[kept].Key()] = Entry{Flow: others[kept], Updated: t1}
	got := c.Snapshot()
	if len(got) != len(want) {
		t.Fatalf("%d flows after the rebuild, want %d", len(got), len(want))
	}
	for _, e := range got {
		w, ok := want[e.Flow.Key()]
		if !ok {
			t.Fatalf("flow %v after the rebuild was not kept", e.Flow.Key())
		}
		w.Flow.ensureReply()
		if !reflect.DeepEqual(e.Flow, w.Flow) || !e.Updated.Equal(w.Updated) {
			t.Errorf("flow after the rebuild:\n%+v\nwant\n%+v", e, w)
		}
	}
}

// A commit's walk (Chunks) releases the lock between chunks and goes on
// over the maps it started with: deletions meanwhile must not rebuild
// them, or the walk would hand on flows deleted after the rebuild.
func TestCacheChunksWalkSeesDeletions(t *testing.T) {
	const n, kept, chunk = 8 * mapShrinkMin, 100, 64
	flows, _ := plainFlows(t, n, 0)
	now := time.Unix(1000, 0)
	c := NewCache()
	for i := range flows {
		c.Put(flows[i], now)
	}
	bufs, out := make(chan []Entry, 1), make(chan []Entry)
	bufs <- make([]Entry, 0, chunk)
	done := make(chan int)
	go func() { done <- c.Chunks(context.Background(), bufs, out) }()
	first := <-out // the walk now waits for a buffer, the lock released
	for i := kept; i < n; i++ {
		c.Delete(flows[i].Key())
	}
	left := map[Key]bool{}
	for i := range kept {
		left[flows[i].Key()] = true
	}
	var stale int
	bufs <- make([]Entry, 0, chunk) // the walk took the first one
	for {
		select {
		case b := <-out:
			for _, e := range b {
				if !left[e.Flow.Key()] {
					stale++
				}
			}
			bufs <- make([]Entry, 0, chunk)
			continue
		case sent := <-done:
			if stale > 0 {
				t.Errorf("the walk handed on %d flows deleted while it waited (%d sent, %d in its first chunk)", stale, sent, len(first))
			}
		}
		break
	}
	if c.Len() != kept {
		t.Fatalf("%d flows left, want %d", c.Len(), kept)
	}
	// Once the walk has ended, a deletion rebuilds the drained maps.
	c.Delete(flows[0].Key())
	if c.peak >= mapShrinkMin {
		t.Errorf("the maps' peak is %d after the walk, want them rebuilt", c.peak)
	}
}

// A commit puts the external cache's flows into the internal cache. Made
// room for first (reserveLike), the internal cache's maps are allocated
// once; grown from empty they are allocated again at every doubling, and
// the tables they leave behind wait for the collector (about twice the
// maps' final size allocated in all, so a higher peak). Without
// reserveLike this fails.
func TestReserveLikeAllocatesOnce(t *testing.T) {
	v4, others := plainFlows(t, 50_000, 4_000)
	flows := append(append([]Flow(nil), v4...), others...)
	fill := newCommitFill(flows)
	for _, reserve := range []bool{false, true} {
		before := heapAlloc()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		internal := fill.run(reserve)
		runtime.ReadMemStats(&m1)
		kept := heapAlloc() - before
		allocated := m1.TotalAlloc - m0.TotalAlloc
		t.Logf("room made first: %v; %.1f MB kept, %.1f MB allocated", reserve, float64(kept)/1e6, float64(allocated)/1e6)
		if internal.Len() != len(flows) {
			t.Fatalf("the internal cache holds %d flows, want %d", internal.Len(), len(flows))
		}
		if reserve && float64(allocated) > 1.25*float64(kept) {
			t.Errorf("with room made first, %.1f MB allocated for %.1f MB kept: the maps were grown", float64(allocated)/1e6, float64(kept)/1e6)
		}
		runtime.KeepAlive(internal)
	}
}

// reserveLike keeps what the cache holds, leaves a cache that already
// holds more than an eighth of the other's flows as it is, and counts the
// room it made as the most the maps held, so that deletions give it back
// if the flows do not come.
func TestReserveLike(t *testing.T) {
	v4, others := plainFlows(t, 4000, 1100)
	now := time.Unix(1000, 0)
	external := NewCache()
	for _, f := range append(append([]Flow(nil), v4...), others...) {
		external.Put(f, now)
	}
	c := NewCache()
	c.Put(v4[0], now)
	c.Put(others[0], now)
	c.reserveLike(external)
	if c.Len() != 2 || c.peak != 5100 {
		t.Fatalf("after reserveLike: %d flows, peak %d; want 2 and 5100", c.Len(), c.peak)
	}
	for _, f := range []Flow{v4[0], others[0]} {
		if _, ok := c.Get(f.Key()); !ok {
			t.Errorf("%v lost by reserveLike", f.Key())
		}
	}
	// Deleting one of the two gives the room back.
	c.Delete(v4[0].Key())
	if c.peak != 1 {
		t.Errorf("after a deletion the peak is %d, want 1 (the maps rebuilt for their size)", c.peak)
	}

	full := NewCache()
	for _, f := range v4[:1000] {
		full.Put(f, now)
	}
	before := reflect.ValueOf(full.v4).UnsafePointer()
	full.reserveLike(external)
	if reflect.ValueOf(full.v4).UnsafePointer() != before {
		t.Error("a cache holding a quarter of the other's flows was rebuilt")
	}

	small := NewCache()
	tiny := NewCache()
	tiny.Put(v4[0], now)
	small.reserveLike(tiny)
	if small.peak != 0 {
		t.Errorf("room made for one flow: peak %d, want 0 (a small map is left to grow)", small.peak)
	}
}

// BenchmarkCommitInternalFill: what a commit of 100k flows does to the
// internal cache (PutEntries, chunk by chunk, into an empty cache), with
// its maps grown from empty and with room made first (reserveLike).
func BenchmarkCommitInternalFill(b *testing.B) {
	flows := SampleFlows(100_000)
	fill := newCommitFill(flows)
	for _, mode := range []string{"grown", "room-made-first"} {
		b.Run(mode, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				fill.run(mode != "grown")
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(flows)), "ns/flow")
		})
	}
}

// commitFill is what a commit puts into the internal cache: the external
// cache it reads, and its flows as the kernel side hands them back.
type commitFill struct {
	external *Cache
	entries  []Entry
	ok       []bool
	now      time.Time
}

func newCommitFill(flows []Flow) *commitFill {
	f := &commitFill{external: NewCache(), entries: make([]Entry, len(flows)), ok: make([]bool, len(flows)), now: time.Unix(1000, 0)}
	for i := range flows {
		f.external.Put(flows[i], f.now)
		f.entries[i].Flow, f.ok[i] = flows[i], true
	}
	return f
}

// run puts the flows into a new internal cache chunk by chunk, as
// commitAll does, with room made first (reserve) or not, and returns it.
func (f *commitFill) run(reserve bool) *Cache {
	internal := NewCache()
	if reserve {
		internal.reserveLike(f.external)
	}
	for i := 0; i < len(f.entries); i += commitChunk {
		j := min(len(f.entries), i+commitChunk)
		internal.PutEntries(f.entries[i:j], f.ok[i:j], f.now)
	}
	return internal
}
