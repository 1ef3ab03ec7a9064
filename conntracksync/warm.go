package conntracksync

import (
	"context"
	"time"
)

// The warm standby (Config.WarmStandby): while this node does not hold
// MASTER, the peer's flows are written into the local kernel table as
// they arrive, in small batches, so that a takeover writes only what
// changed since the last batch and what the kernel lost in between.
//
// The bookkeeping is the dirty set (warmSet, a pure core): every key of
// the external cache whose kernel entry may differ from it. A key is
// pending when the peer changed or deleted it since its last successful
// write (the background writer writes those), and lost when the kernel
// no longer has it though the peer does: it expired here (FTFW carries
// state changes, not the timeout refreshes of every packet, so a UDP
// flow or a TCP flow in a short-timeout state expires on the backup while
// it lives on the master), or the kernel refused it. Lost keys are not
// written again in the background (an idle flow would be written once per
// timeout, forever): the takeover writes them, and a new change from the
// peer makes them pending again.
//
// The kernel's events for our own writes carry our netlink port id and
// are skipped by the kernel side; the peer's flows are kept out of the
// internal cache (Table.Warm) so that neither those events nor a re-dump
// ever announce them back to the peer, and a DESTROY caused by the
// kernel (an expiry) of one of them marks it lost (Table.WarmGone).

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

// take returns up to max pending keys (all dirty keys, lost ones included,
// with all set), which stay in the set until done.
func (w *warmSet) take(max int, all bool) []dirtyKey {
	out := make([]dirtyKey, 0, min(max, len(w.pending)+len(w.lost)))
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
	w.since = now
}

// clear forgets every dirty key (the external cache was flushed).
func (w *warmSet) clear() {
	clear(w.pending)
	clear(w.lost)
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
			c.storeLocked(&f, r.updated)
		}
	}
	for _, ce := range o.entries {
		decodeCompact(ce.enc, &f)
		if key := f.Key(); !skip(&key) {
			c.storeLocked(&f, ce.updated)
		}
	}
}

// runWarm is the warm standby's background writer: it writes the pending
// changes in batches while the node does not hold MASTER. Stopped by Run.
func (r *Replicator) runWarm(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		r.warmMu.Lock()
		at, ok := r.warm.due()
		r.warmMu.Unlock()
		wait := time.Hour
		if ok {
			wait = time.Until(at)
		}
		if wait <= 0 {
			if err := r.warmWrite(ctx); err != nil {
				if ctx.Err() != nil {
					return
				}
				r.log.Warn("conntrack sync: warm standby: cannot write the peer's flows into the kernel; retrying", "err", err, "retry", warmRetry)
				wait = warmRetry
			} else {
				continue
			}
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-r.warmKick:
		case <-timer.C:
		}
	}
}

// warmLookup splits keys into the entries the external cache holds (to
// write) and the keys it no longer has (to delete); idx maps each back.
func (r *Replicator) warmLookup(keys []dirtyKey) (entries []Entry, eIdx []int, dels []Key, dIdx []int) {
	for i := range keys {
		if e, ok := r.external.Get(keys[i].k); ok {
			entries = append(entries, e)
			eIdx = append(eIdx, i)
		} else {
			dels = append(dels, keys[i].k)
			dIdx = append(dIdx, i)
		}
	}
	return entries, eIdx, dels, dIdx
}

// warmApply writes keys (taken from the dirty set) into the kernel and
// records the outcome; it returns the kernel side's stats and error.
// Called with commitMu held.
func (r *Replicator) warmApply(ctx context.Context, keys []dirtyKey, now time.Time) (CommitStats, []bool, error) {
	entries, eIdx, dels, dIdx := r.warmLookup(keys)
	st, ok, err := r.warmKernel.Write(ctx, entries, dels, now, r.cfg.CommitTimeout)
	if ok == nil {
		return st, nil, err
	}
	res := make([]bool, len(keys))
	for i, j := range eIdx {
		res[j] = ok[i]
	}
	if err == nil {
		// A deletion refused for another reason than the flow being gone
		// is counted in st.Failed; the flow is gone from the external
		// cache either way, and the takeover does not write it.
		for _, j := range dIdx {
			res[j] = true
		}
	}
	r.warmMu.Lock()
	r.warm.done(keys, res, err == nil, time.Now())
	r.warmMu.Unlock()
	return st, res, err
}

// warmWrite writes one batch of pending changes.
func (r *Replicator) warmWrite(ctx context.Context) error {
	r.commitMu.Lock()
	defer r.commitMu.Unlock()
	r.warmMu.Lock()
	if r.warm.master {
		r.warmMu.Unlock()
		return nil
	}
	keys := r.warm.take(warmMaxWrite, false)
	r.warmMu.Unlock()
	if len(keys) == 0 {
		return nil
	}
	start := time.Now()
	st, res, err := r.warmApply(ctx, keys, start)
	took := time.Since(start)
	r.warmMu.Lock()
	defer r.warmMu.Unlock()
	w := &r.warm.st
	w.Batches++
	w.WriteTime += took
	if res == nil {
		w.WriteErrors++
		return err
	}
	w.Written += uint64(st.Created + st.Updated + st.Replaced)
	w.Failed += uint64(st.Failed)
	if st.Failed > 0 && time.Since(r.warmLogAt) >= warmLogEvery {
		// The writer's goroutine alone reads and sets warmLogAt.
		r.warmLogAt = time.Now()
		r.log.Warn("conntrack sync: warm standby: the kernel refused some of the peer's flows; the takeover writes them again",
			"failed", st.Failed, "errors", st.Errors, "failed_total", w.Failed)
	}
	for i, d := range keys {
		if res[i] && !r.external.Has(&d.k) {
			w.Deleted++
		}
	}
	return err
}

// SetMaster tells the warm standby whether the node holds MASTER of the
// tracked group: while it does, the peer's changes are only recorded
// (Commit writes them, and the next departure from MASTER starts the
// background writes again). The Failover calls it; without
// Config.WarmStandby it does nothing.
func (r *Replicator) SetMaster(master bool) {
	if r.warm == nil {
		return
	}
	r.warmMu.Lock()
	r.warm.master = master
	r.warmMu.Unlock()
	select {
	case r.warmKick <- struct{}{}:
	default:
	}
}

// warmChanged records the peer's changes to the flows of ups (receive).
func (r *Replicator) warmChanged(flows []Flow, now time.Time) {
	r.warmMu.Lock()
	for i := range flows {
		r.warm.changed(flows[i].Key(), now)
	}
	r.warmMu.Unlock()
	select {
	case r.warmKick <- struct{}{}:
	default:
	}
}

// isWarm is Table.Warm: while the node does not hold MASTER, a flow of the
// external cache is the peer's and is kept out of the internal cache.
// When the node holds MASTER its kernel table is its own (the takeover
// made the peer's flows ours), whatever the peer sends.
func (r *Replicator) isWarm(k *Key) bool {
	r.warmMu.Lock()
	master := r.warm.master
	r.warmMu.Unlock()
	return !master && r.external.Has(k)
}

// warmGone is Table.WarmGone: the kernel destroyed one of the peer's
// flows by itself.
func (r *Replicator) warmGone(k *Key) {
	r.warmMu.Lock()
	r.warm.gone(*k)
	r.warmMu.Unlock()
}

// commitWarm is Commit with a warm standby: it writes the dirty set
// (pending changes and lost flows) and leaves the rest, already in the
// kernel, as it is. The internal cache gets the peer's flows when the
// external cache is flushed after the takeover (FlushExternal).
func (r *Replicator) commitWarm(ctx context.Context, now time.Time) (st CommitStats, done bool, err error) {
	start := time.Now()
	r.warmMu.Lock()
	keys := r.warm.take(int(^uint(0)>>1), true)
	r.warmMu.Unlock()
	ext := r.external.Len()
	inExt := 0
	for i := range keys {
		if r.external.Has(&keys[i].k) {
			inExt++
		}
	}
	if len(keys) > 0 {
		var res []bool
		if st, res, err = r.warmApply(ctx, keys, now); res == nil && err != nil {
			st.Entries = ext
			return st, true, err
		}
	}
	st.Duration = time.Since(start)
	st.Entries = ext
	// The flows of the external cache that were not dirty were in the
	// kernel already.
	st.Warm = ext - inExt
	r.warmMu.Lock()
	r.warm.st.LastCommitDirty, r.warm.st.LastCommitWarm = len(keys), st.Warm
	r.warmMu.Unlock()
	return st, false, err
}

// flushWarm is FlushExternal with a warm standby. While the node holds
// MASTER (after a takeover) the peer's flows in the kernel are ours now:
// those written move to the internal cache, in the background (a bulk
// asked for meanwhile waits for it), and the rest are dropped. Otherwise
// (an operator's flush on the backup) they are deleted from the kernel
// too, with the peer's deletions not yet applied.
func (r *Replicator) flushWarm() int {
	r.warmMu.Lock()
	master := r.warm.master
	var dirty map[Key]bool
	if master {
		dirty = make(map[Key]bool, len(r.warm.pending)+len(r.warm.lost))
		for _, d := range r.warm.take(int(^uint(0)>>1), true) {
			dirty[d.k] = true
		}
	}
	var pending []dirtyKey
	if !master {
		pending = r.warm.take(int(^uint(0)>>1), false)
	}
	r.warm.clear()
	if master {
		r.moving = true
	}
	r.warmMu.Unlock()
	if master {
		taken := r.external.takeAll()
		n := len(taken.v4) + len(taken.entries)
		r.bg.Go(func() {
			r.internal.mergeFrom(taken, func(k *Key) bool { return dirty[*k] })
			r.warmMu.Lock()
			r.moving = false
			bulk := r.bulkAfterMove
			r.bulkAfterMove = false
			r.warmMu.Unlock()
			if bulk {
				r.SendBulk()
			}
		})
		return n
	}
	r.commitMu.Lock()
	defer r.commitMu.Unlock()
	keys := r.external.Keys()
	n := r.external.Flush()
	for _, d := range pending {
		keys = append(keys, d.k)
	}
	if len(keys) == 0 {
		return n
	}
	ctx, cancel := context.WithTimeout(context.Background(), commitLate)
	defer cancel()
	st, _, err := r.warmKernel.Write(ctx, nil, keys, time.Now(), r.cfg.CommitTimeout)
	if err != nil || st.Failed > 0 {
		r.log.Warn("conntrack sync: warm standby: flushing the external cache: not every flow of the peer could be deleted from the kernel",
			"flows", len(keys), "failed", st.Failed, "errors", st.Errors, "err", err)
	}
	return n
}

// deferBulk reports whether a bulk must wait for the move of the peer's
// flows into the internal cache (flushWarm), and if so asks for it then.
func (r *Replicator) deferBulk() bool {
	if r.warm == nil {
		return false
	}
	r.warmMu.Lock()
	defer r.warmMu.Unlock()
	if r.moving {
		r.bulkAfterMove = true
	}
	return r.moving
}
