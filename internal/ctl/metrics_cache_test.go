package ctl

import (
	"sync"
	"sync/atomic"
	"testing"
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
			if s := c.status(); s.Reloads != 1 {
				t.Errorf("request got snapshot %d, want the first", s.Reloads)
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
	if s := c.status(); s.Reloads != 2 || calls.Load() != 2 {
		t.Fatalf("after maxAge: snapshot %d, %d taken; want a fresh one", s.Reloads, calls.Load())
	}
}
