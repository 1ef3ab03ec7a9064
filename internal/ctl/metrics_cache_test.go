package ctl

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// TestMetricsFloodOneSnapshot: a flood of /metrics requests (here 500 at
// once) costs the loop one status snapshot per metricsMaxAge, not one per
// request; after maxAge the next request takes a fresh one.
func TestMetricsFloodOneSnapshot(t *testing.T) {
	var calls atomic.Int64
	now := time.Unix(1000, 0)
	var clock sync.Mutex
	c := &cachedStatus{
		get: func() Status {
			calls.Add(1)
			time.Sleep(time.Millisecond) // the loop's turn: others queue behind it
			return Status{Reloads: uint64(calls.Load())}
		},
		now:    func() time.Time { clock.Lock(); defer clock.Unlock(); return now },
		maxAge: metricsMaxAge,
	}
	var wg sync.WaitGroup
	for range 500 {
		wg.Go(func() {
			if s, err := c.status(context.Background()); err != nil || s.Reloads != 1 {
				t.Errorf("request got snapshot %d (%v), want the first", s.Reloads, err)
			}
		})
	}
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Fatalf("500 concurrent requests took %d snapshots, want 1", n)
	}
	clock.Lock()
	now = now.Add(metricsMaxAge)
	clock.Unlock()
	if s, _ := c.status(context.Background()); s.Reloads != 2 || calls.Load() != 2 {
		t.Fatalf("after maxAge: snapshot %d, %d taken; want a fresh one", s.Reloads, calls.Load())
	}
}

// TestMetricsStuckLoopOneWaiter: while the loop does not answer, every
// request gives up at its deadline with the context's error, and however
// many come, the loop is asked once; when it answers, the snapshot serves
// the next request at once.
func TestMetricsStuckLoopOneWaiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		var calls atomic.Int64
		c := &cachedStatus{
			get: func() Status {
				calls.Add(1)
				<-release
				return Status{Reloads: 7}
			},
			now:    time.Now,
			maxAge: metricsMaxAge,
		}
		for range 50 {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			start := time.Now()
			_, err := c.status(ctx)
			cancel()
			if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != time.Second {
				t.Fatalf("stuck loop: %v after %v, want the deadline after 1s", err, time.Since(start))
			}
		}
		if n := calls.Load(); n != 1 {
			t.Fatalf("50 requests to a stuck loop started %d snapshots, want 1", n)
		}
		close(release)
		synctest.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
		defer cancel()
		if s, err := c.status(ctx); err != nil || s.Reloads != 7 {
			t.Fatalf("after the loop answered: %+v, %v", s.Reloads, err)
		}
		c.wg.Wait()
	})
}
