package daemon

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestFDTimer: the timerfd calls its function after a Reset, with the
// wake-up's time, a Reset to an hour does not fire, and a Reset after that
// fires again (the fd is read each time). Generous bounds: only that it
// fires, never how soon.
func TestFDTimer(t *testing.T) {
	fired := make(chan time.Time, 8)
	tm, err := newFDTimer(func(woke time.Time) { fired <- woke })
	if err != nil {
		t.Fatal(err)
	}
	defer tm.Stop()
	start := time.Now()
	tm.Reset(time.Millisecond)
	select {
	case woke := <-fired:
		if woke.Before(start) {
			t.Errorf("woke at %v, before the start %v", woke, start)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no wake-up 10 s after a 1 ms Reset")
	}
	tm.Reset(time.Hour)
	select {
	case <-fired:
		t.Fatal("woke up with an hour to go")
	case <-time.After(50 * time.Millisecond):
	}
	for range 3 {
		tm.Reset(2 * time.Millisecond)
		select {
		case <-fired:
		case <-time.After(10 * time.Second):
			t.Fatal("no wake-up after a Reset that follows an hour's")
		}
	}
}

// TestFDTimerStop: once Stop has returned, the timer's function is not
// called again, and Stop waits for a call under way (the daemon's
// timerFired waits for the loop's state) instead of leaving it behind.
func TestFDTimerStop(t *testing.T) {
	fired := make(chan struct{}, 1)
	var calls atomic.Int32
	release := make(chan struct{})
	tm, err := newFDTimer(func(time.Time) {
		calls.Add(1)
		fired <- struct{}{}
		<-release
	})
	if err != nil {
		t.Fatal(err)
	}
	tm.Reset(time.Millisecond)
	select {
	case <-fired:
	case <-time.After(10 * time.Second):
		t.Fatal("no call 10 s after a 1 ms Reset")
	}
	tm.Reset(time.Millisecond) // expires while the first call still runs
	stopped := make(chan struct{})
	go func() {
		tm.Stop()
		close(stopped)
	}()
	select {
	case <-stopped:
		t.Fatal("Stop returned while a call was under way")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("Stop did not return once the call ended")
	}
	time.Sleep(20 * time.Millisecond)
	if n := calls.Load(); n != 1 {
		t.Errorf("called %d times, want 1: none after Stop", n)
	}
}
