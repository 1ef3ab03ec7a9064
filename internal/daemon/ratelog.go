package daemon

import (
	"context"
	"log/slog"
	"time"

	"github.com/vigil-ha/vigil/internal/ratelog"
)

// rateLogs holds back the log lines of events that can repeat at the rate
// of packets or netlink events (dropped adverts, failing sends, scripts
// that cannot run): the first of a kind is logged in full, the rest are
// summarised once per interval. Counters are kept elsewhere and stay
// exact. Loop only (tracking's copy: also loop only).
type rateLogs struct {
	log    *slog.Logger
	lim    *ratelog.Limiter
	levels map[string]slog.Level // summary level by Key.What, fixed in code
}

func newRateLogs(log *slog.Logger) *rateLogs {
	return &rateLogs{log: log, lim: ratelog.New(ratelog.Config{}), levels: map[string]slog.Level{}}
}

// allow records one occurrence and reports whether the caller logs it in
// full at level. An occurrence whose level the logger drops is not
// recorded at all.
func (r *rateLogs) allow(level slog.Level, what, subject, reason string, now time.Time) bool {
	if !r.log.Enabled(context.Background(), level) {
		return false
	}
	r.levels[what] = level
	return r.lim.Event(ratelog.Key{What: what, Subject: subject, Reason: reason}, now)
}

// deadline is when the next summary is due.
func (r *rateLogs) deadline() (time.Time, bool) { return r.lim.Deadline() }

// flush logs the summaries that are due at now.
func (r *rateLogs) flush(now time.Time) {
	for _, s := range r.lim.Expire(now) {
		r.log.Log(context.Background(), r.levels[s.Key.What], s.String(),
			"suppressed", s.Suppressed, "subject", s.Key.Subject, "reason", s.Key.Reason)
	}
}

// rateLogs returns the daemon's limiter, made on first use.
func (d *Daemon) rateLogs() *rateLogs {
	if d.rl == nil {
		d.rl = newRateLogs(d.log)
	}
	return d.rl
}
