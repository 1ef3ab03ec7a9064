package daemon

import (
	"log/slog"
	"regexp"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/vip/viptest"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// TestLoopTakeoverTimeline: a backup whose Master_Down_Interval runs out
// logs one takeover timeline at debug level, once its first GARP round is
// out: the timer's deadline exactly (the bubble's clock does not move
// while the loop works), and every later point present, none before it.
// An info-level logger gets none.
func TestLoopTakeoverTimeline(t *testing.T) {
	line := regexp.MustCompile(`msg="\(VI_1\) takeover timeline" .* due_unix_ns=(\d+) woke_us=(\S+) ran_us=(\S+) add_start_us=(\S+) add_done_us=(\S+) announced_us=(\S+) add_failed=false announce_failed=false`)
	synctest.Test(t, func(t *testing.T) {
		var logs syncBuffer
		log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		start := time.Now()
		startNodeOn(t, wire, viptest.NewKernel("eth0"), log, "192.0.2.1", "fe80::1", prio(pairConf, "150"))
		down := 3*time.Second + time.Duration(256-150)*time.Second/256
		sleepUntil(start, down-time.Millisecond)
		if m := line.FindAllStringSubmatch(logs.String(), -1); len(m) != 0 {
			t.Fatalf("timeline before the takeover: %q", m)
		}
		sleepUntil(start, down+time.Second)
		m := line.FindAllStringSubmatch(logs.String(), -1)
		if len(m) != 1 {
			t.Fatalf("%d timeline lines after the takeover, want 1; log:\n%s", len(m), logs.String())
		}
		due, err := strconv.ParseInt(m[0][1], 10, 64)
		if err != nil || due != start.Add(down).UnixNano() {
			t.Errorf("due %s, want the Master_Down deadline %d", m[0][1], start.Add(down).UnixNano())
		}
		for i, v := range m[0][2:] {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 {
				t.Errorf("point %d = %q: want a time at or after the deadline", i, v)
			}
		}
	})
	// Info level: nothing.
	synctest.Test(t, func(t *testing.T) {
		var logs syncBuffer
		log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		start := time.Now()
		n := startNodeOn(t, wire, viptest.NewKernel("eth0"), log, "192.0.2.1", "fe80::1", prio(pairConf, "150"))
		sleepUntil(start, 5*time.Second)
		if n.state("VI_1") != "MASTER" {
			t.Fatalf("after Master_Down_Interval: %s", n.state("VI_1"))
		}
		if m := line.FindAllString(logs.String(), -1); len(m) != 0 {
			t.Errorf("timeline at info level: %q", m)
		}
	})
}
