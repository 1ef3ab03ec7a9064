package check

import (
	"fmt"
	"time"
)

// State is the debounced state of a tracked object.
type State uint8

// The states of a Tracker. A tracker starts in StateInit (or StateFailed
// with init_fail) and only ever moves between StateOK and StateFailed after
// its first decisive result.
const (
	StateInit State = iota
	StateOK
	StateFailed
)

func (s State) String() string {
	switch s {
	case StateInit:
		return "INIT"
	case StateOK:
		return "OK"
	case StateFailed:
		return "FAILED"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// Outcome classifies one run of a checker.
type Outcome uint8

// Outcomes of a run. Everything except OutcomeSuccess counts as a failure
// for rise/fall, as keepalived counts a timed-out or signalled script.
const (
	OutcomeSuccess Outcome = iota + 1 // exit status 0
	OutcomeFailure                    // non-zero exit status, or killed by a signal we did not send
	OutcomeTimeout                    // ran past its timeout and was killed
	OutcomeError                      // could not be started at all
)

func (o Outcome) String() string {
	switch o {
	case OutcomeSuccess:
		return "success"
	case OutcomeFailure:
		return "failure"
	case OutcomeTimeout:
		return "timeout"
	case OutcomeError:
		return "error"
	}
	return fmt.Sprintf("Outcome(%d)", uint8(o))
}

// Result is what one run of a checker produced.
type Result struct {
	Outcome  Outcome
	ExitCode int    // exit status when the process exited (Success, Failure)
	Signal   int    // terminating signal number when OutcomeFailure came from a signal; 0 otherwise
	Err      string // why it could not start (OutcomeError)
	Refused  bool   // OutcomeError because the script-security check refused to start it
}

// OK reports whether the run counts as a success.
func (r Result) OK() bool { return r.Outcome == OutcomeSuccess }

// String words the result the way a log line needs it.
func (r Result) String() string {
	switch r.Outcome {
	case OutcomeSuccess:
		return "succeeded"
	case OutcomeFailure:
		if r.Signal != 0 {
			return fmt.Sprintf("failed (due to signal %d)", r.Signal)
		}
		return fmt.Sprintf("failed (exited with status %d)", r.ExitCode)
	case OutcomeTimeout:
		return "timed out"
	case OutcomeError:
		return "could not start: " + r.Err
	}
	return r.Outcome.String()
}

// TrackerConfig is the debounce part of a vrrp_script.
type TrackerConfig struct {
	Interval time.Duration // time between starts of two runs; must be > 0
	Rise     int           // consecutive successes to become OK; < 1 means 1 (keepalived's default)
	Fall     int           // consecutive failures to become FAILED; < 1 means 1
	InitFail bool          // start in StateFailed and need Rise successes
}

// Change is a debounced state change.
type Change struct {
	From, To State
	Result   Result // the run that caused it
	Time     time.Time
}

// Tracker is the sans-I/O rise/fall core of a periodic checker, with
// keepalived's counting: a result counter in [0, rise+fall-1], OK iff the
// counter is ≥ rise. A tracker in StateInit becomes OK on its first success
// and FAILED on its first failure, whatever rise and fall are; with init_fail
// it starts FAILED and needs rise successes.
//
// It has no clock: the caller passes now, asks Deadline for the next run,
// calls Start when it starts a run and Handle with the result. The zero
// value is not usable; use NewTracker.
type Tracker struct {
	rise, fall int
	interval   time.Duration
	counter    int
	state      State
	next       time.Time
	running    bool
	last       Result
	runs       uint64
	skipped    uint64
}

// NewTracker returns a tracker whose first run is due at now.
func NewTracker(cfg TrackerConfig, now time.Time) *Tracker {
	if cfg.Interval <= 0 {
		panic("check: TrackerConfig.Interval must be positive")
	}
	t := &Tracker{rise: max(cfg.Rise, 1), fall: max(cfg.Fall, 1), interval: cfg.Interval, next: now}
	if cfg.InitFail {
		t.state = StateFailed
		t.counter = 0
	} else {
		t.state = StateInit
		t.counter = t.rise - 1 // one success is enough to leave init
	}
	return t
}

// State is the current debounced state.
func (t *Tracker) State() State { return t.state }

// Deadline is when the next run is due.
func (t *Tracker) Deadline() time.Time { return t.next }

// Last is the most recent result handled (zero before the first), so a
// caller can tell a failed tracker that timed out from one that exited
// non-zero.
func (t *Tracker) Last() Result { return t.last }

// Running reports whether a run was started and has not been handled yet.
func (t *Tracker) Running() bool { return t.running }

// Runs and Skipped count started runs and runs skipped because the previous
// one was still going.
func (t *Tracker) Runs() uint64    { return t.runs }
func (t *Tracker) Skipped() uint64 { return t.skipped }

// Start records that a run is due at now: the next deadline becomes
// now + interval. It returns false, and counts a skip, when the previous
// run has not finished yet: the caller must not start another process.
func (t *Tracker) Start(now time.Time) bool {
	t.next = now.Add(t.interval)
	if t.running {
		t.skipped++
		return false
	}
	t.running = true
	t.runs++
	return true
}

// Handle feeds the result of a run and returns the state change it causes,
// if any.
func (t *Tracker) Handle(r Result, now time.Time) (Change, bool) {
	t.running = false
	t.last = r
	from := t.state
	top := t.rise + t.fall - 1
	if r.OK() {
		switch {
		case t.counter < t.rise-1:
			t.counter++
		default:
			t.counter = top
			if from != StateOK {
				t.state = StateOK
			}
		}
	} else {
		switch {
		case t.counter > t.rise:
			t.counter--
		default:
			t.counter = 0
			if from != StateFailed {
				t.state = StateFailed
			}
		}
	}
	if t.state == from {
		return Change{}, false
	}
	return Change{From: from, To: t.state, Result: r, Time: now}, true
}
