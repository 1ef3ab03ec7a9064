package daemon

import "time"

// loopTimer is the loop's single wake-up timer: Reset(d) arms it to fire
// once after d, C delivers the firing, Stop releases it.
type loopTimer interface {
	Reset(d time.Duration)
	C() <-chan time.Time
	Stop()
}

// goTimer is a time.Timer: the fallback, and the timer of loop tests that
// run in a synctest bubble (where time is fake).
type goTimer struct{ t *time.Timer }

func newGoTimer() loopTimer { return goTimer{time.NewTimer(time.Hour)} }

func (g goTimer) Reset(d time.Duration) { g.t.Reset(d) }
func (g goTimer) C() <-chan time.Time   { return g.t.C }
func (g goTimer) Stop()                 { g.t.Stop() }

// rearmNeeded reports whether the loop's timer, armed for the deadline
// armed (zero: not armed, an hour's wait), must be armed again for next,
// the earliest deadline now (zero: none). fired says the timer has fired
// since it was armed: then it is always armed again.
//
// A timer armed earlier than next stays as it is: it fires early, the
// loop finds nothing due and arms it then. A backup's advert moves its
// Master_Down deadline later, and with many instances the one that hears
// the next advert is usually the earliest: re-arming on every later
// deadline costs a system call per advert received, leaving the timer
// early costs one idle wake-up per Master_Down interval at most.
func rearmNeeded(fired bool, armed, next time.Time) bool {
	switch {
	case fired:
		return true
	case next.IsZero():
		return false // an early wake-up finds nothing due
	case armed.IsZero():
		return true
	default:
		return next.Before(armed)
	}
}
