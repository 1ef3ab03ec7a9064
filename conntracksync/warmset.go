package conntracksync

import (
	"context"
	"time"
)

// The warm standby's pure parts: its tuning, the dirty set (warmSet), the
// kernel side it needs (WarmKernel), its counters, and the cache
// operations it uses. The Replicator's shell around them is warm.go.

// Warm standby tuning: the longest a change waits for companions, and the
// most entries one write takes (the kernel side batches them per datagram).
const (
	warmDelay    = 2 * time.Millisecond
	warmMaxWrite = 4096
	// warmBatch pending changes are written at once, without the delay.
	warmBatch = 512
	// warmRetry is the pause after the kernel side failed (no socket).
	warmRetry = time.Second
	// warmLogEvery is the least time between two logs of refused writes.
	warmLogEvery = 10 * time.Second
	// warmShrinkMin is the least size of a dirty-set map that is rebuilt
	// smaller once it has drained (shrink).
	warmShrinkMin = 1024
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
}

// warmSet is the dirty set: a pure core without locks, clocks or I/O
// (the Replicator guards it with its warmMu and passes the time in).
type warmSet struct {
	pending map[Key]uint64 // key → version of its latest change
	lost    map[Key]struct{}
	ver     uint64
	since   time.Time // when the oldest pending change came, zero when none
	master  bool      // no background writes: the node holds MASTER
	st      WarmStats
	// pendPeak and lostPeak are the most keys each map has held since it
	// was made: a Go map keeps the room of its largest size (shrink).
	pendPeak, lostPeak int
}

func newWarmSet() *warmSet {
	return &warmSet{pending: map[Key]uint64{}, lost: map[Key]struct{}{}}
}

// changed records a change of the peer's flow k (put or delete) at now.
func (w *warmSet) changed(k Key, now time.Time) {
	w.ver++
	if len(w.pending) == 0 {
		w.since = now
	}
	w.pending[k] = w.ver
	w.pendPeak = max(w.pendPeak, len(w.pending))
	delete(w.lost, k)
}

// gone records that the kernel destroyed the peer's flow k by itself:
// unless a change of it is pending (its write will create it again), it
// is lost.
func (w *warmSet) gone(k Key) {
	if _, ok := w.pending[k]; ok {
		return
	}
	if _, ok := w.lost[k]; !ok {
		w.lost[k] = struct{}{}
		w.lostPeak = max(w.lostPeak, len(w.lost))
		w.st.Lost++
	}
}

// due returns when the background writer should write next: now when a
// batch is full, the oldest change's time plus warmDelay otherwise; ok is
// false when there is nothing to write (or the node holds MASTER).
func (w *warmSet) due() (at time.Time, ok bool) {
	if w.master || len(w.pending) == 0 {
		return time.Time{}, false
	}
	if len(w.pending) >= warmBatch {
		return w.since, true
	}
	return w.since.Add(warmDelay), true
}

// dirtyKey is a key taken for a write and the version it had then.
type dirtyKey struct {
	k   Key
	ver uint64 // 0: a lost key
}

// take appends up to max pending keys (all dirty keys, lost ones
// included, with all set) to out, which it returns; they stay in the set
// until done.
func (w *warmSet) take(out []dirtyKey, max int, all bool) []dirtyKey {
	if out == nil {
		out = make([]dirtyKey, 0, min(max, len(w.pending)+len(w.lost)))
	}
	for k, v := range w.pending {
		if len(out) == max {
			return out
		}
		out = append(out, dirtyKey{k, v})
	}
	if all {
		for k := range w.lost {
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
	for i, d := range keys {
		if v, p := w.pending[d.k]; p && v != d.ver {
			continue // changed again: pending still
		}
		switch {
		case ok[i]:
			delete(w.pending, d.k)
			delete(w.lost, d.k)
		case refused:
			delete(w.pending, d.k)
			w.lost[d.k] = struct{}{}
		}
	}
	w.lostPeak = max(w.lostPeak, len(w.lost))
	w.pending = shrink(w.pending, &w.pendPeak)
	w.lost = shrink(w.lost, &w.lostPeak)
	w.since = now
}

// shrink returns m, or a copy of it made for its present size when m has
// drained to an eighth of the most it held (peak, then reset): a Go map
// never gives back the room of its largest size, and every iteration
// (take) visits all of that room. After the first sync of a large table
// the pending map would otherwise stay the table's size on the standby,
// and every later take and the takeover's would walk it for a handful of
// keys. The copy's cost is paid by the deletions that drained the map.
func shrink[V any](m map[Key]V, peak *int) map[Key]V {
	if *peak < warmShrinkMin || len(m) > *peak/8 {
		return m
	}
	n := make(map[Key]V, len(m))
	for k, v := range m {
		n[k] = v
	}
	*peak = len(n)
	return n
}

// clear forgets every dirty key (the external cache was flushed).
func (w *warmSet) clear() {
	w.pending, w.lost = map[Key]uint64{}, map[Key]struct{}{}
	w.pendPeak, w.lostPeak = 0, 0
	w.since = time.Time{}
}

// stats returns the counters with the gauges.
func (w *warmSet) stats() WarmStats {
	s := w.st
	s.Standby, s.On = true, !w.master
	s.Pending, s.LostNow = len(w.pending), len(w.lost)
	return s
}

// Has reports whether the cache holds a flow with key k.
func (c *Cache) Has(k *Key) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if k4, is4 := key4Of(k); is4 {
		if _, ok := c.v4[k4]; ok {
			return true
		}
	}
	if len(c.entries) == 0 {
		return false
	}
	_, ok := c.entries[keyOf(k)]
	return ok
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
	out := &Cache{v4: c.v4, entries: c.entries}
	c.v4, c.entries = make(map[ckey4]rec4), make(map[ckey]centry)
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
