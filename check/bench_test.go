package check

import (
	"testing"
	"time"
)

func BenchmarkPriority(b *testing.B) {
	refs := []Ref{
		{Kind: KindScript, Name: "a", Weight: -20, State: StateFailed},
		{Kind: KindInterface, Name: "eth1", Weight: 0, State: StateOK},
		{Kind: KindFile, Name: "f", Weight: 1, Value: 5},
		{Kind: KindProcess, Name: "haproxy", Weight: 10, State: StateOK},
	}
	for b.Loop() {
		Priority(100, refs)
	}
}

func BenchmarkTrackerHandle(b *testing.B) {
	tr := NewTracker(TrackerConfig{Interval: time.Second, Rise: 3, Fall: 3}, t0)
	ok, bad := Result{Outcome: OutcomeSuccess}, Result{Outcome: OutcomeFailure, ExitCode: 1}
	i := 0
	for b.Loop() {
		tr.Start(t0)
		if i%7 < 3 {
			tr.Handle(bad, t0)
		} else {
			tr.Handle(ok, t0)
		}
		i++
	}
}
