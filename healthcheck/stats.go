package healthcheck

import (
	"slices"
	"time"
)

// CheckerStats is one checker's state and counters, as Snapshot returns
// them for vigilctl status and metrics.
type CheckerStats struct {
	ID          CheckerID     `json:"id"`
	Kind        Kind          `json:"kind"`
	Up          bool          `json:"up"`
	HasRun      bool          `json:"has_run"`
	Offset      int64         `json:"weight_offset"` // misc_dynamic / FILE_CHECK weight added to the real server's
	Attempts    uint64        `json:"attempts"`
	Successes   uint64        `json:"successes"`
	Failures    uint64        `json:"failures"`
	Skips       uint64        `json:"skips"`       // local errors, rescheduled without counting
	Transitions uint64        `json:"transitions"` // up↔down changes
	LastVerdict Verdict       `json:"last_verdict"`
	LastLatency time.Duration `json:"last_latency"`
	LastError   string        `json:"last_error,omitempty"`
	LastTime    time.Time     `json:"last_time"`
	Next        time.Time     `json:"next"` // zero while an attempt is in flight, and for FILE_CHECK
}

// Snapshot returns every checker's stats, ordered by CheckerID.
func (s *Scheduler) Snapshot() []CheckerStats {
	s.mu.Lock()
	out := make([]CheckerStats, 0, len(s.stats))
	for _, st := range s.stats {
		out = append(out, *st)
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b CheckerStats) int {
		switch {
		case a.ID.VS != b.ID.VS:
			return a.ID.VS - b.ID.VS
		case a.ID.RS != b.ID.RS:
			return a.ID.RS - b.ID.RS
		}
		return a.ID.Checker - b.ID.Checker
	})
	return out
}

// RSStats is a real server's state as the checkers see it.
type RSStats struct {
	ID          RSID   `json:"id"`
	Up          bool   `json:"up"`     // every checker is up
	Weight      int64  `json:"weight"` // effective, clamped to 0..2147483647
	Checkers    int    `json:"checkers"`
	Transitions uint64 `json:"transitions"` // up↔down changes
}

// RealServers returns every real server's state, ordered by RSID.
func (s *Scheduler) RealServers() []RSStats {
	s.mu.Lock()
	out := make([]RSStats, 0, len(s.rsStats))
	for _, st := range s.rsStats {
		out = append(out, *st)
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b RSStats) int {
		if a.ID.VS != b.ID.VS {
			return a.ID.VS - b.ID.VS
		}
		return a.ID.RS - b.ID.RS
	})
	return out
}
