package ctnetlink

import (
	"context"
	"log/slog"
	"sync"
	"time"

	ct "github.com/vigil-ha/vigil/conntracksync"
)

// Kernel is conntracksync.Kernel on ctnetlink: a Listener follows the
// table, a Committer (opened by the first Commit, closed by Release)
// writes it, and the listener knows the committer's events as ours.
type Kernel struct {
	log  *slog.Logger
	cfg  Config
	pids pidSet

	mu sync.Mutex // guards l
	l  *Listener  // made by the first Follow

	commitMu  sync.Mutex // one commit at a time; guards committer
	committer *Committer
}

var _ ct.WarmKernel = (*Kernel)(nil)

// New returns the kernel side of a replicator; it opens nothing until
// Follow or Commit.
func New(log *slog.Logger, cfg Config) *Kernel {
	return &Kernel{log: log, cfg: cfg}
}

func (k *Kernel) listener(t ct.Table) *Listener {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.l == nil {
		k.l = newListener(k.log, t.Cache, ListenerConfig{Filter: t.Filter, OnUpdate: t.OnUpdate,
			ReadBuffer: k.cfg.ReadBuffer, Netns: k.cfg.Netns, Warm: t.Warm, WarmGone: t.WarmGone}, &k.pids)
	}
	return k.l
}

// Follow runs the listener (Listener.Run) into t, its first dump held
// back until t.ReadAfter is closed; every call must pass the same Table
// but for ReadAfter.
func (k *Kernel) Follow(ctx context.Context, t ct.Table) error {
	return k.listener(t).run(ctx, t.ReadAfter)
}

// CommitStream writes the chunks from in with the committer
// (Committer.Commit), the listener's event socket quiet for the whole
// stream and the table dumped again once after it (Listener.quiet). A
// socket failure closes the committer: the next commit opens fresh
// sockets.
func (k *Kernel) CommitStream(ctx context.Context, in <-chan []ct.Entry, out chan<- ct.CommitChunk, now time.Time, commitTimeout time.Duration) (ct.CommitStats, error) {
	var st ct.CommitStats
	start := time.Now()
	err := k.withCommitter(true, func(c *Committer) error {
		for chunk := range in {
			cst, ok, err := c.commit(ctx, chunk, now, commitTimeout)
			st.Entries += len(chunk)
			st.Add(cst)
			if ok != nil {
				out <- ct.CommitChunk{Entries: chunk, OK: ok}
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	st.Duration = time.Since(start)
	return st, err
}

// Write is a warm standby's write (conntracksync.WarmKernel): the
// committer's creates, then deletions by key, with the event socket left
// as it is. The batches are small and frequent: a re-dump after each, as
// Commit makes, would cost more than the events it spares; the port ids
// keep the events out of the cache.
func (k *Kernel) Write(ctx context.Context, entries []ct.Entry, dels []ct.Key, now time.Time, commitTimeout time.Duration) (ct.CommitStats, []bool, error) {
	var st ct.CommitStats
	var ok []bool
	err := k.withCommitter(false, func(c *Committer) (err error) {
		start := time.Now()
		if st, ok, err = c.commit(ctx, entries, now, commitTimeout); err != nil {
			return err
		}
		if len(dels) > 0 {
			var failed int
			_, failed, err = c.each(ctx, len(dels), func(i int, f *ct.Flow) { *f = ct.Flow{Orig: dels[i].Orig, Zone: dels[i].Zone} }, opDelete, 0)
			st.Failed += failed
		}
		st.Duration = time.Since(start)
		return err
	})
	if ok == nil && err != nil {
		st.Entries = len(entries)
	}
	return st, ok, err
}

// SetTimeouts sets the timeout of the flows still in the table with the
// committer's sockets (Committer.setTimeouts), like Commit.
func (k *Kernel) SetTimeouts(ctx context.Context, flows []ct.Flow, timeoutSec uint32) (set, failed int, err error) {
	err = k.withCommitter(true, func(c *Committer) (err error) {
		set, failed, err = c.setTimeouts(ctx, flows, timeoutSec)
		return err
	})
	return set, failed, err
}

// withCommitter runs fn with the committer, opened if need be, one at a
// time and, with quiet, with the listener's event socket quiet; an error
// of fn closes the committer.
func (k *Kernel) withCommitter(quiet bool, fn func(c *Committer) error) error {
	k.commitMu.Lock()
	defer k.commitMu.Unlock()
	if k.committer == nil {
		c, err := newCommitter(k.cfg.Workers, &k.pids, k.cfg.Netns)
		if err != nil {
			return err
		}
		k.committer = c
	}
	k.mu.Lock()
	l := k.l
	k.mu.Unlock()
	var err error
	run := func() { err = fn(k.committer) }
	if l != nil && quiet {
		l.quiet(run)
	} else {
		run()
	}
	if err != nil {
		k.committer.Close()
		k.committer = nil
	}
	return err
}

// Release closes the committer's sockets (their port ids stay known to
// the listener for pidGrace).
func (k *Kernel) Release() {
	k.commitMu.Lock()
	defer k.commitMu.Unlock()
	if k.committer != nil {
		k.committer.Close()
		k.committer = nil
	}
}

// Stats returns the listener's counters (zero before the first Follow).
func (k *Kernel) Stats() ct.ListenerStats {
	k.mu.Lock()
	l := k.l
	k.mu.Unlock()
	if l == nil {
		return ct.ListenerStats{}
	}
	return l.Stats()
}
