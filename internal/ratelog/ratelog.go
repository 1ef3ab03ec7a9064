package ratelog

import (
	"fmt"
	"time"
)

// DefaultInterval is the summary interval vigil uses.
const DefaultInterval = 10 * time.Second

// DefaultMaxKeys bounds the keys a Limiter holds when MaxKeys is zero.
const DefaultMaxKeys = 1024

// Overflow is the Subject of the shared key that takes the events of new
// keys once a Limiter holds MaxKeys.
const Overflow = "(other subjects)"

// Key names one kind of repeated event.
type Key struct {
	What    string // plural noun phrase: "dropped adverts"
	Subject string // who it happened to or came from: "VI_1", "198.51.100.7"
	Reason  string // why, in a word: "checksum"; may be empty
}

// Summary reports the occurrences of Key that were counted but not logged
// during the Window that ended at End (one Interval, or more when Expire
// came late).
type Summary struct {
	Key        Key
	Suppressed uint64
	Window     time.Duration
	End        time.Time
}

// String is the summary line: "N more WHAT on SUBJECT (REASON) in the last
// WINDOW".
func (s Summary) String() string {
	msg := fmt.Sprintf("%d more %s on %s", s.Suppressed, s.Key.What, s.Key.Subject)
	if s.Key.Reason != "" {
		msg += " (" + s.Key.Reason + ")"
	}
	w := s.Window
	if w >= time.Second {
		w = w.Round(100 * time.Millisecond)
	}
	return msg + " in the last " + w.String()
}

// state is one key's open window.
type state struct {
	start      time.Time // window start
	suppressed uint64    // occurrences counted, not logged, in this window
}

// Limiter decides, per Key, which occurrences are logged. The zero value
// is not usable; build one with New.
type Limiter struct {
	interval time.Duration
	maxKeys  int
	keys     map[Key]*state
}

// Config sets a Limiter's interval and key bound.
type Config struct {
	// Interval is the length of a summary window; zero means
	// DefaultInterval.
	Interval time.Duration
	// MaxKeys bounds the keys held at once; zero means DefaultMaxKeys.
	MaxKeys int
}

// New returns a Limiter with no open window.
func New(cfg Config) *Limiter {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.MaxKeys <= 0 {
		cfg.MaxKeys = DefaultMaxKeys
	}
	return &Limiter{interval: cfg.Interval, maxKeys: cfg.MaxKeys, keys: map[Key]*state{}}
}

// Interval is the summary window.
func (l *Limiter) Interval() time.Duration { return l.interval }

// Event records one occurrence of k at now and reports whether the caller
// should log it in full: true for the first occurrence of a key with no
// open window, false while its window is open (the occurrence is counted
// into the window's summary).
//
// When the Limiter already holds MaxKeys keys, a new key is folded into
// the overflow key {What, Overflow}; the table can thus exceed MaxKeys by
// the number of distinct What values, which callers fix in code.
func (l *Limiter) Event(k Key, now time.Time) bool {
	s := l.keys[k]
	if s == nil && len(l.keys) >= l.maxKeys {
		k = Key{What: k.What, Subject: Overflow}
		s = l.keys[k]
	}
	if s != nil {
		s.suppressed++
		return false
	}
	l.keys[k] = &state{start: now}
	return true
}

// Deadline is when the earliest open window ends; false when none is
// open.
func (l *Limiter) Deadline() (time.Time, bool) {
	var next time.Time
	found := false
	for _, s := range l.keys {
		if end := s.start.Add(l.interval); !found || end.Before(next) {
			next, found = end, true
		}
	}
	return next, found
}

// Expire ends every window whose interval is over at now (start+Interval
// <= now). A window that counted occurrences yields a Summary covering
// the window up to now, and a new window opens at now, so a flood that
// goes on is summarised once per interval; a window that counted nothing
// forgets its key. Summaries come in no particular order.
func (l *Limiter) Expire(now time.Time) []Summary {
	var out []Summary
	for k, s := range l.keys {
		if now.Before(s.start.Add(l.interval)) {
			continue
		}
		if s.suppressed == 0 {
			delete(l.keys, k)
			continue
		}
		out = append(out, Summary{Key: k, Suppressed: s.suppressed, Window: now.Sub(s.start), End: now})
		s.suppressed = 0
		s.start = now
	}
	return out
}

// Pending is the number of occurrences counted but not yet summarised,
// over every key.
func (l *Limiter) Pending() uint64 {
	var n uint64
	for _, s := range l.keys {
		n += s.suppressed
	}
	return n
}
