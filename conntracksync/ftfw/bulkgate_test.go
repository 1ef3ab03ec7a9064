package ftfw

import (
	"testing"
	"time"
)

// The bulk gate: one bulk in flight, requests meanwhile remembered once, peer
// requests at least minInterval apart (both sides of the boundary), local requests
// only wait for the bulk in flight.
func TestBulkGate(t *testing.T) {
	const minI = time.Second
	type step struct {
		at       time.Duration
		req      int  // peer requests before the check
		local    bool // one local request before the check
		inFlight bool
		start    bool   // start's answer
		serves   uint64 // requests served when it starts
		deadline time.Duration
	}
	never := time.Duration(-1)
	tests := []struct {
		name  string
		steps []step
	}{
		{"idle: first request starts at once", []step{
			{at: 0, req: 1, start: true, serves: 1, deadline: never},
			{at: 0, start: false, deadline: never},
		}},
		{"flood while in flight: one more bulk after it", []step{
			{at: 0, req: 1, start: true, serves: 1, deadline: never},
			{at: 10 * time.Millisecond, req: 50, inFlight: true, start: false, deadline: never},
			{at: 3 * time.Second, req: 50, inFlight: true, start: false, deadline: never},
			{at: 4 * time.Second, start: true, serves: 100, deadline: never},
			{at: 4 * time.Second, start: false, deadline: never},
		}},
		{"minimum interval between peer bulks, exact boundary", []step{
			{at: 0, req: 1, start: true, serves: 1, deadline: never},
			{at: 1, req: 3, start: false, deadline: minI},
			{at: minI - 1, start: false, deadline: minI},
			{at: minI, start: true, serves: 3, deadline: never},
		}},
		{"interval counts from the start, not from the request", []step{
			{at: 0, req: 1, start: true, serves: 1, deadline: never},
			{at: 5 * time.Second, req: 1, start: true, serves: 1, deadline: never},
		}},
		{"a local request skips the interval but not the bulk in flight", []step{
			{at: 0, req: 1, start: true, serves: 1, deadline: never},
			{at: 1, local: true, inFlight: true, start: false, deadline: never},
			{at: 2, start: true, serves: 1, deadline: never},
		}},
		{"peer requests waiting for the interval ride with a local one", []step{
			{at: 0, req: 1, start: true, serves: 1, deadline: never},
			{at: 1, req: 2, start: false, deadline: minI},
			{at: 2, local: true, start: true, serves: 3, deadline: never},
			{at: 3, req: 1, start: false, deadline: 2 + minI},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := bulkGate{minInterval: minI}
			for i, s := range tc.steps {
				now := t0.Add(s.at)
				for range s.req {
					g.request(false)
				}
				if s.local {
					g.request(true)
				}
				if r := g.ready(now, s.inFlight); r != s.start {
					t.Fatalf("step %d: ready %v, want %v", i, r, s.start)
				}
				ok, n := g.start(now, s.inFlight)
				if ok != s.start || n != s.serves {
					t.Fatalf("step %d: start %v serving %d, want %v serving %d", i, ok, n, s.start, s.serves)
				}
				d := g.deadline(s.inFlight)
				if s.deadline == never {
					if !d.IsZero() {
						t.Fatalf("step %d: deadline %v, want none", i, d.Sub(t0))
					}
				} else if !d.Equal(t0.Add(s.deadline)) {
					t.Fatalf("step %d: deadline %v, want %v", i, d.Sub(t0), s.deadline)
				}
			}
		})
	}
}
