package twin

import (
	"context"
	"errors"
	"sync"
	"time"

	ct "github.com/vigil-ha/vigil/conntracksync"
	"github.com/vigil-ha/vigil/conntracksync/ftfw"
)

// Kernel is an in-memory conntrack table; see the package comment. Safe
// for concurrent use.
type Kernel struct {
	mu      sync.Mutex
	table   map[ct.Key]ct.Flow
	queue   []change      // changes not yet reported to Follow
	wake    chan struct{} // a change was queued
	stats   ct.ListenerStats
	commits int
	writes  int   // Write calls
	failErr error // the next Commit's error

	// The expectation table (expect.go), made by its first use.
	exps     map[ftfw.ExpKey]ct.Expect
	expQueue []expChange
	expWake  chan struct{}
}

type change struct {
	del  bool
	flow ct.Flow
}

var _ ct.WarmKernel = (*Kernel)(nil)

// NewKernel returns an empty table.
func NewKernel() *Kernel {
	return &Kernel{table: map[ct.Key]ct.Flow{}, wake: make(chan struct{}, 1)}
}

func (k *Kernel) queueLocked(c change) {
	k.queue = append(k.queue, c)
	select {
	case k.wake <- struct{}{}:
	default:
	}
}

// Put creates or changes a flow as traffic does: the change is reported.
func (k *Kernel) Put(f ct.Flow) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.table[f.Key()] = f
	k.queueLocked(change{flow: f})
}

// Delete removes a flow as its expiry does: the change is reported.
func (k *Kernel) Delete(key ct.Key) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if f, ok := k.table[key]; ok {
		delete(k.table, key)
		k.queueLocked(change{del: true, flow: f})
	}
}

// Flows returns a copy of the table.
func (k *Kernel) Flows() map[ct.Key]ct.Flow {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make(map[ct.Key]ct.Flow, len(k.table))
	for key, f := range k.table {
		out[key] = f
	}
	return out
}

// Commits returns how many Commit calls wrote the table.
func (k *Kernel) Commits() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.commits
}

// FailNextCommit makes the next commit or Write fail with err, writing
// nothing.
func (k *Kernel) FailNextCommit(err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.failErr = err
}

// Follow dumps the table into t.Cache once t.ReadAfter (when set) is
// closed, then reports queued changes until ctx ends.
func (k *Kernel) Follow(ctx context.Context, t ct.Table) error {
	if err := ct.AwaitRead(ctx, t.ReadAfter); err != nil {
		return err
	}
	k.mu.Lock()
	snap := make([]ct.Flow, 0, len(k.table))
	for _, f := range k.table {
		snap = append(snap, f)
	}
	k.queue = nil // the dump has them
	k.stats.Dumps++
	k.mu.Unlock()
	now := time.Now()
	t.Cache.BeginDump()
	for i := range snap {
		if warm(t, &snap[i]) || !k.pass(t, &snap[i]) {
			continue
		}
		if t.Cache.Put(snap[i], now) && t.OnUpdate != nil {
			t.OnUpdate(ct.UpdateChange, &snap[i])
		}
	}
	for _, f := range t.Cache.Sweep() {
		if t.OnUpdate != nil {
			t.OnUpdate(ct.UpdateDelete, &f)
		}
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-k.wake:
		}
		k.mu.Lock()
		q := k.queue
		k.queue = nil
		k.stats.Events += uint64(len(q))
		k.mu.Unlock()
		now := time.Now()
		for i := range q {
			f := &q[i].flow
			if warm(t, f) {
				if key := f.Key(); q[i].del {
					t.Cache.Delete(key)
					if t.WarmGone != nil {
						t.WarmGone(&key)
					}
				}
				continue
			}
			if q[i].del {
				if old, ok := t.Cache.Delete(f.Key()); ok && t.OnUpdate != nil {
					t.OnUpdate(ct.UpdateDelete, &old)
				}
				continue
			}
			if !k.pass(t, f) {
				continue
			}
			_, existed := t.Cache.Get(f.Key())
			if t.Cache.Put(*f, now) && t.OnUpdate != nil {
				kind := ct.UpdateChange
				if !existed {
					kind = ct.UpdateNew
				}
				t.OnUpdate(kind, f)
			}
		}
	}
}

// warm reports whether t names f as one of the peer's flows a warm
// standby keeps here (Table.Warm).
func warm(t ct.Table, f *ct.Flow) bool {
	if t.Warm == nil {
		return false
	}
	key := f.Key()
	return t.Warm(&key)
}

func (k *Kernel) pass(t ct.Table, f *ct.Flow) bool {
	if r := t.Filter.Check(f); r != ct.DropNone {
		k.mu.Lock()
		k.stats.Filtered[r]++
		k.mu.Unlock()
		return false
	}
	return true
}

// CommitStream writes each chunk from in into the table with the
// timeouts of conntracksync.CommitTimeoutSec, masters first (an existing
// entry counts as updated), and sends it back on out; nothing is reported
// to Follow. The stream counts as one commit (Commits), an empty one too.
func (k *Kernel) CommitStream(ctx context.Context, in <-chan []ct.Entry, out chan<- ct.CommitChunk, now time.Time, commitTimeout time.Duration) (ct.CommitStats, error) {
	var st ct.CommitStats
	wrote, got := false, false
	write := func(chunk []ct.Entry) ([]bool, error) {
		k.mu.Lock()
		defer k.mu.Unlock()
		cst, ok, err := k.writeLocked(chunk, nil, now, commitTimeout)
		st.Entries += cst.Entries
		st.Add(cst)
		st.Duration += cst.Duration
		if ok != nil && !wrote {
			wrote = true
			k.commits++
		}
		return ok, err
	}
	for chunk := range in {
		got = true
		if err := ctx.Err(); err != nil {
			return st, err
		}
		ok, err := write(chunk)
		if ok != nil {
			out <- ct.CommitChunk{Entries: chunk, OK: ok}
		}
		if err != nil {
			return st, err
		}
	}
	if !got {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		_, err := write(nil)
		return st, err
	}
	return st, nil
}

// Write writes entries as CommitStream does and deletes the flows keyed
// dels (conntracksync.WarmKernel); nothing is reported to Follow.
func (k *Kernel) Write(ctx context.Context, entries []ct.Entry, dels []ct.Key, now time.Time, commitTimeout time.Duration) (ct.CommitStats, []bool, error) {
	if err := ctx.Err(); err != nil {
		return ct.CommitStats{Entries: len(entries)}, nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	st, ok, err := k.writeLocked(entries, dels, now, commitTimeout)
	if ok != nil {
		k.writes++
	}
	return st, ok, err
}

// Writes returns how many Write calls wrote the table.
func (k *Kernel) Writes() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.writes
}

// writeLocked is CommitStream's write of a chunk and Write, with k.mu
// held.
func (k *Kernel) writeLocked(entries []ct.Entry, dels []ct.Key, now time.Time, commitTimeout time.Duration) (ct.CommitStats, []bool, error) {
	start := time.Now()
	st := ct.CommitStats{Entries: len(entries)}
	if err := k.failErr; err != nil {
		k.failErr = nil
		return st, nil, err
	}
	ok := make([]bool, len(entries))
	for _, related := range []bool{false, true} {
		for i := range entries {
			f := entries[i].Flow
			if f.Related() != related {
				continue
			}
			if f.Related() {
				if _, ok := k.table[ct.Key{Orig: f.Master, Zone: f.Zone}]; !ok {
					st.Failed++
					if st.Errors == nil {
						st.Errors = map[string]int{}
					}
					st.Errors["master missing"]++
					continue
				}
			}
			f.TimeoutSec = ct.CommitTimeoutSec(&entries[i], now, commitTimeout)
			if _, exists := k.table[f.Key()]; exists {
				st.Updated++
			} else {
				st.Created++
			}
			k.table[f.Key()] = f
			ok[i] = true
		}
	}
	for _, key := range dels {
		delete(k.table, key)
	}
	st.Duration = time.Since(start)
	return st, ok, nil
}

// SetTimeouts sets the timeout of the flows still in the table; nothing
// is reported to Follow.
func (k *Kernel) SetTimeouts(ctx context.Context, flows []ct.Flow, timeoutSec uint32) (set, failed int, err error) {
	if err := ctx.Err(); err != nil {
		return 0, 0, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for i := range flows {
		key := flows[i].Key()
		if f, ok := k.table[key]; ok {
			f.TimeoutSec = timeoutSec
			k.table[key] = f
			set++
		}
	}
	return set, 0, nil
}

// Release does nothing: the twin keeps nothing open.
func (k *Kernel) Release() {}

// Stats returns the counters.
func (k *Kernel) Stats() ct.ListenerStats {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.stats
}

// ErrCommit is a commit failure a test can inject.
var ErrCommit = errors.New("twin: commit refused")
