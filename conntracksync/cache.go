package conntracksync

import (
	"sync"
	"time"
)

// Entry is a cached flow and the time its state last changed in the cache.
type Entry struct {
	Flow    Flow
	Updated time.Time
	gen     uint32 // the dump generation that last saw the entry
}

// Cache is a table of flows keyed by original tuple and zone. It is safe for
// concurrent use; mu guards entries.
type Cache struct {
	mu      sync.Mutex
	entries map[Key]*Entry
	gen     uint32
}

// NewCache returns an empty cache.
func NewCache() *Cache { return &Cache{entries: make(map[Key]*Entry)} }

// Put inserts or replaces f, stamped with now. It reports whether the
// replicated state changed (a new key, or any field but TimeoutSec).
func (c *Cache) Put(f Flow, now time.Time) (changed bool) {
	f.ensureReply()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.putLocked(f, now)
}

func (c *Cache) putLocked(f Flow, now time.Time) bool {
	k := f.Key()
	if e, ok := c.entries[k]; ok {
		changed := !e.Flow.Equal(&f)
		e.Flow = f
		e.Updated = now
		e.gen = c.gen
		return changed
	}
	c.entries[k] = &Entry{Flow: f, Updated: now, gen: c.gen}
	return true
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
			removed = append(removed, e.Flow)
			delete(c.entries, k)
		}
	}
	return removed
}

// Apply puts and deletes a batch of flows under one lock: del[i] true
// removes flows[i] by key, false puts it stamped with now.
func (c *Cache) Apply(flows []Flow, del []bool, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range flows {
		if del[i] {
			delete(c.entries, flows[i].Key())
			continue
		}
		flows[i].ensureReply()
		c.putLocked(flows[i], now)
	}
}

// Range calls fn with every entry under the cache's lock, which fn must
// not take again; fn must not keep e.
func (c *Cache) Range(fn func(e *Entry)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.entries {
		fn(e)
	}
}

// Delete removes the flow with key k and returns it.
func (c *Cache) Delete(k Key) (Flow, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok {
		return Flow{}, false
	}
	delete(c.entries, k)
	return e.Flow, true
}

// Get returns the entry with key k.
func (c *Cache) Get(k Key) (Entry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok {
		return Entry{}, false
	}
	return *e, true
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
		out = append(out, *e)
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
