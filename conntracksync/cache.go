package conntracksync

import (
	"context"
	"maps"
	"sync"
	"time"
)

// Entry is a cached flow and the time its state last changed in the cache.
type Entry struct {
	Flow    Flow
	Updated time.Time
}

// centry is how the cache stores a flow: its compact form (encodeFlow),
// the time of its last update, and the dump generation that last saw it.
type centry struct {
	enc     string
	updated int64 // Unix nanoseconds
	gen     uint32
}

// sameState reports whether two compact forms differ at most in their
// timeout (the last four bytes).
func sameState(a, b string) bool {
	return len(a) == len(b) && len(a) >= 4 && a[:len(a)-4] == b[:len(b)-4]
}

// Cache is a table of flows keyed by original tuple and zone: plain IPv4
// flows as fixed-size records (v4, see rec4), every other flow in its
// compact form (entries); a key is in at most one of the two. It is safe
// for concurrent use; mu guards the fields below it.
type Cache struct {
	mu      sync.Mutex
	v4      map[ckey4]rec4
	entries map[ckey]centry
	// entries4 counts the flows in entries whose addresses are both IPv4:
	// only those can share a key with a plain IPv4 flow (a flow that
	// changes kind moves between the maps). While it is 0, a new plain
	// IPv4 key needs no look into entries, which on a dual-stack table
	// is a second map access per new flow.
	entries4 int
	gen      uint32
	// peak is the most flows the maps have held since they were made, as
	// seen at each deletion (between deletions they only grow): a Go map
	// keeps the room of its largest size (shrinkLocked).
	peak int
	// chunking counts the Chunks walks under way: they release the lock
	// between chunks and go on over the maps they started with, so the
	// maps are not rebuilt meanwhile.
	chunking int
	buf      []byte    // encoding scratch
	packed   []packed4 // a batch's packing scratch (Apply, applyWire)
	old      Flow      // PutEvent's decoding scratch (it would escape through merge)
}

// NewCache returns an empty cache.
func NewCache() *Cache { return &Cache{v4: make(map[ckey4]rec4), entries: make(map[ckey]centry)} }

// Put inserts or replaces f, stamped with now. It reports whether the
// replicated state changed (a new key, or any field but TimeoutSec).
func (c *Cache) Put(f Flow, now time.Time) (changed bool) {
	f.ensureReply()
	c.mu.Lock()
	defer c.mu.Unlock()
	_, changed = c.storeLocked(&f, now.UnixNano())
	return changed
}

// storeLocked stores f (its Reply set), stamped with now, and reports
// whether its key was there and whether its replicated state changed.
func (c *Cache) storeLocked(f *Flow, now int64) (existed, changed bool) {
	if k4, r, ok := pack4(f); ok {
		r.updated, r.gen = stampOf(now), c.gen
		old, had := c.v4[k4]
		return c.store4Locked(f, k4, &r, &old, had)
	}
	k := f.Key()
	ck := keyOf(&k)
	c.buf = encodeFlow(c.buf[:0], f)
	old, had := c.entries[ck]
	if had && old.enc == string(c.buf) {
		old.updated, old.gen = now, c.gen
		c.entries[ck] = old
		return true, false
	}
	c.entries[ck] = centry{enc: string(c.buf), updated: now, gen: c.gen}
	if !had && ck.both4() {
		c.entries4++
	}
	if !had && len(c.v4) > 0 {
		if k4, ok := key4Of(&k); ok {
			if _, was := c.v4[k4]; was {
				delete(c.v4, k4)
				return true, true
			}
		}
	}
	return had, !had || !sameState(old.enc, string(c.buf))
}

// getLocked sets f to the flow with key k and reports whether there is
// one; f may alias the cache's strings.
func (c *Cache) getLocked(k *Key, f *Flow) (updated int64, ok bool) {
	if k4, is4 := key4Of(k); is4 {
		if r, ok := c.v4[k4]; ok {
			r.flow(&k4, f)
			return r.updated.ns(), true
		}
		if c.entries4 == 0 {
			return 0, false
		}
	}
	return c.getEntryLocked(k, f)
}

// getEntryLocked is getLocked for the flows that are not plain IPv4.
func (c *Cache) getEntryLocked(k *Key, f *Flow) (updated int64, ok bool) {
	if len(c.entries) == 0 {
		return 0, false
	}
	e, ok := c.entries[keyOf(k)]
	if !ok {
		return 0, false
	}
	decodeCompact(e.enc, f)
	return e.updated, true
}

// store4Locked stores the plain IPv4 flow f as record r (stamped) under
// k4, whose record until now was old if had; it reports as storeLocked.
func (c *Cache) store4Locked(f *Flow, k4 ckey4, r, old *rec4, had bool) (existed, changed bool) {
	c.v4[k4] = *r
	if !had && c.entries4 > 0 {
		// It may have been a flow of the other kind until now.
		k := f.Key()
		ck := keyOf(&k)
		if _, was := c.entries[ck]; was {
			c.deleteEntryLocked(ck)
			return true, true
		}
	}
	return had, !had || !sameState4(old, r)
}

// deleteLocked removes the flow with key k and reports whether there was
// one. It must not be called while the maps are ranged over: a deletion
// may rebuild them (shrinkLocked).
func (c *Cache) deleteLocked(k *Key) bool {
	c.peak = max(c.peak, len(c.v4)+len(c.entries))
	if k4, is4 := key4Of(k); is4 {
		if _, ok := c.v4[k4]; ok {
			delete(c.v4, k4)
			c.shrinkLocked()
			return true
		}
		if c.entries4 == 0 {
			return false
		}
	}
	ck := keyOf(k)
	if _, ok := c.entries[ck]; ok {
		c.deleteEntryLocked(ck)
		c.shrinkLocked()
		return true
	}
	return false
}

// deleteEntryLocked removes ck from entries, where it is.
func (c *Cache) deleteEntryLocked(ck ckey) {
	delete(c.entries, ck)
	if ck.both4() {
		c.entries4--
	}
}

// shrinkLocked rebuilds the maps for their present size once they have
// drained to an eighth of the most they held. A Go map never gives back
// the room of its largest size: a master's internal cache of 100k flows
// drains when it hands over (the flows expire from its kernel), and it
// would keep about 8 MB of empty room while its external cache fills with
// the same flows from the new master. The copy's cost is paid by the
// deletions that drained the maps.
func (c *Cache) shrinkLocked() {
	n := len(c.v4) + len(c.entries)
	if c.peak < mapShrinkMin || n > c.peak/8 || c.chunking > 0 {
		return
	}
	c.v4, c.entries = rebuilt(c.v4), rebuilt(c.entries)
	c.peak = n
}

// reserveLike makes room in c's maps for as many flows of each kind as o
// holds, when c holds an eighth of that or less: a commit of o (the
// external cache) is about to put that many into c (the internal cache),
// and a Go map grown from empty to that size copies every slot it holds
// at each doubling and leaves the old tables to the collector. The room is
// what the growth would have reached; were the flows not to come, the next
// deletions give it back (shrinkLocked). A map smaller than mapShrinkMin
// is left to grow. The new maps are made without c's lock, which the
// kernel's events wait for: making them touches all their memory.
func (c *Cache) reserveLike(o *Cache) {
	o.mu.Lock()
	n4, nc := len(o.v4), len(o.entries)
	o.mu.Unlock()
	c.mu.Lock()
	want4 := n4 >= mapShrinkMin && len(c.v4) <= n4/8
	wantc := nc >= mapShrinkMin && len(c.entries) <= nc/8
	c.mu.Unlock()
	var v4 map[ckey4]rec4
	var entries map[ckey]centry
	if want4 {
		v4 = make(map[ckey4]rec4, n4)
	}
	if wantc {
		entries = make(map[ckey]centry, nc)
	}
	if v4 == nil && entries == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.chunking > 0 {
		return
	}
	made := false
	if v4 != nil && len(c.v4) <= n4/8 {
		maps.Copy(v4, c.v4)
		c.v4, made = v4, true
	}
	if entries != nil && len(c.entries) <= nc/8 {
		maps.Copy(entries, c.entries)
		c.entries, made = entries, true
	}
	if made {
		c.peak = max(c.peak, n4+nc)
	}
}

// mapShrinkMin is the least size of a map that is rebuilt smaller once it
// has drained (keyMap.shrink, Cache.shrinkLocked): below it the room kept
// is too small to matter.
const mapShrinkMin = 1024

// rebuilt returns a copy of m made for its present size.
func rebuilt[K comparable, V any](m map[K]V) map[K]V {
	n := make(map[K]V, len(m))
	maps.Copy(n, m)
	return n
}

// PutEvent stores f from a kernel event: when needOld is set and the
// entry exists, merge first completes f with the parts the event left out
// (it is given the cached flow, decoded only then). It reports whether the entry
// existed and whether its replicated state changed.
func (c *Cache) PutEvent(f *Flow, now time.Time, needOld bool, merge func(f, old *Flow)) (existed, changed bool) {
	f.ensureReply()
	c.mu.Lock()
	defer c.mu.Unlock()
	ns := now.UnixNano()
	if !needOld {
		return c.storeLocked(f, ns)
	}
	// A plain IPv4 flow's record is looked up once, for the merge and
	// for the store: on the event path every map access is likely a
	// cache miss.
	k := f.Key()
	k4, is4 := key4Of(&k)
	var old rec4
	had := false
	if is4 {
		if old, had = c.v4[k4]; had {
			old.flow(&k4, &c.old)
			merge(f, &c.old)
		}
	}
	if !had && (!is4 || c.entries4 > 0) {
		if _, ok := c.getEntryLocked(&k, &c.old); ok {
			merge(f, &c.old)
		}
	}
	c.old = Flow{} // drop its references into the cache's strings
	if is4 {
		if pk, r, ok := pack4(f); ok && pk == k4 {
			r.updated, r.gen = stampOf(ns), c.gen
			return c.store4Locked(f, k4, &r, &old, had)
		}
	}
	return c.storeLocked(f, ns)
}

// Apply puts and deletes a batch of flows under one lock: del[i] true
// removes flows[i] by key, false puts it stamped with now.
func (c *Cache) Apply(flows []Flow, del []bool, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ns := now.UnixNano()
	pk := c.packBatch(len(flows))
	for i := range flows {
		if pk[i].ok = false; !del[i] {
			f := &flows[i]
			f.ensureReply()
			pk[i].k, pk[i].r, pk[i].ok = pack4(f)
			pk[i].r.updated, pk[i].r.gen = stampOf(ns), c.gen
		}
	}
	for i := range flows {
		f := &flows[i]
		switch {
		case del[i]:
			k := f.Key()
			c.deleteLocked(&k)
		case pk[i].ok:
			c.put4Locked(&pk[i])
		default:
			c.storeLocked(f, ns)
		}
	}
}

// A batch (Apply, applyWire) is applied in two passes: every plain IPv4
// flow of the batch is packed into a packed4 first, then the map is
// written in the batch's order. Packing writes the key and the record a
// few bytes at a time, and the map reads them back whole (the key's hash,
// the record's copy): done one flow at a time, each of those reads waited
// until the writes before it, the previous flow's write into a map slot
// that was not in the CPU's cache among them, had reached the cache.
// Those waits were most of the profile's time in tuple4Key, on the
// receiver of a bulk (BenchmarkBulkPipeline: about 40 ms before, 37
// after, for 100k flows on one CPU).

// packed4 is a flow of a batch as the record it is stored as.
type packed4 struct {
	k  ckey4
	r  rec4 // stamped
	ok bool // a plain IPv4 flow; false: stored or deleted otherwise
}

// packBatch returns the cache's packing scratch for a batch of n flows.
func (c *Cache) packBatch(n int) []packed4 {
	if cap(c.packed) < n {
		c.packed = make([]packed4, n)
	}
	return c.packed[:n]
}

// put4Locked stores a packed plain IPv4 flow: one map operation, and a
// second only when the key is new and flows of the other kind are kept.
func (c *Cache) put4Locked(p *packed4) {
	n := len(c.v4)
	c.v4[p.k] = p.r
	if len(c.v4) > n && c.entries4 > 0 {
		// A new key: it may have been a flow of the other kind until now.
		var k Key
		k.Orig, k.Zone = p.k.orig()
		ck := keyOf(&k)
		if _, was := c.entries[ck]; was {
			c.deleteEntryLocked(ck)
		}
	}
}

// PutEntries puts the flow of every entries[i] with ok[i] true, stamped
// with now, under one lock, without a copy of the batch.
func (c *Cache) PutEntries(entries []Entry, ok []bool, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ns := now.UnixNano()
	for i := range entries {
		if i < len(ok) && ok[i] {
			f := &entries[i].Flow
			f.ensureReply()
			c.storeLocked(f, ns)
		}
	}
}

// Range calls fn with every entry under the cache's lock, which fn must
// not take again; e is reused between calls.
func (c *Cache) Range(fn func(e *Entry)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var e Entry
	for k, r := range c.v4 {
		r.flow(&k, &e.Flow)
		e.Updated = time.Unix(0, r.updated.ns())
		fn(&e)
	}
	for _, ce := range c.entries {
		decodeCompact(ce.enc, &e.Flow)
		e.Updated = time.Unix(0, ce.updated)
		fn(&e)
	}
}

// Delete removes the flow with key k and returns it.
func (c *Cache) Delete(k Key) (Flow, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var f Flow
	if _, ok := c.getLocked(&k, &f); !ok {
		return Flow{}, false
	}
	c.deleteLocked(&k)
	return f, true
}

// Get returns the entry with key k.
func (c *Cache) Get(k Key) (Entry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var e Entry
	u, ok := c.getLocked(&k, &e.Flow)
	if !ok {
		return Entry{}, false
	}
	e.Updated = time.Unix(0, u)
	return e, true
}

// Len returns the number of entries.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.v4) + len(c.entries)
}

// Snapshot returns a copy of every entry, in no particular order.
func (c *Cache) Snapshot() []Entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	// Decoded in place: no copy of a 300-byte Entry per flow.
	out := make([]Entry, len(c.v4)+len(c.entries))
	i := 0
	for k, r := range c.v4 {
		e := &out[i]
		r.flow(&k, &e.Flow)
		e.Updated = time.Unix(0, r.updated.ns())
		i++
	}
	for _, ce := range c.entries {
		e := &out[i]
		decodeCompact(ce.enc, &e.Flow)
		e.Updated = time.Unix(0, ce.updated)
		i++
	}
	return out
}

// Chunks sends every entry on out in chunks, each filled into a buffer
// taken from bufs (up to its capacity): first every flow that is not
// related, then the related ones, so that a related flow's master comes
// first. The lock is held while a chunk is filled, not while it waits to
// be sent: an entry put or deleted meanwhile may come in its old or its
// new form, or not at all, as it would in a snapshot taken a moment
// earlier or later. A commit of the whole cache reads it so, through a
// few reused buffers: a snapshot of 100k flows (30 MB) touched that much
// fresh memory, and the kernel's zeroing of those pages was most of its
// time. Chunks stops when ctx ends; it returns how many entries it sent.
func (c *Cache) Chunks(ctx context.Context, bufs <-chan []Entry, out chan<- []Entry) (sent int) {
	var buf []Entry
	next := func() bool {
		select {
		case buf = <-bufs:
			buf = buf[:0]
			return true
		case <-ctx.Done():
			return false
		}
	}
	send := func() bool {
		if len(buf) == 0 {
			return true
		}
		select {
		case out <- buf:
			sent += len(buf)
			buf = nil
			return true
		case <-ctx.Done():
			return false
		}
	}
	if !next() {
		return 0
	}
	c.mu.Lock()
	c.chunking++
	defer func() {
		c.mu.Lock()
		c.chunking--
		c.mu.Unlock()
	}()
	ok := true
	// room makes room in buf for one more entry, with the lock released
	// while a full chunk waits to be sent; then waited is set: the flow
	// the walk read before may have changed or gone meanwhile, and is
	// read again.
	waited := false
	room := func() bool {
		if len(buf) < cap(buf) {
			return true
		}
		c.mu.Unlock()
		ok = send() && next()
		c.mu.Lock()
		waited = true
		return ok
	}
	for k, r := range c.v4 {
		if !room() {
			break
		}
		if waited {
			waited = false
			var still bool
			if r, still = c.v4[k]; !still {
				continue
			}
		}
		buf = append(buf, Entry{Updated: time.Unix(0, r.updated.ns())})
		r.flow(&k, &buf[len(buf)-1].Flow)
	}
	// The flows of the other kind, in two passes: related ones in the
	// second, made only when the first skipped some.
	skipped := 0
	for pass := range 2 {
		if pass == 1 && skipped == 0 {
			break
		}
		for ck, ce := range c.entries {
			if !ok || !room() {
				break
			}
			if waited {
				waited = false
				var still bool
				if ce, still = c.entries[ck]; !still {
					continue
				}
			}
			buf = append(buf, Entry{Updated: time.Unix(0, ce.updated)})
			e := &buf[len(buf)-1]
			decodeCompact(ce.enc, &e.Flow)
			if e.Flow.Related() != (pass == 1) {
				buf = buf[:len(buf)-1]
				skipped++
			}
		}
	}
	c.mu.Unlock()
	if ok {
		send()
	}
	return sent
}

// Flush removes every entry and returns how many there were. The maps
// keep their room: a flushed external cache on a backup is refilled by
// the resync that follows, and growing the maps again would cost that
// resync their rehashing and, where the first touch of a page is dear,
// their pages.
func (c *Cache) Flush() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.v4) + len(c.entries)
	clear(c.v4)
	clear(c.entries)
	c.entries4 = 0
	return n
}

// Release is Flush with the maps' room given back: the external cache of
// a node that took over stays empty until the peer is back, while the
// flows it held fill the internal cache.
func (c *Cache) Release() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.v4) + len(c.entries)
	c.entries4 = 0
	if c.chunking > 0 {
		// A walk goes on over these maps: it must see them empty.
		clear(c.v4)
		clear(c.entries)
		return n
	}
	c.v4, c.entries, c.peak = make(map[ckey4]rec4), make(map[ckey]centry), 0
	return n
}

// BeginDump starts a dump generation: entries put from now on are marked
// as seen; Sweep then removes those that were not.
func (c *Cache) BeginDump() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
}

// Sweep removes every entry not put since BeginDump and returns them.
func (c *Cache) Sweep() (removed []Flow) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.peak = max(c.peak, len(c.v4)+len(c.entries))
	defer c.shrinkLocked()
	for k, r := range c.v4 {
		if r.gen != c.gen {
			var f Flow
			r.flow(&k, &f)
			removed = append(removed, f)
			delete(c.v4, k)
		}
	}
	for k, e := range c.entries {
		if e.gen != c.gen {
			var f Flow
			decodeCompact(e.enc, &f)
			removed = append(removed, f)
			c.deleteEntryLocked(k)
		}
	}
	return removed
}

// deleteWhere deletes every flow whose key drop names and returns how many;
// drop runs under c's lock.
func (c *Cache) deleteWhere(drop func(k *Key) bool) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.peak = max(c.peak, len(c.v4)+len(c.entries))
	defer c.shrinkLocked()
	n := 0
	var f Flow
	for k, r := range c.v4 {
		r.flow(&k, &f)
		if key := f.Key(); drop(&key) {
			delete(c.v4, k)
			n++
		}
	}
	for k, e := range c.entries {
		decodeCompact(e.enc, &f)
		if key := f.Key(); drop(&key) {
			c.deleteEntryLocked(k)
			n++
		}
	}
	return n
}

// Replace makes the cache hold exactly flows (a fresh kernel dump). It
// returns the flows that are new or changed, and those that disappeared, so
// that the caller can announce the difference.
func (c *Cache) Replace(flows []Flow, now time.Time) (changed, removed []Flow) {
	c.BeginDump()
	for i := range flows {
		if c.Put(flows[i], now) {
			changed = append(changed, flows[i])
		}
	}
	return changed, c.Sweep()
}
