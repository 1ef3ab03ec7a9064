package conntracksync

import (
	"time"
)

// DefaultCommitTimeoutSec is the CTA_TIMEOUT given to a committed flow whose
// timeout is unknown (the sender used CommitTimeout, so it sent none) when
// no CommitTimeout is configured here either.
const DefaultCommitTimeoutSec = 180

// CommitStats describes one commit of the external cache into the kernel.
type CommitStats struct {
	Entries  int            `json:"entries"`  // flows in the external cache when the commit started
	Created  int            `json:"created"`  // new kernel entries
	Updated  int            `json:"updated"`  // entries that existed (EEXIST) and were updated in place
	Replaced int            `json:"replaced"` // entries that existed and could not be updated: deleted and created again
	Failed   int            `json:"failed"`   // entries the kernel refused; see Errors
	Errors   map[string]int `json:"errors"`   // errno text → count, for the failed entries
	Duration time.Duration  `json:"duration"`
	// Warm counts, with a warm standby (Config.WarmStandby), the flows of
	// the external cache that were in the kernel already and were not
	// written again; the other counts are then of the dirty set.
	Warm int `json:"warm"`
}

// Add adds o's counts (not Entries, Duration or Warm) to s.
func (s *CommitStats) Add(o CommitStats) {
	s.Created += o.Created
	s.Updated += o.Updated
	s.Replaced += o.Replaced
	s.Failed += o.Failed
	for k, v := range o.Errors {
		if s.Errors == nil {
			s.Errors = make(map[string]int)
		}
		s.Errors[k] += v
	}
}

// CommitTimeoutSec computes a flow's CTA_TIMEOUT as conntrackd does: the
// configured CommitTimeout if any; otherwise the timeout the peer sent minus
// the time since the entry was last updated (at least 1 s); otherwise
// DefaultCommitTimeoutSec.
func CommitTimeoutSec(e *Entry, now time.Time, commitTimeout time.Duration) uint32 {
	if commitTimeout > 0 {
		return uint32(max(1, commitTimeout/time.Second))
	}
	if e.Flow.TimeoutSec == 0 {
		return DefaultCommitTimeoutSec
	}
	left := int64(e.Flow.TimeoutSec)
	if !e.Updated.IsZero() {
		left -= int64(now.Sub(e.Updated) / time.Second)
	}
	return uint32(max(1, left))
}
