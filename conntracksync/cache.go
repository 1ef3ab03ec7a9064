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

// Cache is a table of flows keyed by original tuple and zone. It is safe for
// concurrent use; mu guards entries.
type Cache struct {
	mu      sync.Mutex
	entries map[Key]*Entry
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
		return changed
	}
	c.entries[k] = &Entry{Flow: f, Updated: now}
	return true
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
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := make(map[Key]struct{}, len(flows))
	for i := range flows {
		f := flows[i]
		f.ensureReply()
		seen[f.Key()] = struct{}{}
		if c.putLocked(f, now) {
			changed = append(changed, f)
		}
	}
	for k, e := range c.entries {
		if _, ok := seen[k]; !ok {
			removed = append(removed, e.Flow)
			delete(c.entries, k)
		}
	}
	return changed, removed
}
