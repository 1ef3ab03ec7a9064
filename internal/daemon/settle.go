package daemon

import "time"

// startSettle tells when the daemon's start-up has settled: the
// instances have made their first transitions (a MASTER of the
// configuration becomes one after a BACKUP turn; a backup that hears no
// master takes over after its Master_Down_Interval), the announcement
// rounds of those transitions have gone out and the kernel worker has
// nothing left. What only starting touched (a new master's address
// additions and GARP rounds included) can then be given back
// (Daemon.Settled). It settles once: a later transition is a failover,
// not start-up.
//
// The loop tells it of each change (the start, every transition) and
// asks it at its deadline whether start-up is still busy; it reads no
// clock.
type startSettle struct {
	quiet  time.Duration // how long no transition must have happened
	at     time.Time     // when to look again; zero until the instances start
	done   chan struct{} // closed when start-up has settled
	closed bool
}

func newSettle() *startSettle { return &startSettle{done: make(chan struct{})} }

// minSettleQuiet is the least quiet time that settles start-up, whatever
// the instances' timers.
const minSettleQuiet = time.Second

// settleQuiet is how long start-up waits without a transition: the
// longest Master_Down_Interval of the instances (a backup that hears no
// master has taken over by then), at least minSettleQuiet.
func settleQuiet(masterDown []time.Duration) time.Duration {
	q := minSettleQuiet
	for _, d := range masterDown {
		q = max(q, d)
	}
	return q
}

// changed records a start-up change (the instances' start, a transition)
// at now: start-up settles no sooner than quiet after it.
func (s *startSettle) changed(now time.Time) {
	if !s.closed {
		s.at = now.Add(s.quiet)
	}
}

// deadline is when the loop must call check; none before the start or
// once settled.
func (s *startSettle) deadline() (time.Time, bool) {
	return s.at, !s.closed && !s.at.IsZero()
}

// check settles start-up at now if its deadline has come and nothing of
// it is still going (busy: an instance in INIT, an announcement round
// waiting, the kernel worker not idle); busy, it looks again quiet later.
// It reports whether start-up settled in this call.
func (s *startSettle) check(now time.Time, busy bool) bool {
	if s.closed || s.at.IsZero() || now.Before(s.at) {
		return false
	}
	if busy {
		s.at = now.Add(s.quiet)
		return false
	}
	s.closed = true
	close(s.done)
	return true
}
