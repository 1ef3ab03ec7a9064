package daemon

import (
	"context"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// TestKernelQueueSupersedes: while the worker is stuck in a netlink call,
// an instance that flaps thousands of times leaves one address job
// waiting, the last one asked for (its desired state), and no
// announcement queued before its last removal; jobs without a key (the
// statics, the firewall) all run, in the order they were queued.
func TestKernelQueueSupersedes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := newKernelWork()
		go k.run()
		var (
			mu  sync.Mutex
			ran []string
		)
		job := func(name string) kernelJob {
			return func(context.Context) func(time.Time) {
				mu.Lock()
				ran = append(ran, name)
				mu.Unlock()
				return func(time.Time) {}
			}
		}
		release := make(chan struct{})
		k.do(func(context.Context) func(time.Time) { <-release; return nil }) // a stalled netlink call
		synctest.Wait()

		a, b := &instance{}, &instance{}
		const flaps = 5000
		for i := range flaps {
			for _, inst := range []*instance{a, b} {
				k.doAs(vipsJobKey{inst}, []any{vipsJobKey{inst}}, job("add"))
				k.doAs(announceJobKey{inst}, nil, job("announce"))
				k.doAs(vipsJobKey{inst}, []any{vipsJobKey{inst}, announceJobKey{inst}}, job("remove"))
			}
			if i%1000 == 0 {
				k.do(job("static"))
			}
		}
		// a's last word is an addition with its announcement.
		k.doAs(vipsJobKey{a}, []any{vipsJobKey{a}}, job("add a"))
		k.doAs(announceJobKey{a}, nil, job("announce a"))
		waiting, superseded := k.waiting()
		if waiting > 10 {
			t.Errorf("%d jobs wait after %d flaps of two instances, want at most 10", waiting, flaps)
		}
		if want := uint64(2*flaps*3 + 2 - 3); superseded != want { // all but b's removal and a's last two
			t.Errorf("%d jobs superseded, want %d", superseded, want)
		}

		close(release)
		k.finish()
		want := []string{"static", "static", "static", "static", "static", "remove", "add a", "announce a"}
		if !slices.Equal(ran, want) {
			t.Errorf("the worker ran %q, want %q", ran, want)
		}
	})
}
