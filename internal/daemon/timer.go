package daemon

import "time"

// loopTimer is the loop's single wake-up timer: Reset(d) arms it to fire
// once after d, Stop releases it. Firing calls the function it was made
// with on a goroutine of the timer's, not the loop goroutine: the loop's
// timer turn runs there (Daemon.timerFired).
type loopTimer interface {
	Reset(d time.Duration)
	Stop()
}

// goTimer is a time.AfterFunc timer: the fallback, and the timer of loop
// tests that run in a synctest bubble (where time is fake). As with the
// timerfd, its turn runs on a goroutine other than the loop's.
type goTimer struct{ t *time.Timer }

func newGoTimer(fire func(woke time.Time)) loopTimer {
	return goTimer{time.AfterFunc(time.Hour, func() { fire(time.Now()) })}
}

func (g goTimer) Reset(d time.Duration) { g.t.Reset(d) }

// Stop stops the timer; a call of fire already under way may still run
// (timerFired does nothing once the loop has ended).
func (g goTimer) Stop() { g.t.Stop() }

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
