package conntracksync

import (
	"context"
	"time"

	"github.com/vigil-ha/vigil/conntracksync/ftfw"
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

// warmBuffers are one write's buffers (warmApply), reused from write to
// write: an Entry is 304 bytes and holds pointers, so fresh buffers for
// every batch of up to warmMaxWrite keys were most of what the standby
// allocated while the peer's table arrived (the collector's headroom over
// them set its peak), and their pages are zeroed before use. Every write
// takes at most warmMaxWrite keys, the takeover's too (commitWarm), so
// the buffers never grow beyond that.
type warmBuffers struct {
	keys       []dirtyKey
	entries    []Entry
	eIdx, dIdx []int
	dels       []Key
	res        []bool
}

// warmLookup splits keys into the entries the external cache holds (to
// write) and the keys it no longer has (to delete), in b; b's idx map
// each back.
func (r *Replicator) warmLookup(keys []dirtyKey, b *warmBuffers) {
	for i := range keys {
		if e, ok := r.external.Get(keys[i].k); ok {
			b.entries = append(b.entries, e)
			b.eIdx = append(b.eIdx, i)
		} else {
			b.dels = append(b.dels, keys[i].k)
			b.dIdx = append(b.dIdx, i)
		}
	}
}

// warmApply writes keys (taken from the dirty set, at most warmMaxWrite)
// into the kernel and records the outcome; it returns the kernel side's
// stats and error, and the outcome per key (valid until the next
// warmApply). Called with commitMu held.
func (r *Replicator) warmApply(ctx context.Context, keys []dirtyKey, now time.Time) (CommitStats, []bool, error) {
	b := &r.warmBuf
	b.entries, b.eIdx, b.dels, b.dIdx = b.entries[:0], b.eIdx[:0], b.dels[:0], b.dIdx[:0]
	r.warmLookup(keys, b)
	st, ok, err := r.warmKernel.Write(ctx, b.entries, b.dels, now, r.cfg.CommitTimeout)
	if ok == nil {
		return st, nil, err
	}
	res := b.res[:0]
	if cap(res) < len(keys) {
		res = make([]bool, len(keys))
	}
	res = res[:len(keys)]
	clear(res)
	b.res = res
	for i, j := range b.eIdx {
		res[j] = ok[i]
	}
	if err == nil {
		// A deletion refused for another reason than the flow being gone
		// is counted in st.Failed; the flow is gone from the external
		// cache either way, and the takeover does not write it.
		for _, j := range b.dIdx {
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
	keys := r.warm.take(r.warmBuf.keys[:0], warmMaxWrite, false)
	r.warmBuf.keys = keys
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
// Config.WarmStandby it is only recorded, for FlushExternal.
func (r *Replicator) SetMaster(master bool) {
	r.master.Store(master)
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

// The hold. The warm writes of an earlier run stay in the kernel, and
// nothing in the kernel marks them as the peer's: a warm standby that
// starts tells them from its own connections only by the peer's table
// (isWarm). Until that is in (peerTableIn), or warmHoldMax after the
// session was established, or until the node takes MASTER, a start
// without MASTER announces none of its connections: the start-up read's,
// the kernel's events and its bulks wait. The internal cache then gives
// back what the external cache holds, and one bulk sends the rest.
const warmHoldMax = 10 * time.Second

// holdEnds reports whether the hold ends at now; loop goroutine only.
func (r *Replicator) holdEnds(ch *ftfw.Channel, now time.Time) bool {
	if r.master.Load() || r.peerTableIn(ch, now) {
		return true
	}
	return !r.establishedAt.IsZero() && now.Sub(r.establishedAt) >= warmHoldMax
}

// endHold ends the hold: the internal cache gives back the connections
// the external cache holds (unless the node holds MASTER: then its table
// is its own), and a bulk sends the peer the rest. Loop goroutine only.
func (r *Replicator) endHold(ch *ftfw.Channel) {
	r.holding = false
	n := 0
	if !r.master.Load() {
		// The internal cache's lock, then the external's: nothing takes
		// them the other way round.
		n = r.internal.deleteWhere(r.external.Has)
	}
	r.warmMu.Lock()
	r.warm.st.Holding = false
	r.warm.st.Retracted += uint64(n)
	r.warmMu.Unlock()
	r.log.Info("conntrack sync: the peer's table is in: sending ours", "peers_taken_back", n, "ours", r.internal.Len())
	ch.RequestBulk()
}

// retractPeers applies the hold's rule to the peer's flows (puts and
// deletions) just received while the node does not hold MASTER: one the
// internal cache holds is the peer's, and leaves it. Nothing goes to the
// peer: a deletion from a node without MASTER is applied to a warm peer's
// kernel. Loop goroutine only.
func (r *Replicator) retractPeers(flows []Flow) {
	if r.master.Load() || r.internal.Len() == 0 {
		return
	}
	n := 0
	for i := range flows {
		if _, ok := r.internal.Delete(flows[i].Key()); ok {
			n++
		}
	}
	if n > 0 {
		r.warmMu.Lock()
		r.warm.st.Retracted += uint64(n)
		r.warmMu.Unlock()
	}
}

// withhold reports whether an announcement of w must not be sent: a warm
// standby sends none of its own while holding, and none of the peer's
// connections (the external cache holds it) while it does not hold
// MASTER. It may run under the internal cache's lock (a bulk), so the
// caller counts (countWithheld). Loop goroutine only.
func (r *Replicator) withhold(w *ftfw.Flow) bool {
	if r.warm == nil || r.master.Load() {
		return false
	}
	if r.holding {
		return true
	}
	f := fromWire(w)
	k := f.Key()
	return r.external.Has(&k)
}

// countWithheld adds n announcements not sent to the warm stats.
func (r *Replicator) countWithheld(n int) {
	if n == 0 {
		return
	}
	r.warmMu.Lock()
	r.warm.st.Withheld += uint64(n)
	r.warmMu.Unlock()
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
	keys := r.warm.take(nil, int(^uint(0)>>1), true)
	r.warmMu.Unlock()
	ext := r.external.Len()
	// Related flows after every other key: the kernel takes a related
	// flow only once its master is there, and the keys are written in
	// chunks (Write orders masters first only within one call).
	inExt := r.external.relatedLast(keys)
	// In chunks of warmMaxWrite through the background writer's buffers:
	// the takeover allocates nothing for its write. Fresh buffers for the
	// 4,000 lost flows of a 1M-flow table made the takeover's commit
	// 51-56 ms where the reused ones took 27-42 (ct-bench -warm-only).
	for rest := keys; len(rest) > 0; {
		n := min(len(rest), warmMaxWrite)
		cst, res, cerr := r.warmApply(ctx, rest[:n], now)
		st.Add(cst)
		if cerr != nil {
			if res == nil && len(rest) == len(keys) {
				// Nothing written: the kernel side could not start.
				st.Entries = ext
				return st, true, cerr
			}
			err = cerr
			break
		}
		rest = rest[n:]
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
	// The dirty keys' flows are not in the kernel as the peer holds them:
	// they are not moved. clear below makes new maps, so these stay as
	// they are now.
	dirtyPending, dirtyLost := r.warm.pending, r.warm.lost
	var pending []dirtyKey
	if !master {
		pending = r.warm.take(nil, int(^uint(0)>>1), false)
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
			r.internal.mergeFrom(taken, func(k *Key) bool {
				_, p := dirtyPending.get(k)
				_, l := dirtyLost.get(k)
				return p || l
			})
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
