package healthcheck

import (
	"math"
	"time"
)

// Verdict is what one attempt of a checker found.
type Verdict uint8

const (
	// Success: the real server answered as required.
	Success Verdict = iota + 1
	// Failure: a connection or protocol failure; counted towards retry.
	Failure
	// Skip: a local error that is not the server's fault (socket or bind
	// failure): keepalived reschedules the probe after delay_loop without
	// counting it.
	Skip
	// Partial: the attempt passed but the check is not complete (HTTP_GET
	// checks one url per attempt, and a down checker comes up only after
	// a whole pass): it clears the retry count, changes no state, and the
	// next attempt follows after delay_loop.
	Partial
)

// String returns "success", "failure" or "skip".
func (v Verdict) String() string {
	switch v {
	case Success:
		return "success"
	case Failure:
		return "failure"
	case Skip:
		return "skip"
	case Partial:
		return "partial"
	}
	return "unknown"
}

// Result is the outcome of one attempt.
type Result struct {
	Verdict Verdict
	// ExitCode is a MISC_CHECK script's exit status (-1 when it was killed
	// by a signal or did not start); misc_dynamic turns 2..255 into a
	// weight.
	ExitCode int
	Err      string // why it failed or was skipped; "" on success
	// Again asks for the next attempt at once rather than after
	// delay_loop; only a Partial result may (HTTP_GET fast_recovery).
	Again bool
}

// Timing holds one checker's resolved keepalived timers.
type Timing struct {
	DelayLoop        time.Duration // L: period between checks
	DelayBeforeRetry time.Duration // D: period between retries
	Retry            int           // R: R+1 consecutive failures mark the checker down
	Warmup           time.Duration // W: the first check lands in [1 s, 1 s + W] after start
	Alpha            bool          // start down instead of up
}

// firstCheckDelay is keepalived's fixed part of the first check's delay,
// before the random warmup part.
const firstCheckDelay = time.Second

// minMiscDelay is keepalived's floor for the next MISC_CHECK start.
const minMiscDelay = time.Microsecond

// Core is one checker's state with keepalived 2.2.7's timing: a pure value
// driven by the caller's clock. The caller runs an attempt when now reaches
// Deadline and Start agrees, and feeds the outcome to Finish. FILE_CHECK
// has no timers: its values arrive through FileValue.
type Core struct {
	kind    Kind
	t       Timing
	dynamic bool  // MISC_CHECK misc_dynamic
	base    int64 // the real server's configured weight (misc_dynamic)

	up       bool
	hasRun   bool
	retryIt  int
	retrying bool // the pending attempt is a retry (spaced D)
	running  bool
	offset   int64 // weight added to the real server's
	next     time.Time
	started  time.Time
}

// CoreConfig describes a checker for NewCore.
type CoreConfig struct {
	Kind   Kind
	Timing Timing
	// MiscDynamic and BaseWeight: with misc_dynamic an exit status of
	// 2..255 sets the real server's weight to status-2, expressed as an
	// offset from BaseWeight (the real server's configured weight).
	MiscDynamic bool
	BaseWeight  int
}

// NewCore returns a checker whose first attempt is due at now + 1 s +
// jitter; the caller draws jitter uniformly from [0, Timing.Warmup] (pure
// code has no random source). An alpha checker starts down, any other up.
// The first failure is final (no retries), except for SMTP_CHECK, whose
// every scheduled check gets its retries.
func NewCore(cfg CoreConfig, now time.Time, jitter time.Duration) *Core {
	c := &Core{kind: cfg.Kind, t: cfg.Timing, dynamic: cfg.MiscDynamic, base: int64(cfg.BaseWeight), up: !cfg.Timing.Alpha}
	if c.t.Retry < 0 {
		c.t.Retry = 0
	}
	if c.kind != KindSMTP {
		c.retryIt = c.t.Retry
	}
	if c.kind != KindFile {
		c.next = now.Add(firstCheckDelay + jitter)
	}
	return c
}

// Kind returns the checker's kind.
func (c *Core) Kind() Kind { return c.kind }

// Up reports whether the checker counts as up.
func (c *Core) Up() bool { return c.up }

// HasRun reports whether a result has been seen.
func (c *Core) HasRun() bool { return c.hasRun }

// Offset is the weight this checker adds to its real server's
// (misc_dynamic, FILE_CHECK); 0 for the others.
func (c *Core) Offset() int64 { return c.offset }

// Running reports whether an attempt is in flight.
func (c *Core) Running() bool { return c.running }

// Deadline is when the next attempt is due; the zero time when none is
// (an attempt is in flight, or the checker is a FILE_CHECK).
func (c *Core) Deadline() time.Time {
	if c.running || c.kind == KindFile {
		return time.Time{}
	}
	return c.next
}

// Start begins an attempt if one is due at now; it reports whether the
// caller should probe.
func (c *Core) Start(now time.Time) bool {
	if c.running || c.kind == KindFile || now.Before(c.next) {
		return false
	}
	c.running, c.started = true, now
	if c.kind == KindSMTP && !c.retrying {
		c.retryIt = 0 // each scheduled SMTP check gets its retries again
	}
	return true
}

// Change is what a result changed.
type Change struct {
	First         bool  // the checker's first result
	StateChanged  bool  // Up changed
	Up            bool  // the checker's state after the result
	OffsetChanged bool  // Offset changed
	Offset        int64 // the checker's weight offset after the result
}

// Finish records the outcome of the attempt started last and schedules
// the next one, with keepalived's rules: a success brings the checker up
// at once and clears the retry count; a failure while up is retried after
// D until R+1 consecutive attempts have failed, and that one marks it down;
// a skip waits L without counting. While down, TCP_CHECK and SMTP_CHECK
// keep probing in cycles of R+1 attempts spaced D then L, HTTP_GET and
// SSL_GET every max(D, L), the others every L. Periods run from the end of
// the attempt, MISC_CHECK's from its start (at least 1 µs ahead).
func (c *Core) Finish(now time.Time, r Result) Change {
	if !c.running {
		return Change{Up: c.up, Offset: c.offset}
	}
	c.running = false
	ch := Change{First: !c.hasRun}
	c.hasRun = true
	oldUp, oldOff := c.up, c.offset
	wait := c.t.DelayLoop
	retry := false
	switch r.Verdict {
	case Partial:
		c.retryIt = 0
	case Success:
		c.retryIt = 0
		c.up = true
		if c.dynamic {
			c.offset = 0
			if r.ExitCode >= 2 && r.ExitCode <= 255 {
				c.offset = int64(r.ExitCode-2) - c.base
			}
		}
	case Failure:
		if c.dynamic {
			c.offset = 0
		}
		switch {
		case c.up && c.retryIt < c.t.Retry:
			c.retryIt++
			retry = true
		case c.up:
			c.up = false
			c.retryIt = 0
			if c.kind == KindHTTP || c.kind == KindSSL {
				wait = max(c.t.DelayBeforeRetry, c.t.DelayLoop)
			}
		case c.kind == KindTCP || c.kind == KindSMTP:
			if c.retryIt < c.t.Retry {
				c.retryIt++
				retry = true
			} else {
				c.retryIt = 0
			}
		case c.kind == KindHTTP || c.kind == KindSSL:
			wait = max(c.t.DelayBeforeRetry, c.t.DelayLoop)
		}
	}
	if retry {
		wait = c.t.DelayBeforeRetry
	}
	if r.Verdict == Partial && r.Again {
		wait = 0
	}
	c.retrying = retry
	from := now
	if c.kind == KindMisc {
		from = c.started
	}
	c.next = from.Add(wait)
	if c.kind == KindMisc && !c.next.After(now) {
		c.next = now.Add(minMiscDelay)
	}
	ch.Up, ch.Offset = c.up, c.offset
	ch.StateChanged, ch.OffsetChanged = c.up != oldUp, c.offset != oldOff
	return ch
}

// FileValue applies a FILE_CHECK's track file value as keepalived does:
// with weight 0 a non-zero value (with reverse: a zero value) fails the
// checker; otherwise value×weight (negated with reverse) is added to the
// real server's weight, and only a product at or below -2147483648 fails
// it.
func (c *Core) FileValue(value int64, weight int, reverse bool) Change {
	ch := Change{First: !c.hasRun}
	c.hasRun = true
	oldUp, oldOff := c.up, c.offset
	if weight == 0 {
		c.up = (value == 0) != reverse
		c.offset = 0
	} else {
		p := value * int64(weight)
		if reverse {
			p = -p
		}
		c.up = p > math.MinInt32
		c.offset = 0
		if c.up {
			c.offset = p
		}
	}
	ch.Up, ch.Offset = c.up, c.offset
	ch.StateChanged, ch.OffsetChanged = c.up != oldUp, c.offset != oldOff
	return ch
}

// RealServerState is keepalived's rule for a real server with these
// checkers: it is up when every checker is up (no checker: always up),
// and its weight is the configured one plus every checker's offset,
// clamped to 0..2147483647 as IPVS takes it.
func RealServerState(weight int, checkers []*Core) (up bool, effective int64) {
	up = true
	w := int64(weight)
	for _, c := range checkers {
		up = up && c.up
		w += c.offset
	}
	return up, min(max(w, 0), math.MaxInt32)
}

// Carried is the part of a checker's state a reload keeps (keepalived
// migrates it to the same checker in the new configuration).
type Carried struct {
	Up, HasRun bool
	RetryIt    int
	Offset     int64 // misc_dynamic's weight
}

// Carry returns the state a reload keeps.
func (c *Core) Carry() Carried {
	return Carried{Up: c.up, HasRun: c.hasRun, RetryIt: c.retryIt, Offset: c.offset}
}

// Restore takes over a carried state, as keepalived does at a reload: the
// state, whether it has run and the dynamic weight; the retry count is
// kept below the new retry. The first attempt stays where NewCore put it.
// FILE_CHECK keeps nothing (its file is read again).
func (c *Core) Restore(s Carried) {
	if c.kind == KindFile {
		return
	}
	c.up, c.hasRun = s.Up, s.HasRun
	c.retryIt = min(s.RetryIt, max(c.t.Retry-1, 0))
	if c.dynamic {
		c.offset = s.Offset
	}
}

// MarshalText writes the verdict's name.
func (v Verdict) MarshalText() ([]byte, error) { return []byte(v.String()), nil }
