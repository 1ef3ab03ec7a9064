package conntracksync

import (
	"context"
	"time"
)

// The warm standby's pure parts: its tuning, the dirty set (warmSet), the
// kernel side it needs (WarmKernel), its counters, and the cache
// operations it uses. The Replicator's shell around them is warm.go.

// Warm standby tuning: the longest a change waits for companions, and the
// most entries one background write takes (the kernel side batches them
// per datagram). The write's buffers are kept for the next one, so their
// size is resident for good: 1,024 entries are 0.3 MB. With 4,096 the
// standby's peak RSS with 10k flows was 17.9-18.5 MB against 13.8, and
// its CPU per flow 9.5-10.0 µs against 6.0-6.6 (ct-bench -warm-only, two
// alternating pairs); at 100k and 1M the write time did not grow.
const (
	warmDelay    = 2 * time.Millisecond
	warmMaxWrite = 1024
	// warmBatch pending changes are written at once, without the delay.
	warmBatch = 512
	// warmRetry is the pause after the kernel side failed (no socket).
	warmRetry = time.Second
	// warmLogEvery is the least time between two logs of refused writes.
	warmLogEvery = 10 * time.Second
)

// WarmKernel is a Kernel that can also keep the peer's flows in the table
// as they arrive (Config.WarmStandby).
type WarmKernel interface {
	Kernel
	// Write writes entries into the kernel table (masters before related
	// flows, EEXIST updated in place, timeouts of CommitTimeoutSec) and
	// deletes the flows keyed dels (one already gone is no failure),
	// without the pause of the event socket that Commit makes: the events
	// it causes carry our port id and are never reported. ok[i] tells
	// whether entries[i] is in the table now (nil when err kept it from
	// writing anything); st counts the creates, updates and refusals of
	// entries, and refusals of deletions in Failed too.
	Write(ctx context.Context, entries []Entry, dels []Key, now time.Time, commitTimeout time.Duration) (st CommitStats, ok []bool, err error)
}

// WarmStats counts the warm standby's work (Config.WarmStandby).
type WarmStats struct {
	// Standby is true when the warm standby is configured.
	Standby bool `json:"standby"`
	// On is true while the peer's flows are written as they arrive (the
	// node does not hold MASTER).
	On bool `json:"on"`
	// Written counts entries written into the kernel by the background
	// writer, Deleted the peer's deletions applied to it, Failed the
	// entries or deletions the kernel refused (they stay dirty: the
	// takeover tries them again), Batches the writes, WriteErrors the
	// writes the kernel side could not make at all.
	Written     uint64 `json:"written"`
	Deleted     uint64 `json:"deleted"`
	Failed      uint64 `json:"failed"`
	Batches     uint64 `json:"batches"`
	WriteErrors uint64 `json:"write_errors"`
	// Lost counts the peer's flows our kernel destroyed (expired) while
	// the peer held them; the takeover writes them again.
	Lost uint64 `json:"lost"`
	// WriteTime is the time spent in the background writes: the backup's
	// cost of the warm standby (most of it the kernel's own work).
	WriteTime time.Duration `json:"write_time"`
	// Pending and LostNow are the dirty set now: keys waiting for the
	// background writer, and keys the takeover will write again.
	Pending int `json:"pending"`
	LostNow int `json:"lost_now"`
	// LastCommitDirty and LastCommitWarm are the latest commit's dirty
	// set (what it wrote) and the entries that were already warm.
	LastCommitDirty int `json:"last_commit_dirty"`
	LastCommitWarm  int `json:"last_commit_warm"`
	// Holding is true from a start without MASTER until the peer's table
	// is in: meanwhile none of our connections is announced, since the
	// warm writes of the run before are in the kernel and only the peer's
	// table tells them from ours (see Replicator.endHold). Retracted
	// counts the peer's connections that the internal cache had taken for
	// ours and gave back; Withheld our announcements not sent (all of them
	// while holding, then those of the peer's connections).
	Holding   bool   `json:"holding"`
	Retracted uint64 `json:"retracted"`
	Withheld  uint64 `json:"withheld"`
}

// warmSet is the dirty set: a pure core without locks, clocks or I/O
// (the Replicator guards it with its warmMu and passes the time in).
type warmSet struct {
	pending keyMap[uint32] // key → version of its latest change
	lost    keyMap[struct{}]
	// ver is the latest change's version. It is 32 bits (a pending key's
	// map slot is 24 bytes rather than 32) and wraps, skipping 0: versions
	// are only compared for equality between a key's take and its done,
	// and a write does not last the 2^32 changes a false match would take.
	ver    uint32
	since  time.Time // when the oldest pending change came, zero when none
	master bool      // no background writes: the node holds MASTER
	st     WarmStats
}

func newWarmSet() *warmSet {
	return &warmSet{pending: newKeyMap[uint32](), lost: newKeyMap[struct{}]()}
}

// changed records a change of the peer's flow k (put or delete) at now.
func (w *warmSet) changed(k Key, now time.Time) {
	w.ver++
	if w.ver == 0 {
		w.ver = 1 // 0 is a lost key's (dirtyKey)
	}
	if w.pending.len() == 0 {
		w.since = now
	}
	w.pending.set(&k, w.ver)
	w.lost.del(&k)
}

// gone records that the kernel destroyed the peer's flow k by itself:
// unless a change of it is pending (its write will create it again), it
// is lost.
func (w *warmSet) gone(k Key) {
	if _, ok := w.pending.get(&k); ok {
		return
	}
	if _, ok := w.lost.get(&k); !ok {
		w.lost.set(&k, struct{}{})
		w.st.Lost++
	}
}

// due returns when the background writer should write next: now when a
// batch is full, the oldest change's time plus warmDelay otherwise; ok is
// false when there is nothing to write (or the node holds MASTER).
func (w *warmSet) due() (at time.Time, ok bool) {
	if w.master || w.pending.len() == 0 {
		return time.Time{}, false
	}
	if w.pending.len() >= warmBatch {
		return w.since, true
	}
	return w.since.Add(warmDelay), true
}

// dirtyKey is a key taken for a write and the version it had then.
type dirtyKey struct {
	k   Key
	ver uint32 // 0: a lost key
}

// take appends up to max pending keys (all dirty keys, lost ones
// included, with all set) to out, which it returns; they stay in the set
// until done.
func (w *warmSet) take(out []dirtyKey, max int, all bool) []dirtyKey {
	if out == nil {
		out = make([]dirtyKey, 0, min(max, w.pending.len()+w.lost.len()))
	}
	for k, v := range w.pending.all {
		if len(out) == max {
			return out
		}
		out = append(out, dirtyKey{k, v})
	}
	if all {
		for k := range w.lost.all {
			out = append(out, dirtyKey{k: k})
		}
	}
	return out
}

// done records the outcome of writing keys: ok[i] the write of keys[i]
// succeeded. A key written successfully leaves the set unless it changed
// again meanwhile; with refused, one that was not is lost (the kernel
// refused it: the takeover tries it again, the background writer does
// not); without (the write broke off), it stays as it was. now restarts
// the delay of what is still pending.
func (w *warmSet) done(keys []dirtyKey, ok []bool, refused bool, now time.Time) {
	for i := range keys {
		d := &keys[i]
		if v, p := w.pending.get(&d.k); p && v != d.ver {
			continue // changed again: pending still
		}
		switch {
		case ok[i]:
			w.pending.del(&d.k)
			w.lost.del(&d.k)
		case refused:
			w.pending.del(&d.k)
			w.lost.set(&d.k, struct{}{})
		}
	}
	w.pending.shrink()
	w.lost.shrink()
	w.since = now
}

// clear forgets every dirty key (the external cache was flushed).
func (w *warmSet) clear() {
	w.pending, w.lost = newKeyMap[uint32](), newKeyMap[struct{}]()
	w.since = time.Time{}
}

// stats returns the counters with the gauges.
func (w *warmSet) stats() WarmStats {
	s := w.st
	s.Standby, s.On = true, !w.master
	s.Pending, s.LostNow = w.pending.len(), w.lost.len()
	return s
}

// keyMap is the dirty set's map from a flow's Key to V. An IPv4 key is
// held packed (ckey4: 20 bytes without pointers, where a Key is 72 bytes
// with two, its addresses' zones), every other key as it is. While the
// first sync's writes lag behind the peer's table the pending map holds
// most of that table: keyed by Key, its slots of 80 bytes were the
// standby's largest structure, larger than the external cache itself,
// and the collector scanned them all on every cycle.
type keyMap[V any] struct {
	v4   map[ckey4]V
	rest map[Key]V
	// peak is the most keys the maps have held since they were made: a
	// Go map keeps the room of its largest size (shrink).
	peak int
}

func newKeyMap[V any]() keyMap[V] { return keyMap[V]{v4: map[ckey4]V{}, rest: map[Key]V{}} }

func (m *keyMap[V]) len() int { return len(m.v4) + len(m.rest) }

func (m *keyMap[V]) get(k *Key) (V, bool) {
	if c, ok := key4Of(k); ok {
		v, ok := m.v4[c]
		return v, ok
	}
	v, ok := m.rest[*k]
	return v, ok
}

func (m *keyMap[V]) set(k *Key, v V) {
	if c, ok := key4Of(k); ok {
		m.v4[c] = v
	} else {
		m.rest[*k] = v
	}
	m.peak = max(m.peak, m.len())
}

func (m *keyMap[V]) del(k *Key) {
	if c, ok := key4Of(k); ok {
		delete(m.v4, c)
	} else {
		delete(m.rest, *k)
	}
}

// all yields every key and its value (range over it).
func (m *keyMap[V]) all(yield func(Key, V) bool) {
	for c, v := range m.v4 {
		t, zone := c.orig()
		if !yield(Key{Orig: t, Zone: zone}, v) {
			return
		}
	}
	for k, v := range m.rest {
		if !yield(k, v) {
			return
		}
	}
}

// shrink rebuilds the maps for their present size once they have drained
// to an eighth of the most they held: a Go map never gives back the room
// of its largest size, and every iteration (take) visits all of that
// room. After the first sync of a large table the pending map would
// otherwise stay the table's size on the standby, and every later take
// and the takeover's would walk it for a handful of keys. The copy's cost
// is paid by the deletions that drained the maps.
func (m *keyMap[V]) shrink() {
	if m.peak < mapShrinkMin || m.len() > m.peak/8 {
		return
	}
	m.v4, m.rest = rebuilt(m.v4), rebuilt(m.rest)
	m.peak = m.len()
}

// Has reports whether the cache holds a flow with key k.
func (c *Cache) Has(k *Key) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if k4, is4 := key4Of(k); is4 {
		if _, ok := c.v4[k4]; ok {
			return true
		}
		if c.entries4 == 0 {
			return false
		}
	}
	if len(c.entries) == 0 {
		return false
	}
	_, ok := c.entries[keyOf(k)]
	return ok
}

// relatedLast moves the keys of related flows (Flow.Related) after every
// other key, keeping each part's order, and returns how many keys the
// cache holds. A plain IPv4 flow (v4) is never related.
func (c *Cache) relatedLast(keys []dirtyKey) (held int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var rel []dirtyKey
	var f Flow
	j := 0
	for _, d := range keys {
		isRel := false
		if k4, is4 := key4Of(&d.k); is4 {
			if _, ok := c.v4[k4]; ok {
				held++
				keys[j] = d
				j++
				continue
			}
		}
		if ce, ok := c.entries[keyOf(&d.k)]; ok {
			held++
			decodeCompact(ce.enc, &f)
			isRel = f.Related()
		}
		if isRel {
			rel = append(rel, d)
		} else {
			keys[j] = d
			j++
		}
	}
	copy(keys[j:], rel)
	return held
}

// Keys returns the keys of every entry.
func (c *Cache) Keys() []Key {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Key, 0, len(c.v4)+len(c.entries))
	var f Flow
	for k, r := range c.v4 {
		r.flow(&k, &f)
		out = append(out, f.Key())
	}
	for _, ce := range c.entries {
		decodeCompact(ce.enc, &f)
		out = append(out, f.Key())
	}
	return out
}

// takeAll moves every entry of c into a new cache, which it returns, and
// leaves c empty: no entry is copied.
func (c *Cache) takeAll() *Cache {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := &Cache{v4: c.v4, entries: c.entries, entries4: c.entries4}
	c.v4, c.entries, c.peak, c.entries4 = make(map[ckey4]rec4), make(map[ckey]centry), 0, 0
	return out
}

// mergeFrom puts every entry of o whose key skip does not name into c,
// each with its own update time. o must not be used by anyone else.
func (c *Cache) mergeFrom(o *Cache, skip func(k *Key) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var f Flow
	for k, r := range o.v4 {
		r.flow(&k, &f)
		if key := f.Key(); !skip(&key) {
			c.storeLocked(&f, r.updated.ns())
		}
	}
	for _, ce := range o.entries {
		decodeCompact(ce.enc, &f)
		if key := f.Key(); !skip(&key) {
			c.storeLocked(&f, ce.updated)
		}
	}
}
