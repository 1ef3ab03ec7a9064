package conntracksync

import (
	"net/netip"
	"runtime"
	"slices"
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
	k1, k2 := warmKey(1), warmKey(2)
	if _, p := w.pending.get(&k1); !p || w.pending.len() != 1 {
		t.Errorf("pending %v, want key 1 only", w.pending)
	}
	if _, l := w.lost.get(&k2); !l || w.lost.len() != 1 {
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
	if w.pending.len() != 1 || w.lost.len() != 1 {
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
	for w.pending.len() > 0 {
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
	const n, kept = 8 * mapShrinkMin, 100
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
	if w.pending.peak != kept {
		t.Errorf("pending map's peak %d after the drain, want %d (rebuilt)", w.pending.peak, kept)
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
		case i >= 0 && i < kept && d.ver > uint32(n):
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

// TestWarmSetVersionWraps: the change version is 32 bits and wraps past
// 0, which marks a lost key in a take: a change made at the wrap is
// pending under a version of its own, and its write's outcome is
// recorded as for any other.
func TestWarmSetVersionWraps(t *testing.T) {
	w := newWarmSet()
	w.ver = ^uint32(0) - 1
	for i := range 3 {
		w.changed(warmKey(i), warmT0)
	}
	keys := w.take(nil, 10, false)
	vers := map[uint32]bool{}
	for _, d := range keys {
		if d.ver == 0 || vers[d.ver] {
			t.Errorf("key %+v taken with version %d (versions so far %v)", d.k, d.ver, vers)
		}
		vers[d.ver] = true
	}
	w.changed(keys[0].k, warmT0) // changed again during the write
	ok := make([]bool, len(keys))
	for i := range ok {
		ok[i] = true
	}
	w.done(keys, ok, true, warmT0)
	if left := w.take(nil, 10, true); len(left) != 1 || left[0].k != keys[0].k || left[0].ver == keys[0].ver {
		t.Errorf("after the write: %+v dirty, want only %+v under a new version", left, keys[0].k)
	}
}

// TestKeyMapKeepsEveryKey: the dirty set's map tells apart every field of
// a Key, IPv4 keys packed and every other kind as they are, and yields
// each key back exactly as it was set (the writer looks it up in the
// external cache and names it to the kernel).
func TestKeyMapKeepsEveryKey(t *testing.T) {
	base := Key{Orig: Tuple{Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddr("198.51.100.2"),
		Proto: ProtoTCP, SrcPort: 1000, DstPort: 80}}
	variants := []func(k *Key){
		func(k *Key) {},
		func(k *Key) { k.Orig.Src = netip.MustParseAddr("192.0.2.9") },
		func(k *Key) { k.Orig.Dst = netip.MustParseAddr("198.51.100.9") },
		func(k *Key) { k.Orig.Src = netip.MustParseAddr("::ffff:192.0.2.1") },
		func(k *Key) { k.Orig.Dst = netip.MustParseAddr("::ffff:198.51.100.2") },
		func(k *Key) { k.Orig.Src, k.Orig.Dst = k.Orig.Dst, k.Orig.Src },
		func(k *Key) {
			k.Orig.Src, k.Orig.Dst = netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
		},
		func(k *Key) {
			k.Orig.Src, k.Orig.Dst = netip.MustParseAddr("fe80::1%eth0"), netip.MustParseAddr("fe80::2")
		},
		func(k *Key) { k.Orig.Src, k.Orig.Dst = netip.MustParseAddr("fe80::1"), netip.MustParseAddr("fe80::2") },
		func(k *Key) { k.Orig.Src = netip.Addr{} },
		func(k *Key) { k.Orig.Src = netip.IPv4Unspecified() },
		func(k *Key) { k.Orig.Proto = ProtoUDP },
		func(k *Key) { k.Orig.SrcPort = 1001 },
		func(k *Key) { k.Orig.DstPort = 81 },
		func(k *Key) { k.Orig.SrcPort, k.Orig.DstPort = k.Orig.DstPort, k.Orig.SrcPort },
		func(k *Key) { k.Orig.ICMPType = 8 },
		func(k *Key) { k.Orig.ICMPCode = 1 },
		func(k *Key) { k.Orig.ICMPID = 7 },
		func(k *Key) { k.Zone = 1 },
		func(k *Key) { k.Zone = 0xffff },
	}
	m := newKeyMap[int]()
	keys := make([]Key, len(variants))
	for i, v := range variants {
		keys[i] = base
		v(&keys[i])
		m.set(&keys[i], i)
	}
	if m.len() != len(variants) {
		t.Fatalf("%d keys held, want %d: two keys share a slot", m.len(), len(variants))
	}
	if len(m.v4) == 0 || len(m.rest) == 0 {
		t.Errorf("%d packed and %d other keys: want both kinds", len(m.v4), len(m.rest))
	}
	seen := map[int]bool{}
	for k, i := range m.all {
		if k != keys[i] {
			t.Errorf("key %d yielded as %+v, set as %+v", i, k, keys[i])
		}
		seen[i] = true
	}
	for i := range keys {
		if v, ok := m.get(&keys[i]); !ok || v != i || !seen[i] {
			t.Errorf("key %d: get %d %v, yielded %v", i, v, ok, seen[i])
		}
		m.del(&keys[i])
		if _, ok := m.get(&keys[i]); ok {
			t.Errorf("key %d still held after del", i)
		}
	}
	if m.len() != 0 {
		t.Errorf("%d keys left", m.len())
	}
}

// TestWarmSetPendingMemory: while the first sync's writes lag behind the
// peer's table, the pending map holds most of that table. Keyed by the
// whole Key (72 bytes with two pointers) it cost 115 bytes of heap per
// flow at 100k, more than the external cache itself; with IPv4 keys
// packed, 52.
func TestWarmSetPendingMemory(t *testing.T) {
	const n = 100_000
	w := newWarmSet()
	before := heapAlloc()
	for i := range n {
		w.changed(warmKeyN(i), warmT0)
	}
	per := float64(int64(heapAlloc())-int64(before)) / n
	runtime.KeepAlive(w)
	t.Logf("%.1f bytes of heap per pending IPv4 key", per)
	if w.pending.len() != n {
		t.Fatalf("%d pending, want %d", w.pending.len(), n)
	}
	if per > 60 {
		t.Errorf("%.1f bytes of heap per pending IPv4 key, want at most 60", per)
	}
}

// TestRelatedLast: the keys of related flows move after every other key,
// each part in its order; keys the cache does not hold (deletions) stay
// with the others; the count is of the keys the cache holds.
func TestRelatedLast(t *testing.T) {
	c := NewCache()
	plain := SampleFlows(6) // IPv4 records and, at index 3, an IPv6 flow
	ftp, _ := SampleFTP(2)  // compact entries (helper), not related
	rel := SampleFTPData(ftp)
	for _, f := range slices.Concat(plain, ftp, rel) {
		c.Put(f, warmT0)
	}
	gone := warmKeyN(9999) // not in the cache: a deletion
	order := []Key{rel[1].Key(), plain[0].Key(), ftp[0].Key(), gone, rel[0].Key(), plain[3].Key(), ftp[1].Key(), plain[1].Key()}
	keys := make([]dirtyKey, len(order))
	for i, k := range order {
		keys[i] = dirtyKey{k: k, ver: uint32(i + 1)}
	}
	held := c.relatedLast(keys)
	want := []Key{plain[0].Key(), ftp[0].Key(), gone, plain[3].Key(), ftp[1].Key(), plain[1].Key(), rel[1].Key(), rel[0].Key()}
	for i := range want {
		if keys[i].k != want[i] {
			t.Errorf("position %d: %+v, want %+v", i, keys[i].k, want[i])
		}
		if j := slices.Index(order, keys[i].k); j < 0 || keys[i].ver != uint32(j+1) {
			t.Errorf("position %d: version %d moved apart from its key", i, keys[i].ver)
		}
	}
	if held != len(order)-1 {
		t.Errorf("held %d, want %d", held, len(order)-1)
	}
}
