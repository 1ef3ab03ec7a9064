package daemon

import (
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestRateLogs: the daemon's limiter logs the first occurrence, summarises
// the rest at the level of the line they stand for, and records nothing
// for a level the logger drops.
func TestRateLogs(t *testing.T) {
	var out syncBuffer
	r := newRateLogs(slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelInfo})))
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if r.allow(slog.LevelDebug, "dropped adverts", "VI_1", "ttl", t0) {
		t.Error("a debug line is let through by an info logger")
	}
	if _, ok := r.deadline(); ok {
		t.Error("a dropped level opened a window")
	}
	if !r.allow(slog.LevelWarn, "advert send failures", "VI_1", "", t0) {
		t.Fatal("first occurrence held back")
	}
	for i := range 500 {
		if r.allow(slog.LevelWarn, "advert send failures", "VI_1", "", t0.Add(time.Duration(i)*time.Millisecond)) {
			t.Fatalf("occurrence %d logged", i+2)
		}
	}
	if d, ok := r.deadline(); !ok || !d.Equal(t0.Add(10*time.Second)) {
		t.Fatalf("deadline %v %v", d, ok)
	}
	r.flush(t0.Add(10*time.Second - time.Nanosecond))
	if out.String() != "" {
		t.Fatalf("summary before the deadline: %s", out.String())
	}
	r.flush(t0.Add(10 * time.Second))
	if got := out.String(); !strings.Contains(got, "level=WARN") ||
		!strings.Contains(got, `msg="500 more advert send failures on VI_1 in the last 10s"`) {
		t.Errorf("summary line: %s", got)
	}
}
