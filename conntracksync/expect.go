package conntracksync

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vigil-ha/vigil/conntracksync/ftfw"
)

// Expect is a conntrack expectation: the master connection's original
// tuple, the expected connection's tuple and mask, the helper that made it
// and the time it has left. The kernel side fills it from ctnetlink, the
// sync link carries it as package ftfw defines it: one type for both.
type Expect = ftfw.Expect

// ExpectSync says which expectations are replicated (conntrackd's
// Options { ExpectationSync on | { helper ... } }). The zero value
// replicates none.
type ExpectSync struct {
	// On enables expectation sync.
	On bool
	// Helpers lists the helper names whose expectations are replicated;
	// empty with On = all helpers (ExpectationSync on).
	Helpers []string
}

// Allows reports whether an expectation made by helper is replicated. As
// conntrackd's filter, a listed name matches any helper name it starts,
// without regard to case ("sip" takes "sip-5061" too), and an
// expectation without a helper name matches no list.
func (s *ExpectSync) Allows(helper string) bool {
	if !s.On {
		return false
	}
	if len(s.Helpers) == 0 {
		return true
	}
	return slices.ContainsFunc(s.Helpers, func(h string) bool {
		return helper != "" && len(helper) >= len(h) && strings.EqualFold(helper[:len(h)], h)
	})
}

// expectFnNATFollowMaster is the kernel's expectfn that NATs a related
// connection as its master (the FTP, IRC, TFTP and Amanda NAT helpers'
// expectations). Its 17 bytes do not fit FTFW's FN attribute (conntrackd
// drops a message whose FN is longer than 11 bytes), so it never goes on
// the wire: the receiver restores it for an expectation with NAT.
const expectFnNATFollowMaster = "nat-follow-master"

// toWireExpect is x as the peer gets it: without a timeout when the
// sender has CommitTimeout (like flows), and without an expectfn name that
// FTFW cannot carry (see fromWireExpect).
func toWireExpect(x *Expect, sendTimeout bool) Expect {
	c := *x
	if !sendTimeout {
		c.HasTimeout, c.TimeoutSecs = false, 0
	}
	if len(c.Fn) > ftfw.ExpNameMax {
		c.Fn = ""
	}
	return c
}

// fromWireExpect restores what toWireExpect left out: an expectation with
// NAT and no expectfn gets nat-follow-master, without which the kernel
// would let the related connection in untranslated.
func fromWireExpect(x *Expect) {
	if x.HasNAT && x.Fn == "" {
		x.Fn = expectFnNATFollowMaster
	}
}

// ExpectEntry is a cached expectation and the time it last changed.
type ExpectEntry struct {
	Expect  Expect
	Updated time.Time
}

// ExpectCache is a table of expectations keyed by ftfw.ExpKey (expected
// tuple and master tuple). Expectations are few (one per FTP transfer or
// SIP call being set up, for seconds), so it stores them as they are. It
// is safe for concurrent use; mu guards the fields below it.
type ExpectCache struct {
	mu      sync.Mutex
	entries map[ftfw.ExpKey]ExpectEntry
}

// NewExpectCache returns an empty cache.
func NewExpectCache() *ExpectCache {
	return &ExpectCache{entries: make(map[ftfw.ExpKey]ExpectEntry)}
}

// sameExpect reports whether two expectations differ at most in the time
// they have left.
func sameExpect(a, b *Expect) bool {
	a2, b2 := *a, *b
	a2.TimeoutSecs, b2.TimeoutSecs = 0, 0
	return a2 == b2
}

// Put inserts or replaces x, stamped with now, and reports whether the
// replicated state changed (a new key, or any field but the timeout).
func (c *ExpectCache) Put(x *Expect, now time.Time) (changed bool) {
	k := x.Key()
	c.mu.Lock()
	defer c.mu.Unlock()
	old, ok := c.entries[k]
	c.entries[k] = ExpectEntry{Expect: *x, Updated: now}
	return !ok || !sameExpect(&old.Expect, x)
}

// Delete removes the expectation with x's key and reports whether it was
// there.
func (c *ExpectCache) Delete(x *Expect) bool {
	k := x.Key()
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.entries[k]
	delete(c.entries, k)
	return ok
}

// Replace makes the cache hold exactly xs (a dump), and returns the
// expectations that were added or changed, and those that were removed.
func (c *ExpectCache) Replace(xs []Expect, now time.Time) (changed, removed []Expect) {
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := make(map[ftfw.ExpKey]bool, len(xs))
	for i := range xs {
		k := xs[i].Key()
		seen[k] = true
		old, ok := c.entries[k]
		if !ok || !sameExpect(&old.Expect, &xs[i]) {
			changed = append(changed, xs[i])
		}
		c.entries[k] = ExpectEntry{Expect: xs[i], Updated: now}
	}
	for k, e := range c.entries {
		if !seen[k] {
			removed = append(removed, e.Expect)
			delete(c.entries, k)
		}
	}
	return changed, removed
}

// Len returns the number of expectations.
func (c *ExpectCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// Snapshot returns a copy of the entries.
func (c *ExpectCache) Snapshot() []ExpectEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]ExpectEntry, 0, len(c.entries))
	for _, e := range c.entries {
		out = append(out, e)
	}
	return out
}

// Flush empties the cache and returns how many entries it held.
func (c *ExpectCache) Flush() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.entries)
	clear(c.entries)
	return n
}

// ExpectTimeoutSec is the timeout a committed expectation gets, as for
// flows (CommitTimeoutSec): CommitTimeout if set; else what the peer sent
// minus the seconds since; else DefaultExpectTimeoutSec.
func ExpectTimeoutSec(e *ExpectEntry, now time.Time, commitTimeout time.Duration) uint32 {
	if commitTimeout > 0 {
		return uint32(max(1, commitTimeout/time.Second))
	}
	if !e.Expect.HasTimeout {
		return DefaultExpectTimeoutSec
	}
	left := int64(e.Expect.TimeoutSecs)
	if !e.Updated.IsZero() {
		left -= int64(now.Sub(e.Updated) / time.Second)
	}
	return uint32(max(1, left))
}

// DefaultExpectTimeoutSec is the timeout of a committed expectation whose
// peer sent none and no CommitTimeout is set: the FTP helper's own
// expectation lifetime (nf_conntrack_ftp's 5 minutes).
const DefaultExpectTimeoutSec = 300

// ExpectStats counts the expectations' side of the replicator.
type ExpectStats struct {
	Internal int `json:"internal"` // our expectations (internal cache)
	External int `json:"external"` // the peer's (external cache)
	// Filtered counts local expectations not replicated because their
	// helper is not listed (ExpectationSync { helper ... }); Refused the
	// peer's for the same reason.
	Filtered uint64 `json:"filtered"`
	Refused  uint64 `json:"refused"`
	// Committed, NoMaster and CommitFailed add up every commit's
	// ExpectCommitStats.
	Committed    uint64 `json:"committed"`
	NoMaster     uint64 `json:"no_master"`
	CommitFailed uint64 `json:"commit_failed"`
	// LastCommit is the last commit's expectation part.
	LastCommit ExpectCommitStats `json:"last_commit"`
}

// ExpectCommitStats is what one commit did with the external cache's
// expectations, which go in after the flows (their masters).
type ExpectCommitStats struct {
	Entries   int            `json:"entries"`   // expectations in the external cache
	Committed int            `json:"committed"` // created in the kernel
	NoMaster  int            `json:"no_master"` // skipped: the master flow is not in the kernel (ENOENT)
	Failed    int            `json:"failed"`    // refused for another reason; see Errors
	Errors    map[string]int `json:"errors"`    // errno text → count, for the failed ones
}

// ExpectTable is where an ExpectKernel's FollowExpect keeps the local
// expectations: the cache it writes, and the function told of every change
// (called from FollowExpect's goroutine; x is valid during the call only).
type ExpectTable struct {
	Cache    *ExpectCache
	OnUpdate func(UpdateKind, *Expect)
	// ReadAfter is Table.ReadAfter, for FollowExpect's first read of the
	// expectation table.
	ReadAfter <-chan struct{}
}

// Replace makes t.Cache hold exactly xs (a dump of the kernel's table)
// and tells OnUpdate what changed: new or changed expectations, then
// those no longer there.
func (t ExpectTable) Replace(xs []Expect, now time.Time) {
	changed, removed := t.Cache.Replace(xs, now)
	if t.OnUpdate == nil {
		return
	}
	for i := range changed {
		t.OnUpdate(UpdateNew, &changed[i])
	}
	for i := range removed {
		t.OnUpdate(UpdateDelete, &removed[i])
	}
}

// ExpectKernel is the kernel side of expectation sync, which a Kernel may
// also implement (ctnetlink's does; the in-memory twin does not): a
// Replicator configured with ExpectSync needs it.
type ExpectKernel interface {
	// FollowExpect keeps t.Cache equal to the kernel's expectation table
	// (a dump, then events, a dump again after any receive error) until
	// ctx ends; it returns ctx's error, or a setup error.
	FollowExpect(ctx context.Context, t ExpectTable) error
	// CommitExpect creates the expectations in the kernel, each linked to
	// its master flow (which must be there: a commit writes the flows
	// first), with the timeouts of ExpectTimeoutSec; ok[i] reports
	// entries[i] created. The error is for the kernel side failing.
	CommitExpect(ctx context.Context, entries []ExpectEntry, now time.Time, commitTimeout time.Duration) (st ExpectCommitStats, ok []bool, err error)
}
