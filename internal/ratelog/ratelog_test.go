package ratelog

import (
	"fmt"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

var drop = Key{What: "dropped adverts", Subject: "VI_1", Reason: "checksum"}

// TestFirstLoggedThenSummarised: the first occurrence is logged, the rest
// of the interval only counted; the summary is due exactly at the end of
// the interval, not a nanosecond earlier, and counts every suppressed one.
func TestFirstLoggedThenSummarised(t *testing.T) {
	l := New(Config{Interval: 10 * time.Second})
	if _, ok := l.Deadline(); ok {
		t.Fatal("deadline with no event")
	}
	if !l.Event(drop, t0) {
		t.Fatal("first occurrence not logged")
	}
	for i := range 999 {
		if l.Event(drop, t0.Add(time.Duration(i)*time.Millisecond)) {
			t.Fatalf("occurrence %d inside the interval logged", i+2)
		}
	}
	if d, ok := l.Deadline(); !ok || !d.Equal(t0.Add(10*time.Second)) {
		t.Fatalf("deadline %v %v, want t0+10s", d, ok)
	}
	if s := l.Expire(t0.Add(10*time.Second - time.Nanosecond)); len(s) != 0 {
		t.Fatalf("summary before the interval ended: %v", s)
	}
	if l.Pending() != 999 {
		t.Fatalf("pending %d, want 999", l.Pending())
	}
	s := l.Expire(t0.Add(10 * time.Second))
	if len(s) != 1 || s[0].Suppressed != 999 || s[0].Key != drop || s[0].Window != 10*time.Second {
		t.Fatalf("summary %+v", s)
	}
	if got, want := s[0].String(), "999 more dropped adverts on VI_1 (checksum) in the last 10s"; got != want {
		t.Errorf("summary line %q, want %q", got, want)
	}
	if l.Pending() != 0 {
		t.Errorf("pending %d after the summary", l.Pending())
	}
}

// TestFloodOneSummaryPerInterval: a steady flood over a minute yields one
// full line and then one summary per interval, and the lines account for
// every occurrence.
func TestFloodOneSummaryPerInterval(t *testing.T) {
	l := New(Config{Interval: 10 * time.Second})
	var logged, summaries int
	var total uint64
	now := t0
	end := t0.Add(time.Minute)
	for ; now.Before(end); now = now.Add(time.Millisecond) {
		if d, ok := l.Deadline(); ok && !now.Before(d) {
			for _, s := range l.Expire(now) {
				summaries++
				total += s.Suppressed
			}
		}
		if l.Event(drop, now) {
			logged++
			total++
		}
	}
	for _, s := range l.Expire(now.Add(time.Hour)) {
		summaries++
		total += s.Suppressed
	}
	if logged != 1 {
		t.Errorf("%d full lines, want 1", logged)
	}
	if summaries != 6 {
		t.Errorf("%d summaries for a one-minute flood at 10 s, want 6", summaries)
	}
	if total != 60000 {
		t.Errorf("lines account for %d occurrences, want 60000", total)
	}
}

// TestQuietIntervalForgetsKey: after an interval with no occurrence the
// key is forgotten and the next occurrence is logged in full again; a
// window that counted nothing yields no summary.
func TestQuietIntervalForgetsKey(t *testing.T) {
	l := New(Config{Interval: time.Second})
	l.Event(drop, t0)
	if s := l.Expire(t0.Add(time.Second)); len(s) != 0 {
		t.Fatalf("summary of an empty window: %v", s)
	}
	if _, ok := l.Deadline(); ok {
		t.Fatal("forgotten key still has a deadline")
	}
	if !l.Event(drop, t0.Add(1500*time.Millisecond)) {
		t.Fatal("occurrence after a quiet interval not logged")
	}
	// A window that did summarise stays open one more interval: an
	// occurrence in it is counted, not logged.
	l.Event(drop, t0.Add(1600*time.Millisecond))
	if s := l.Expire(t0.Add(2500 * time.Millisecond)); len(s) != 1 {
		t.Fatalf("summaries %v", s)
	}
	if l.Event(drop, t0.Add(3*time.Second)) {
		t.Fatal("occurrence in the window after a summary logged in full")
	}
	l.Expire(t0.Add(3500 * time.Millisecond))
	l.Expire(t0.Add(4500 * time.Millisecond))
	if !l.Event(drop, t0.Add(5*time.Second)) {
		t.Fatal("key not forgotten after a quiet window")
	}
}

// TestKeysIndependent: each (what, subject, reason) has its own window.
func TestKeysIndependent(t *testing.T) {
	l := New(Config{Interval: time.Second})
	other := drop
	other.Reason = "ttl"
	vi2 := drop
	vi2.Subject = "VI_2"
	for _, k := range []Key{drop, other, vi2} {
		if !l.Event(k, t0) {
			t.Errorf("first %v not logged", k)
		}
		if l.Event(k, t0) {
			t.Errorf("second %v logged", k)
		}
	}
	if s := l.Expire(t0.Add(time.Second)); len(s) != 3 {
		t.Errorf("%d summaries, want 3", len(s))
	}
}

// TestLateExpire: Expire called late covers the whole time since the
// window opened, and the next window opens at the call.
func TestLateExpire(t *testing.T) {
	l := New(Config{Interval: time.Second})
	l.Event(drop, t0)
	l.Event(drop, t0.Add(2*time.Second))
	s := l.Expire(t0.Add(3 * time.Second))
	if len(s) != 1 || s[0].Window != 3*time.Second || s[0].Suppressed != 1 {
		t.Fatalf("late summary %+v", s)
	}
	if d, _ := l.Deadline(); !d.Equal(t0.Add(4 * time.Second)) {
		t.Errorf("next deadline %v, want t0+4s", d)
	}
}

// TestHostileKeysBounded: keys built from hostile input (a source address
// per packet) cannot grow the table past MaxKeys plus one overflow key,
// and the overflow key still counts every occurrence.
func TestHostileKeysBounded(t *testing.T) {
	l := New(Config{Interval: time.Second, MaxKeys: 8})
	logged := 0
	for i := range 100000 {
		k := Key{What: "dropped datagrams", Subject: fmt.Sprintf("198.51.100.%d:%d", i%250, i), Reason: "auth"}
		if l.Event(k, t0) {
			logged++
		}
	}
	if len(l.keys) != 9 {
		t.Errorf("%d keys held, want 8 + 1 overflow", len(l.keys))
	}
	if logged != 9 {
		t.Errorf("%d full lines, want 9", logged)
	}
	var total uint64
	for _, s := range l.Expire(t0.Add(time.Second)) {
		total += s.Suppressed
		if s.Key.Subject == Overflow && s.Suppressed != 100000-9 {
			t.Errorf("overflow counted %d, want %d", s.Suppressed, 100000-9)
		}
	}
	if total+uint64(logged) != 100000 {
		t.Errorf("accounted %d, want 100000", total+uint64(logged))
	}
}

func TestDefaults(t *testing.T) {
	l := New(Config{})
	if l.Interval() != DefaultInterval || l.maxKeys != DefaultMaxKeys {
		t.Errorf("defaults: %v %d", l.Interval(), l.maxKeys)
	}
	s := Summary{Key: Key{What: "send errors", Subject: "VI_1"}, Suppressed: 3, Window: 10*time.Second + 37*time.Millisecond}
	if got, want := s.String(), "3 more send errors on VI_1 in the last 10s"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
}
