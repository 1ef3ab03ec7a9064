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
