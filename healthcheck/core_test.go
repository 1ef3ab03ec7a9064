package healthcheck

import (
	"math"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

// step is one attempt: due at Start (not a nanosecond before), lasting
// Dur, with verdict V (and exit code for MISC_CHECK); then the expected
// state, offset change and next deadline.
type step struct {
	Start   float64
	Dur     float64
	V       Verdict
	Exit    int
	Again   bool
	Up      bool
	Changed bool
	Offset  int64
	Next    float64
}

func runSteps(t *testing.T, c *Core, steps []step) {
	t.Helper()
	for i, s := range steps {
		due := at(s.Start)
		if got := c.Deadline(); !got.Equal(due) {
			t.Fatalf("step %d: deadline %v, want %v", i, got.Sub(t0), due.Sub(t0))
		}
		if c.Start(due.Add(-time.Nanosecond)) {
			t.Fatalf("step %d: started 1ns before the deadline", i)
		}
		if !c.Start(due) {
			t.Fatalf("step %d: not started at the deadline", i)
		}
		if !c.Deadline().IsZero() || c.Start(due) {
			t.Fatalf("step %d: a running checker has a deadline or starts twice", i)
		}
		ch := c.Finish(at(s.Start+s.Dur), Result{Verdict: s.V, ExitCode: s.Exit, Again: s.Again})
		if ch.Up != s.Up || ch.StateChanged != s.Changed || c.Up() != s.Up {
			t.Fatalf("step %d: up=%v changed=%v, want up=%v changed=%v", i, ch.Up, ch.StateChanged, s.Up, s.Changed)
		}
		if ch.First != (i == 0) {
			t.Fatalf("step %d: First=%v", i, ch.First)
		}
		if ch.Offset != s.Offset || c.Offset() != s.Offset {
			t.Fatalf("step %d: offset %d, want %d", i, ch.Offset, s.Offset)
		}
		if got, want := c.Deadline(), at(s.Next); !got.Equal(want) {
			t.Fatalf("step %d: next %v, want %v", i, got.Sub(t0), want.Sub(t0))
		}
	}
}

func TestCoreTimeline(t *testing.T) {
	def := Timing{DelayLoop: 60 * time.Second, DelayBeforeRetry: time.Second, Retry: 1, Warmup: 60 * time.Second}
	http := def
	http.DelayBeforeRetry = 3 * time.Second
	dns := Timing{DelayLoop: 60 * time.Second, DelayBeforeRetry: 60 * time.Second, Retry: 3}
	short := Timing{DelayLoop: 10 * time.Second, DelayBeforeRetry: 2 * time.Second, Retry: 2}
	long := Timing{DelayLoop: 5 * time.Second, DelayBeforeRetry: 20 * time.Second, Retry: 0}
	alpha := def
	alpha.Alpha = true
	tests := []struct {
		name   string
		kind   Kind
		timing Timing
		jitter time.Duration
		steps  []step
	}{
		{"first check lands at 1s+jitter and a first failure is final", KindTCP, def, 7 * time.Second, []step{
			{Start: 8, V: Failure, Up: false, Changed: true, Next: 68},
		}},
		// Server dies after a success at 0: attempts at 60 and 66 time out
		// after T=5; removed at 71, next probe 131 (a new cycle of R+1).
		{"TCP silent drop: removed at 71, then cycles R+1 attempts spaced D", KindTCP, def, 0, []step{
			{Start: 1, V: Success, Up: true, Next: 61},
			{Start: 61, Dur: 5, V: Failure, Up: true, Next: 67},
			{Start: 67, Dur: 5, V: Failure, Up: false, Changed: true, Next: 132},
			{Start: 132, Dur: 5, V: Failure, Up: false, Next: 138},
			{Start: 138, Dur: 5, V: Failure, Up: false, Next: 203},
			{Start: 203, V: Success, Up: true, Changed: true, Next: 263},
		}},
		{"a success during retries resets the count without a change", KindTCP, short, 0, []step{
			{Start: 1, V: Success, Up: true, Next: 11},
			{Start: 11, V: Failure, Up: true, Next: 13},
			{Start: 13, V: Failure, Up: true, Next: 15},
			{Start: 15, V: Success, Up: true, Next: 25},
			{Start: 25, V: Failure, Up: true, Next: 27},
			{Start: 27, V: Failure, Up: true, Next: 29},
			{Start: 29, V: Failure, Up: false, Changed: true, Next: 39},
		}},
		{"HTTP: silent drop removed at 73, then every max(D,L)", KindHTTP, http, 0, []step{
			{Start: 1, V: Success, Up: true, Next: 61},
			{Start: 61, Dur: 5, V: Failure, Up: true, Next: 69},
			{Start: 69, Dur: 5, V: Failure, Up: false, Changed: true, Next: 134},
			{Start: 134, V: Failure, Up: false, Next: 194},
		}},
		{"SSL: D longer than L while down", KindSSL, long, 0, []step{
			{Start: 1, V: Failure, Up: false, Changed: true, Next: 21},
			{Start: 21, V: Failure, Up: false, Next: 41},
			{Start: 41, V: Success, Up: true, Changed: true, Next: 46},
		}},
		{"DNS defaults: attempts at 61, 126, 191, 256, removed at 261", KindDNS, dns, 0, []step{
			{Start: 1, V: Success, Up: true, Next: 61},
			{Start: 61, Dur: 5, V: Failure, Up: true, Next: 126},
			{Start: 126, Dur: 5, V: Failure, Up: true, Next: 191},
			{Start: 191, Dur: 5, V: Failure, Up: true, Next: 256},
			{Start: 256, Dur: 5, V: Failure, Up: false, Changed: true, Next: 321},
			{Start: 321, Dur: 5, V: Failure, Up: false, Next: 386},
		}},
		{"UDP/PING while down: every L, no retries", KindPing, short, 0, []step{
			{Start: 1, V: Failure, Up: false, Changed: true, Next: 11},
			{Start: 11, V: Failure, Up: false, Next: 21},
		}},
		{"SMTP: retries on the first check and on every cycle while down", KindSMTP, short, 0, []step{
			{Start: 1, V: Failure, Up: true, Next: 3},
			{Start: 3, V: Failure, Up: true, Next: 5},
			{Start: 5, V: Failure, Up: false, Changed: true, Next: 15},
			{Start: 15, V: Failure, Up: false, Next: 17},
			{Start: 17, V: Failure, Up: false, Next: 19},
			{Start: 19, V: Failure, Up: false, Next: 29},
			{Start: 29, V: Failure, Up: false, Next: 31},
			{Start: 31, V: Success, Up: true, Changed: true, Next: 41},
		}},
		{"MISC periods run from the script's start", KindMisc, short, 0, []step{
			{Start: 1, Dur: 3, V: Success, Up: true, Next: 11},
			{Start: 11, Dur: 1, V: Failure, Exit: 1, Up: true, Next: 13},
			{Start: 13, Dur: 12, V: Failure, Exit: 1, Up: true, Next: 25.000001},
		}},
		{"alpha starts down; one success brings it up", KindTCP, alpha, 0, []step{
			{Start: 1, V: Success, Up: true, Changed: true, Next: 61},
		}},
		{"alpha first failure: no change, next cycle after L", KindTCP, alpha, 0, []step{
			{Start: 1, V: Failure, Up: false, Next: 61},
			{Start: 61, V: Failure, Up: false, Next: 62},
			{Start: 62, V: Failure, Up: false, Next: 122},
		}},
		{"HTTP partial passes: no state change, the count clears, next after L", KindHTTP, short, 0, []step{
			{Start: 1, V: Failure, Up: false, Changed: true, Next: 11},
			{Start: 11, V: Partial, Up: false, Next: 21},
			{Start: 21, V: Partial, Up: false, Next: 31},
			{Start: 31, V: Success, Up: true, Changed: true, Next: 41},
			{Start: 41, V: Failure, Up: true, Next: 43},
			{Start: 43, V: Partial, Up: true, Next: 53},
			{Start: 53, V: Failure, Up: true, Next: 55},
			{Start: 55, V: Failure, Up: true, Next: 57},
			{Start: 57, V: Failure, Up: false, Changed: true, Next: 67},
		}},
		{"fast_recovery: a partial pass asking Again is followed at once", KindHTTP, short, 0, []step{
			{Start: 1, Dur: 0.5, V: Partial, Again: true, Up: true, Next: 1.5},
			{Start: 1.5, Dur: 0.5, V: Partial, Again: true, Up: true, Next: 2},
			{Start: 2, V: Success, Again: true, Up: true, Next: 12}, // only Partial may
			{Start: 12, V: Failure, Again: true, Up: true, Next: 14},
		}},
		{"a skip (local error) waits L and counts nothing", KindTCP, short, 0, []step{
			{Start: 1, V: Success, Up: true, Next: 11},
			{Start: 11, V: Failure, Up: true, Next: 13},
			{Start: 13, V: Skip, Up: true, Next: 23},
			{Start: 23, V: Failure, Up: true, Next: 25},
			{Start: 25, V: Failure, Up: false, Changed: true, Next: 35},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := NewCore(CoreConfig{Kind: tc.kind, Timing: tc.timing}, t0, tc.jitter)
			if c.Up() == tc.timing.Alpha {
				t.Fatalf("initial up=%v with alpha=%v", c.Up(), tc.timing.Alpha)
			}
			runSteps(t, c, tc.steps)
		})
	}
}

func TestCoreMiscDynamic(t *testing.T) {
	tm := Timing{DelayLoop: 10 * time.Second, DelayBeforeRetry: time.Second}
	c := NewCore(CoreConfig{Kind: KindMisc, Timing: tm, MiscDynamic: true, BaseWeight: 5}, t0, 0)
	runSteps(t, c, []step{
		{Start: 1, V: Success, Exit: 0, Up: true, Offset: 0, Next: 11},
		{Start: 11, V: Success, Exit: 12, Up: true, Offset: 12 - 2 - 5, Next: 21}, // weight becomes 10
		{Start: 21, V: Success, Exit: 2, Up: true, Offset: -5, Next: 31},          // weight 0
		{Start: 31, V: Failure, Exit: 1, Up: false, Changed: true, Offset: 0, Next: 41},
		{Start: 41, V: Success, Exit: 255, Up: true, Changed: true, Offset: 248, Next: 51},
	})
	up, w := RealServerState(5, []*Core{c})
	if !up || w != 253 {
		t.Fatalf("real server up=%v weight=%d, want up weight 253", up, w)
	}
}

func TestCoreFileValue(t *testing.T) {
	tests := []struct {
		value   int64
		weight  int
		reverse bool
		up      bool
		offset  int64
	}{
		{0, 0, false, true, 0},
		{1, 0, false, false, 0},
		{0, 0, true, false, 0},
		{7, 0, true, true, 0},
		{3, 10, false, true, 30},
		{3, 10, true, true, -30},
		{-1, math.MaxInt32, false, true, -math.MaxInt32},
		{-2, math.MaxInt32, false, false, 0},           // -4294967294 ≤ -2^31
		{1 << 31, -1, false, false, 0},                 // exactly -2^31 fails
		{(1 << 31) - 1, -1, false, true, -(1<<31 - 1)}, // one above
	}
	for _, tc := range tests {
		c := NewCore(CoreConfig{Kind: KindFile}, t0, 0)
		if !c.Deadline().IsZero() || c.Start(at(1e6)) {
			t.Fatal("FILE_CHECK has a timer")
		}
		ch := c.FileValue(tc.value, tc.weight, tc.reverse)
		if ch.Up != tc.up || ch.Offset != tc.offset || ch.StateChanged != !tc.up || !ch.First {
			t.Errorf("value %d weight %d reverse %v: %+v, want up=%v offset=%d", tc.value, tc.weight, tc.reverse, ch, tc.up, tc.offset)
		}
	}
}

func TestRealServerState(t *testing.T) {
	up := NewCore(CoreConfig{Kind: KindTCP}, t0, 0)
	down := NewCore(CoreConfig{Kind: KindTCP, Timing: Timing{Alpha: true}}, t0, 0)
	file := NewCore(CoreConfig{Kind: KindFile}, t0, 0)
	file.FileValue(-10, 1, false)
	tests := []struct {
		name     string
		weight   int
		checkers []*Core
		up       bool
		w        int64
	}{
		{"no checker is up", 3, nil, true, 3},
		{"all up", 3, []*Core{up, up}, true, 3},
		{"one down is down", 3, []*Core{up, down}, false, 3},
		{"offsets add, clamped at 0", 3, []*Core{up, file}, true, 0},
		{"clamped at 2^31-1", math.MaxInt32, []*Core{func() *Core { c := NewCore(CoreConfig{Kind: KindFile}, t0, 0); c.FileValue(5, 1, false); return c }()}, true, math.MaxInt32},
	}
	for _, tc := range tests {
		u, w := RealServerState(tc.weight, tc.checkers)
		if u != tc.up || w != tc.w {
			t.Errorf("%s: up=%v w=%d, want up=%v w=%d", tc.name, u, w, tc.up, tc.w)
		}
	}
}

func TestPureFilesDoNoIO(t *testing.T) {
	puritytestCheck(t)
}
