package conntracksync

import (
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

// Cache is a table of flows keyed by original tuple and zone. It is safe for
// concurrent use; mu guards the fields below it.
type Cache struct {
	mu      sync.Mutex
	entries map[ckey]centry
	gen     uint32
	buf     []byte // encoding scratch
	old     Flow   // PutEvent's decoding scratch (it would escape through merge)
}

// NewCache returns an empty cache.
func NewCache() *Cache { return &Cache{entries: make(map[ckey]centry)} }

// Put inserts or replaces f, stamped with now. It reports whether the
// replicated state changed (a new key, or any field but TimeoutSec).
func (c *Cache) Put(f Flow, now time.Time) (changed bool) {
	f.ensureReply()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.putLocked(&f, now)
}

func (c *Cache) putLocked(f *Flow, now time.Time) bool {
	k := f.Key()
	ck := keyOf(&k)
	c.buf = encodeFlow(c.buf[:0], f)
	old, ok := c.entries[ck]
	if ok && old.enc == string(c.buf) {
		old.updated, old.gen = now.UnixNano(), c.gen
		c.entries[ck] = old
		return false
	}
	c.entries[ck] = centry{enc: string(c.buf), updated: now.UnixNano(), gen: c.gen}
	return !ok || !sameState(old.enc, string(c.buf))
}

// PutEvent stores f from a kernel event in one lookup: when the entry
// exists, merge completes f with the parts the event left out (it is
// given the cached flow, decoded only then). It reports whether the entry
// existed and whether its replicated state changed.
func (c *Cache) PutEvent(f *Flow, now time.Time, needOld bool, merge func(f, old *Flow)) (existed, changed bool) {
	f.ensureReply()
	k := f.Key()
	ck := keyOf(&k)
	c.mu.Lock()
	defer c.mu.Unlock()
	old, ok := c.entries[ck]
	if ok && needOld {
		decodeCompact(old.enc, &c.old)
		merge(f, &c.old)
		c.old = Flow{} // drop its references into the cache's strings
	}
	c.buf = encodeFlow(c.buf[:0], f)
	if ok && old.enc == string(c.buf) {
		old.updated, old.gen = now.UnixNano(), c.gen
		c.entries[ck] = old
		return true, false
	}
	c.entries[ck] = centry{enc: string(c.buf), updated: now.UnixNano(), gen: c.gen}
	return ok, !ok || !sameState(old.enc, string(c.buf))
}

func (e centry) entry() Entry {
	var out Entry
	decodeCompact(e.enc, &out.Flow)
	out.Updated = time.Unix(0, e.updated)
	return out
}

// Apply puts and deletes a batch of flows under one lock: del[i] true
// removes flows[i] by key, false puts it stamped with now.
func (c *Cache) Apply(flows []Flow, del []bool, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range flows {
		if del[i] {
			k := flows[i].Key()
			delete(c.entries, keyOf(&k))
			continue
		}
		// No change report here: store without looking the old entry up.
		f := &flows[i]
		f.ensureReply()
		k := f.Key()
		c.buf = encodeFlow(c.buf[:0], f)
		c.entries[keyOf(&k)] = centry{enc: string(c.buf), updated: now.UnixNano(), gen: c.gen}
	}
}

// Range calls fn with every entry under the cache's lock, which fn must
// not take again; e is reused between calls.
func (c *Cache) Range(fn func(e *Entry)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var e Entry
	for _, ce := range c.entries {
		decodeCompact(ce.enc, &e.Flow)
		e.Updated = time.Unix(0, ce.updated)
		fn(&e)
	}
}

// Delete removes the flow with key k and returns it.
func (c *Cache) Delete(k Key) (Flow, bool) {
	ck := keyOf(&k)
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[ck]
	if !ok {
		return Flow{}, false
	}
	delete(c.entries, ck)
	var f Flow
	decodeCompact(e.enc, &f)
	return f, true
}

// Get returns the entry with key k.
func (c *Cache) Get(k Key) (Entry, bool) {
	ck := keyOf(&k)
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[ck]
	if !ok {
		return Entry{}, false
	}
	return e.entry(), true
}

// Len returns the number of entries.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// Snapshot returns a copy of every entry, in no particular order.
func (c *Cache) Snapshot() []Entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Entry, 0, len(c.entries))
	for _, e := range c.entries {
		out = append(out, e.entry())
	}
	return out
}

// Flush removes every entry and returns how many there were.
func (c *Cache) Flush() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.entries)
	clear(c.entries)
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
	for k, e := range c.entries {
		if e.gen != c.gen {
			var f Flow
			decodeCompact(e.enc, &f)
			removed = append(removed, f)
			delete(c.entries, k)
		}
	}
	return removed
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
