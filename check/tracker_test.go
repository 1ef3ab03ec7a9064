package check

import (
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func res(c byte) Result {
	switch c {
	case 'S':
		return Result{Outcome: OutcomeSuccess}
	case 'F':
		return Result{Outcome: OutcomeFailure, ExitCode: 1}
	case 'T':
		return Result{Outcome: OutcomeTimeout}
	case 'E':
		return Result{Outcome: OutcomeError, Err: "no such file"}
	}
	panic("bad result letter")
}

func stateLetter(s State) byte {
	return "IOF"[s]
}

// TestTrackerRiseFall walks result sequences (S success, F failure, T
// timeout, E start error) and checks the debounced state after each, as
// keepalived's vrrp_script_child_thread counts them.
func TestTrackerRiseFall(t *testing.T) {
	tests := []struct {
		name       string
		rise, fall int
		initFail   bool
		in         string // results
		want       string // state after each result: I init, O ok, F failed
	}{
		{"defaults: one success leaves init", 1, 1, false, "S", "O"},
		{"defaults: one failure leaves init", 1, 1, false, "F", "F"},
		{"init: one success is enough even with rise 3", 3, 2, false, "S", "O"},
		{"init: one failure is enough even with fall 3", 2, 3, false, "F", "F"},
		{"fall 3: two failures keep OK, third fails", 1, 3, false, "SFFF", "OOOF"},
		{"fall 3: a success in between resets the count", 1, 3, false, "SFFSFFF", "OOOOOOF"},
		{"rise 3 after failure: two successes stay failed, third rises", 3, 1, false, "FSSS", "FFFO"},
		{"rise 3: a failure in between resets the count", 3, 1, false, "FSSFSSS", "FFFFFFO"},
		{"rise 2 fall 2 flapping never changes OK", 2, 2, false, "SFSFSF", "OOOOOO"},
		{"rise 2 fall 2 flapping never changes FAILED", 2, 2, false, "FSFSFS", "FFFFFF"},
		{"timeout counts as failure", 1, 2, false, "STT", "OOF"},
		{"start error counts as failure", 1, 1, false, "SE", "OF"},
		{"init_fail: needs rise successes", 3, 1, true, "SSS", "FFO"},
		{"init_fail rise 1: one success", 1, 1, true, "S", "O"},
		{"init_fail: failures stay failed", 2, 2, true, "FFSF", "FFFF"},
		{"fall 1 rise 1 follow every result", 1, 1, false, "SFSFT", "OFOFF"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := NewTracker(TrackerConfig{Interval: time.Second, Rise: tc.rise, Fall: tc.fall, InitFail: tc.initFail}, t0)
			if tc.initFail && tr.State() != StateFailed {
				t.Fatalf("init_fail tracker starts %v, want FAILED", tr.State())
			}
			if !tc.initFail && tr.State() != StateInit {
				t.Fatalf("tracker starts %v, want INIT", tr.State())
			}
			var got strings.Builder
			now := t0
			prev := tr.State()
			for i := range len(tc.in) {
				if !tr.Start(now) {
					t.Fatalf("Start refused with no run in flight")
				}
				ch, changed := tr.Handle(res(tc.in[i]), now)
				if changed != (tr.State() != prev) {
					t.Fatalf("result %d: changed=%v but state %v -> %v", i, changed, prev, tr.State())
				}
				if changed && (ch.From != prev || ch.To != tr.State() || ch.Result != res(tc.in[i]) || !ch.Time.Equal(now)) {
					t.Fatalf("result %d: change %+v, want %v -> %v", i, ch, prev, tr.State())
				}
				prev = tr.State()
				got.WriteByte(stateLetter(tr.State()))
				now = now.Add(time.Second)
			}
			if got.String() != tc.want {
				t.Errorf("states %s, want %s", got.String(), tc.want)
			}
		})
	}
}

// TestTrackerSchedule checks the deadline on both sides of the interval and
// that a run still in flight is skipped, not doubled.
func TestTrackerSchedule(t *testing.T) {
	tr := NewTracker(TrackerConfig{Interval: 2 * time.Second}, t0)
	if !tr.Deadline().Equal(t0) {
		t.Fatalf("first run due %v, want now %v", tr.Deadline(), t0)
	}
	if !tr.Start(t0) {
		t.Fatal("first Start refused")
	}
	if want := t0.Add(2 * time.Second); !tr.Deadline().Equal(want) {
		t.Fatalf("deadline after start %v, want %v", tr.Deadline(), want)
	}
	if d := tr.Deadline(); !t0.Add(2*time.Second - 1).Before(d) {
		t.Fatalf("deadline - 1ns must not be due")
	}
	// The script hangs past the next deadline: the next run is skipped.
	if tr.Start(t0.Add(2 * time.Second)) {
		t.Fatal("Start accepted while a run is in flight")
	}
	if tr.Skipped() != 1 || tr.Runs() != 1 {
		t.Fatalf("runs %d skipped %d, want 1 and 1", tr.Runs(), tr.Skipped())
	}
	if want := t0.Add(4 * time.Second); !tr.Deadline().Equal(want) {
		t.Fatalf("deadline after skip %v, want %v", tr.Deadline(), want)
	}
	tr.Handle(Result{Outcome: OutcomeTimeout}, t0.Add(3*time.Second))
	if tr.Running() {
		t.Fatal("still running after Handle")
	}
	if tr.State() != StateFailed {
		t.Fatalf("state %v after timeout, want FAILED", tr.State())
	}
	if !tr.Start(t0.Add(4 * time.Second)) {
		t.Fatal("Start refused after the run was handled")
	}
}

func TestResultString(t *testing.T) {
	for _, tc := range []struct {
		r    Result
		want string
	}{
		{Result{Outcome: OutcomeSuccess}, "succeeded"},
		{Result{Outcome: OutcomeFailure, ExitCode: 3}, "failed (exited with status 3)"},
		{Result{Outcome: OutcomeFailure, Signal: 11}, "failed (due to signal 11)"},
		{Result{Outcome: OutcomeTimeout}, "timed out"},
		{Result{Outcome: OutcomeError, Err: "x"}, "could not start: x"},
	} {
		if got := tc.r.String(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.r, got, tc.want)
		}
	}
}
