package ftfw

import "time"

// bulkGate is the rule that decides when a requested bulk starts. A bulk costs the
// whole table in messages, and anyone who can forge the peer's address can ask for
// one (RESYNC and HELLO carry no proof), so requests are coalesced and rate-limited:
//
//   - at most one bulk is in flight (queued or unacknowledged) at a time;
//   - requests that arrive while one is in flight, or while the gate waits, are
//     remembered once: however many there are, they make one more bulk, started
//     after the current one finishes;
//   - two bulks asked for by the peer start at least minInterval apart; a local
//     request (a takeover) does not wait for minInterval, only for the bulk in flight.
//
// So N requests in any burst cost at most the bulk in flight plus one. The gate is
// pure: it is told whether a bulk is in flight and the time.
type bulkGate struct {
	minInterval time.Duration
	want        bool      // a request is waiting
	local       bool      // ... and one of them was local
	requests    uint64    // requests the waiting bulk will serve
	started     bool      // a bulk has started before
	last        time.Time // when the last bulk started
}

// request records one request for a bulk.
func (g *bulkGate) request(local bool) {
	g.want = true
	g.local = g.local || local
	g.requests++
}

// start reports whether a bulk starts now, and how many requests it serves. When it
// returns true, the caller must queue the bulk before calling start again (until
// then, the gate cannot know that the bulk is in flight).
func (g *bulkGate) start(now time.Time, inFlight bool) (bool, uint64) {
	if !g.want || inFlight {
		return false, 0
	}
	if !g.local && g.started && now.Before(g.last.Add(g.minInterval)) {
		return false, 0
	}
	n := g.requests
	g.want, g.local, g.requests = false, false, 0
	g.started, g.last = true, now
	return true, n
}

// deadline returns when start may return true, or the zero time if only an event
// (a request, the bulk in flight finishing) can open the gate.
func (g *bulkGate) deadline(inFlight bool) time.Time {
	if !g.want || inFlight {
		return time.Time{}
	}
	if !g.local && g.started {
		return g.last.Add(g.minInterval)
	}
	return time.Time{} // ready now; Channel.ready reports it
}

// ready reports whether start would return true at now.
func (g *bulkGate) ready(now time.Time, inFlight bool) bool {
	if !g.want || inFlight {
		return false
	}
	return g.local || !g.started || !now.Before(g.last.Add(g.minInterval))
}
