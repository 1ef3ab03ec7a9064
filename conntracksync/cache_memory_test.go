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
// cache after a takeover). The build before kept the room of the largest
// size, 16.8 MB for 200k flows, and fails.
func TestCacheGivesBackRoomWhenDrained(t *testing.T) {
	const n, kept = 200_000, 100
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
