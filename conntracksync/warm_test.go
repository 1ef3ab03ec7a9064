package conntracksync

import (
	"net/netip"
	"runtime"
	"testing"
	"time"
)

// The warm standby's dirty set (warmSet) as a pure core: no lock, clock
// or kernel.

func warmKey(i int) Key {
	return Key{Orig: Tuple{Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddr("198.51.100.1"),
		Proto: ProtoUDP, SrcPort: uint16(1000 + i), DstPort: 53}}
}

var warmT0 = time.Unix(1_800_000_000, 0)

// TestWarmSetDue: a lone change waits warmDelay for companions (both
// sides of the boundary); a full batch is due at once; nothing is due
// while the node holds MASTER or when nothing is pending.
func TestWarmSetDue(t *testing.T) {
	w := newWarmSet()
	if _, ok := w.due(); ok {
		t.Fatal("due with nothing pending")
	}
	w.changed(warmKey(0), warmT0)
	w.changed(warmKey(1), warmT0.Add(time.Millisecond)) // the oldest change sets the delay
	at, ok := w.due()
	if !ok || !at.Equal(warmT0.Add(warmDelay)) {
		t.Fatalf("due %v %v, want %v", at, ok, warmT0.Add(warmDelay))
	}
	if d := warmT0.Add(warmDelay - time.Nanosecond); !d.Before(at) {
		t.Errorf("due before the delay: %v", at)
	}
	for i := 2; i < warmBatch; i++ {
		w.changed(warmKey(i), warmT0.Add(time.Millisecond))
	}
	if at, ok := w.due(); !ok || !at.Equal(warmT0) {
		t.Errorf("a full batch is due at %v %v, want at once (%v)", at, ok, warmT0)
	}
	w.master = true
	if _, ok := w.due(); ok {
		t.Error("due while MASTER")
	}
}

// TestWarmSetWriteOutcome: a written key leaves the set, one changed
// again while it was written stays pending, one the kernel refused is
// lost (not written again in the background, written by the takeover).
func TestWarmSetWriteOutcome(t *testing.T) {
	w := newWarmSet()
	for i := range 3 {
		w.changed(warmKey(i), warmT0)
	}
	keys := w.take(nil, 10, false)
	if len(keys) != 3 {
		t.Fatalf("took %d keys", len(keys))
	}
	w.changed(warmKey(1), warmT0.Add(time.Millisecond)) // changed during the write
	ok := make([]bool, len(keys))
	for i, d := range keys {
		ok[i] = d.k != warmKey(2) // the kernel refuses key 2
	}
	w.done(keys, ok, true, warmT0.Add(2*time.Millisecond))
	if _, p := w.pending[warmKey(1)]; !p || len(w.pending) != 1 {
		t.Errorf("pending %v, want key 1 only", w.pending)
	}
	if _, l := w.lost[warmKey(2)]; !l || len(w.lost) != 1 {
		t.Errorf("lost %v, want key 2 only", w.lost)
	}
	if at, _ := w.due(); !at.Equal(warmT0.Add(2*time.Millisecond + warmDelay)) {
		t.Errorf("the rest is due at %v", at)
	}
	if got := w.take(nil, 10, false); len(got) != 1 || got[0].k != warmKey(1) {
		t.Errorf("background take %v: lost keys are the takeover's", got)
	}
	if got := w.take(nil, 10, true); len(got) != 2 {
		t.Errorf("takeover take %v, want the pending and the lost key", got)
	}
	// A write that broke off (the kernel side failed) leaves what it did
	// not write as it was.
	keys = w.take(nil, 10, false)
	w.done(keys, make([]bool, len(keys)), false, warmT0.Add(3*time.Millisecond))
	if len(w.pending) != 1 || len(w.lost) != 1 {
		t.Errorf("after a broken write: pending %v, lost %v", w.pending, w.lost)
	}
}

// TestWarmSetExpiry: the kernel's destruction of a warm flow marks it
// lost once (counted once); a destruction of a flow with a pending
// change does not (its write creates it again); a new change from the
// peer makes a lost flow pending; clear forgets everything.
func TestWarmSetExpiry(t *testing.T) {
	w := newWarmSet()
	w.gone(warmKey(0))
	w.gone(warmKey(0))
	if st := w.stats(); st.Lost != 1 || st.LostNow != 1 || st.Pending != 0 || !st.On {
		t.Errorf("after an expiry: %+v", st)
	}
	w.changed(warmKey(1), warmT0)
	w.gone(warmKey(1))
	if st := w.stats(); st.LostNow != 1 || st.Pending != 1 {
		t.Errorf("expiry of a pending flow: %+v", st)
	}
	w.changed(warmKey(0), warmT0)
	if st := w.stats(); st.LostNow != 0 || st.Pending != 2 {
		t.Errorf("a lost flow changed again: %+v", st)
	}
	w.master = true
	w.clear()
	if st := w.stats(); st.LostNow+st.Pending != 0 || st.On || st.Lost != 1 {
		t.Errorf("after clear, as MASTER: %+v", st)
	}
}

// TestCacheTakeAllMerge: takeAll leaves the cache empty and hands over
// its entries, which mergeFrom puts into another cache but for the keys
// skip names.
func TestCacheTakeAllMerge(t *testing.T) {
	flows := SampleFlows(300)
	c := NewCache()
	for i := range flows {
		c.Put(flows[i], warmT0)
	}
	taken := c.takeAll()
	if c.Len() != 0 || taken.Len() != len(flows) {
		t.Fatalf("after takeAll: %d left, %d taken", c.Len(), taken.Len())
	}
	in := NewCache()
	skip := flows[7].Key()
	in.mergeFrom(taken, func(k *Key) bool { return *k == skip })
	if in.Len() != len(flows)-1 || in.Has(&skip) {
		t.Errorf("merged %d, has the skipped key %v", in.Len(), in.Has(&skip))
	}
	k := flows[8].Key()
	if e, ok := in.Get(k); !ok || e.Flow.Reply != flows[8].Reply || !e.Updated.Equal(warmT0) {
		t.Errorf("merged entry %+v %v", e, ok)
	}
	if got := len(in.Keys()); got != in.Len() {
		t.Errorf("Keys: %d of %d", got, in.Len())
	}
}

// warmKeyN is a distinct key for any i below 2^32.
func warmKeyN(i int) Key {
	k := warmKey(0)
	k.Orig.Src = netip.AddrFrom4([4]byte{192, 0, 2, byte(i)})
	k.Orig.Dst = netip.AddrFrom4([4]byte{198, 51, byte(i >> 16), byte(i >> 8)})
	return k
}

// drainWarm fills w with n pending changes, then writes them in batches
// of warmMaxWrite as the background writer does, every one refused when
// refuse is set (so that they become lost), accepted otherwise.
func drainWarm(w *warmSet, n int, refuse bool) {
	for i := range n {
		w.changed(warmKeyN(i), warmT0)
	}
	for len(w.pending) > 0 {
		keys := w.take(nil, warmMaxWrite, false)
		ok := make([]bool, len(keys))
		for i := range ok {
			ok[i] = !refuse
		}
		w.done(keys, ok, true, warmT0)
	}
}

// TestWarmSetGivesBackRoomWhenDrained: after the first sync of a large
// table every pending change is written, and after a takeover every lost
// flow too; the dirty set's maps then give their room back. A Go map
// keeps the room of its largest size, which the standby would hold for
// good (200k keys: about 14 MB) and every take would walk for the few
// keys left. Measured as the heap the drained set still holds.
func TestWarmSetGivesBackRoomWhenDrained(t *testing.T) {
	const n = 200_000
	for _, refuse := range []bool{false, true} {
		w := newWarmSet()
		before := heapAlloc()
		drainWarm(w, n, refuse)
		if refuse {
			// The takeover writes the lost flows, which the kernel takes.
			keys := w.take(nil, int(^uint(0)>>1), true)
			if len(keys) != n {
				t.Fatalf("the takeover takes %d dirty keys, want %d", len(keys), n)
			}
			ok := make([]bool, len(keys))
			for i := range ok {
				ok[i] = true
			}
			w.done(keys, ok, true, warmT0)
		}
		after := heapAlloc()
		if st := w.stats(); st.Pending+st.LostNow != 0 {
			t.Fatalf("refuse %v: %+v left dirty", refuse, st)
		}
		if held := int64(after) - int64(before); held > 1<<20 {
			t.Errorf("refuse %v: the drained dirty set holds %d bytes, want at most 1 MiB", refuse, held)
		}
		runtime.KeepAlive(w)
	}
}

// TestWarmSetShrinkKeepsWhatIsLeft: the maps rebuilt smaller hold every
// key still dirty, with its version: a pending key changed again while
// its write was in flight stays pending under its new version, and a lost
// one stays lost.
func TestWarmSetShrinkKeepsWhatIsLeft(t *testing.T) {
	const n, kept = 8 * warmShrinkMin, 100
	w := newWarmSet()
	for i := range n {
		w.changed(warmKeyN(i), warmT0)
	}
	keys := w.take(nil, n, false)
	for i := range kept {
		w.changed(warmKeyN(i), warmT0) // changed again while written
		w.gone(warmKeyN(n + i))        // not pending: lost
	}
	ok := make([]bool, len(keys))
	for i := range ok {
		ok[i] = true
	}
	w.done(keys, ok, true, warmT0)
	if w.pendPeak != kept {
		t.Errorf("pending map's peak %d after the drain, want %d (rebuilt)", w.pendPeak, kept)
	}
	left := w.take(nil, int(^uint(0)>>1), true)
	var pending, lost int
	for _, d := range left {
		i := -1
		for j := range n + kept {
			if warmKeyN(j) == d.k {
				i = j
				break
			}
		}
		switch {
		case i >= 0 && i < kept && d.ver > uint64(n):
			pending++
		case i >= n && d.ver == 0:
			lost++
		default:
			t.Errorf("left dirty: key %d version %d", i, d.ver)
		}
	}
	if pending != kept || lost != kept {
		t.Errorf("left %d pending, %d lost, want %d each", pending, lost, kept)
	}
}

// BenchmarkWarmTakeDrained is the background writer's take of a few
// pending keys after the first sync of 1M flows drained the set: the walk
// of the pending map's room.
func BenchmarkWarmTakeDrained(b *testing.B) {
	w := newWarmSet()
	drainWarm(w, 1_000_000, false)
	for i := range 10 {
		w.changed(warmKeyN(i), warmT0)
	}
	b.ResetTimer()
	for b.Loop() {
		if keys := w.take(nil, warmMaxWrite, false); len(keys) != 10 {
			b.Fatalf("took %d keys", len(keys))
		}
	}
}
