package daemon

import (
	"testing"
	"time"
)

// TestFDTimer: the timerfd fires after a Reset, a Reset to a later time
// drops the pending wake-up and fires at the new time, and a Reset to an
// hour does not fire. Generous bounds: only that it fires, never how soon.
func TestFDTimer(t *testing.T) {
	tm, err := newFDTimer()
	if err != nil {
		t.Fatal(err)
	}
	defer tm.Stop()
	start := time.Now()
	tm.Reset(time.Millisecond)
	select {
	case <-tm.C():
	case <-time.After(10 * time.Second):
		t.Fatal("no wake-up 10 s after a 1 ms Reset")
	}
	tm.Reset(time.Hour)
	select {
	case <-tm.C():
		t.Fatal("woke up with an hour to go")
	case <-time.After(50 * time.Millisecond):
	}
	for range 3 { // and again: the fd is read each time
		tm.Reset(2 * time.Millisecond)
		select {
		case woke := <-tm.C():
			if woke.Before(start) {
				t.Errorf("woke at %v, before the start %v", woke, start)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no wake-up after a Reset that follows an hour's")
		}
	}
}
