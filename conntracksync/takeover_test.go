package conntracksync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// recSyncer records the Failover's calls in order. The i-th commit takes
// took[i] (the last entry for later ones; fake time in a synctest
// bubble) and fails with err.
type recSyncer struct {
	mu      sync.Mutex
	log     []string
	commits int
	took    []time.Duration
	err     error
	ext     int
	// purge is the Replicator's PurgeTimeout: 0, Purge does nothing
	// (not recorded); else it first waits purgeTook for the kernel side
	// (a commit in progress), then asks current.
	purge     time.Duration
	purgeTook time.Duration
}

func (r *recSyncer) add(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = append(r.log, fmt.Sprintf(format, args...))
}

func (r *recSyncer) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.log
	r.log = nil
	return l
}

func (r *recSyncer) Commit(ctx context.Context) (CommitStats, error) {
	r.mu.Lock()
	r.commits++
	n := r.commits
	var d time.Duration
	if len(r.took) > 0 {
		d = r.took[min(n, len(r.took))-1]
	}
	r.mu.Unlock()
	r.add("commit %d", n)
	select {
	case <-time.After(d):
	case <-ctx.Done():
		r.add("commit %d cancelled", n)
		return CommitStats{}, ctx.Err()
	}
	r.add("commit %d done", n)
	return CommitStats{Entries: r.ext, Created: r.ext, Duration: d}, r.err
}

func (r *recSyncer) Purge(ctx context.Context, current func() bool) (PurgeStats, error) {
	if r.purge == 0 {
		return PurgeStats{}, nil
	}
	select {
	case <-time.After(r.purgeTook):
	case <-ctx.Done():
		return PurgeStats{}, ctx.Err()
	}
	if !current() {
		r.add("purge not current")
		return PurgeStats{}, nil
	}
	r.add("purge")
	return PurgeStats{Entries: 3, Set: 3, Timeout: r.purge}, nil
}

func (r *recSyncer) FlushExternal() int { r.add("flush"); return r.ext }
func (r *recSyncer) RequestResync()     { r.add("resync") }
func (r *recSyncer) SendBulk()          { r.add("bulk") }
func (r *recSyncer) Stats() Stats       { return Stats{External: r.ext} }

func newTestFailover(took ...time.Duration) (*Failover, *recSyncer) {
	s := &recSyncer{took: took, ext: 5}
	f := NewFailover(slog.New(slog.DiscardHandler), s, "FW", 2*time.Second)
	f.OnTakeoverDone(func() { s.add("done") })
	return f, s
}

func wantCalls(t *testing.T, s *recSyncer, what string, want ...string) {
	t.Helper()
	if got := s.take(); !slices.Equal(got, want) {
		t.Fatalf("%s: calls %q, want %q", what, got, want)
	}
}

// TestFailoverOrder: a takeover commits, then flushes the external cache,
// then asks for a bulk to the peer, then calls the OnTakeoverDone
// function ("done"), all before Takeover returns when the
// commit fits in the bound; a second member's Takeover and the MASTER
// transition do nothing more. Leaving asks for one resync; shutdown asks
// nothing; the next takeover commits again.
func TestFailoverOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, s := newTestFailover(time.Second)
		defer f.Close()
		start := time.Now()
		f.Takeover("VI_IN", start)
		if waited := time.Since(start); waited != time.Second {
			t.Errorf("Takeover returned after %s, want the commit's 1s", waited)
		}
		f.Takeover("VI_OUT", start)
		f.Master()
		wantCalls(t, s, "takeover", "commit 1", "commit 1 done", "flush", "bulk", "done")
		st := f.Status()
		if !st.Master || st.Takeovers != 1 || st.LateCommits != 0 || st.LastTakeover != (TakeoverRecord{
			Instance: "VI_IN", Time: start, Entries: 5, InLoop: time.Second, Duration: time.Second, Flushed: 5}) {
			t.Errorf("status after the takeover: %+v", st)
		}

		f.Left("VI_IN", "BACKUP", false)
		f.Left("VI_OUT", "BACKUP", false)
		wantCalls(t, s, "leaving", "resync")
		if st := f.Status(); st.Master || st.ResyncRequests != 1 {
			t.Errorf("status after leaving: %+v", st)
		}

		f.Takeover("VI_OUT", time.Now())
		wantCalls(t, s, "second takeover", "commit 2", "commit 2 done", "flush", "bulk", "done")
		f.Left("VI_OUT", "INIT", true)
		wantCalls(t, s, "shutdown")
		if st := f.Status(); st.Master || st.Takeovers != 2 || st.ResyncRequests != 1 {
			t.Errorf("status after shutdown: %+v", st)
		}
	})
}

// TestFailoverBound: a commit longer than the bound returns at exactly the
// bound and finishes in the background; it flushes and sends the bulk
// when it ends, not a nanosecond earlier.
func TestFailoverBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, s := newTestFailover(5 * time.Second)
		defer f.Close()
		start := time.Now()
		f.Takeover("VI_IN", start)
		if waited := time.Since(start); waited != 2*time.Second {
			t.Errorf("Takeover returned after %s, want the 2s bound", waited)
		}
		wantCalls(t, s, "at the bound", "commit 1")
		if st := f.Status(); st.LateCommits != 1 || st.LastTakeover.InLoop != 2*time.Second {
			t.Errorf("status at the bound: %+v", st)
		}
		time.Sleep(3*time.Second - time.Nanosecond)
		synctest.Wait()
		wantCalls(t, s, "1 ns before the commit ends")
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		wantCalls(t, s, "late commit", "commit 1 done", "flush", "bulk", "done")
		if st := f.Status(); st.LastTakeover.Duration != 5*time.Second || st.LastTakeover.Flushed != 5 {
			t.Errorf("status after the late commit: %+v", st.LastTakeover)
		}
	})
}

// TestFailoverStaleCommit: the generation guard. A late commit that ends
// after the takeover was left must neither flush nor send a bulk nor
// report the takeover done, also when a newer takeover is under way; the
// newer takeover's own commit does all three.
func TestFailoverStaleCommit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, s := newTestFailover(10*time.Second, time.Second)
		defer f.Close()
		f.Takeover("VI_IN", time.Now()) // commit 1: 10 s, late
		f.Left("VI_IN", "BACKUP", false)
		wantCalls(t, s, "takeover left at the bound", "commit 1", "resync")

		// A newer takeover while commit 1 still runs: commit 2 (1 s).
		f.Takeover("VI_IN", time.Now())
		wantCalls(t, s, "newer takeover", "commit 2", "commit 2 done", "flush", "bulk", "done")
		time.Sleep(10 * time.Second)
		synctest.Wait()
		wantCalls(t, s, "stale commit ends", "commit 1 done")
		if st := f.Status(); st.Takeovers != 2 || st.LastTakeover.Duration != time.Second {
			t.Errorf("the stale commit replaced the current record: %+v", st)
		}

		// Left again, then the stale commit of that takeover ends after a
		// MASTER transition without VIPs started another generation.
		s.took = []time.Duration{10 * time.Second}
		f.Left("VI_IN", "BACKUP", false)
		f.Takeover("VI_IN", time.Now())
		f.Left("VI_IN", "FAULT", false)
		f.Master()
		time.Sleep(20 * time.Second)
		synctest.Wait()
		wantCalls(t, s, "stale after Master", "resync", "commit 3", "resync", "commit 3 done")
	})
}

// TestFailoverCommitError: a failed commit keeps the external cache and
// sends nothing; the error is in the status.
func TestFailoverCommitError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, s := newTestFailover(time.Second)
		defer f.Close()
		s.err = errors.New("netlink: boom")
		f.Takeover("VI_IN", time.Now())
		wantCalls(t, s, "failed commit", "commit 1", "commit 1 done")
		if st := f.Status().LastTakeover; st.Error != "netlink: boom" || st.Flushed != 0 {
			t.Errorf("status: %+v", st)
		}
	})
}

// TestFailoverClose: Close cancels a late commit and waits for it; the
// cancelled commit flushes nothing.
func TestFailoverClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, s := newTestFailover(time.Hour)
		f.Takeover("VI_IN", time.Now())
		f.Close()
		wantCalls(t, s, "close", "commit 1", "commit 1 cancelled")
	})
}

// TestFailoverFault: FAULT then back to BACKUP asks for a resync once, on
// the return; a return without a fault asks nothing.
func TestFailoverFault(t *testing.T) {
	f, s := newTestFailover()
	defer f.Close()
	f.BackFromFault("VI_IN")
	wantCalls(t, s, "back without fault")
	f.Fault()
	f.Fault()
	f.BackFromFault("VI_IN")
	f.BackFromFault("VI_OUT")
	wantCalls(t, s, "back from fault", "resync")
	if st := f.Status(); st.ResyncRequests != 1 {
		t.Errorf("resync requests %d, want 1", st.ResyncRequests)
	}
}

func TestCommitBound(t *testing.T) {
	for _, tc := range []struct{ adv, want time.Duration }{
		{10 * time.Millisecond, CommitBoundMin}, {time.Second, 2 * time.Second}, {5 * time.Second, CommitBoundMax},
	} {
		if got := CommitBound(tc.adv); got != tc.want {
			t.Errorf("CommitBound(%s) = %s, want %s", tc.adv, got, tc.want)
		}
	}
}

// TestFailoverPurge: leaving MASTER asks for a resync, then purges our
// table in the background; a shutdown does neither. A takeover that comes
// before the kernel side is free for the purge cancels it (the purge would
// shorten what the commit wrote).
func TestFailoverPurge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, s := newTestFailover(time.Second)
		defer f.Close()
		s.purge, s.purgeTook = 30*time.Second, 500*time.Millisecond
		f.Takeover("VI_IN", time.Now())
		wantCalls(t, s, "takeover", "commit 1", "commit 1 done", "flush", "bulk", "done")

		f.Left("VI_IN", "BACKUP", false)
		synctest.Wait()
		wantCalls(t, s, "leaving", "resync")
		time.Sleep(500*time.Millisecond - time.Nanosecond)
		synctest.Wait()
		wantCalls(t, s, "1 ns before the kernel side is free")
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		wantCalls(t, s, "purge", "purge")

		// A takeover while the purge waits for the kernel side.
		f.Takeover("VI_IN", time.Now())
		f.Left("VI_IN", "FAULT", false)
		synctest.Wait()
		f.Takeover("VI_IN", time.Now())
		time.Sleep(time.Second)
		synctest.Wait()
		wantCalls(t, s, "takeover before the purge", "commit 2", "commit 2 done", "flush", "bulk", "done",
			"resync", "commit 3", "purge not current", "commit 3 done", "flush", "bulk", "done")

		f.Left("VI_IN", "INIT", true)
		time.Sleep(time.Second)
		synctest.Wait()
		wantCalls(t, s, "shutdown")
	})
}

// warmRecSyncer is a recSyncer with a warm standby: it records SetMaster.
type warmRecSyncer struct{ *recSyncer }

func (w warmRecSyncer) SetMaster(m bool) { w.add("master %v", m) }

// TestFailoverWarmStandby: with a warm standby the background writes stop
// before the takeover's commit (which writes the dirty set) and start
// again only after the departure's new generation, so a late commit's
// flush never runs on a node that already counts as BACKUP; Master
// without a takeover stops them too; the takeover's record says how many
// entries were warm.
func TestFailoverWarmStandby(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &recSyncer{took: []time.Duration{time.Second, 3 * time.Second}, ext: 5}
		f := NewFailover(slog.New(slog.DiscardHandler), warmRecSyncer{s}, "FW", 2*time.Second)
		defer f.Close()
		f.Takeover("VI_1", time.Now())
		wantCalls(t, s, "takeover", "master true", "commit 1", "commit 1 done", "flush", "bulk")
		f.Left("VI_1", "BACKUP", false)
		wantCalls(t, s, "leaving", "master false", "resync")

		// A late commit finishing after the departure does not flush.
		f.Takeover("VI_1", time.Now())
		f.Left("VI_1", "FAULT", false)
		time.Sleep(2 * time.Second)
		wantCalls(t, s, "late commit after leaving", "master true", "commit 2", "master false", "resync", "commit 2 done")

		f.Master()
		wantCalls(t, s, "MASTER without a takeover", "master true")
	})
}
