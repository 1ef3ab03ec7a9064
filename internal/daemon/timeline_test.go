package daemon

import (
	"log/slog"
	"net/netip"
	"regexp"
	"runtime"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/vip/viptest"
	"github.com/vigil-ha/vigil/vrrp"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// TestLoopTakeoverTimeline: a backup whose Master_Down_Interval runs out
// logs one takeover timeline at debug level, once its first GARP round is
// out: the timer's deadline exactly (the bubble's clock does not move
// while the loop works), every later point present, none before it, and
// the CPUs the loop and the worker ran on.
// An info-level logger gets none.
func TestLoopTakeoverTimeline(t *testing.T) {
	line := regexp.MustCompile(`msg="\(VI_1\) takeover timeline" .* due_unix_ns=(\d+) woke_us=(\S+) ran_us=(\S+) add_start_us=(\S+) add_done_us=(\S+) announced_us=(\S+) add_failed=false announce_failed=false ann_queued_us=(\S+) ann_start_us=(\S+) loop_cpu=(\S+) worker_cpu=(\S+)`)
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
		for i, v := range m[0][2:10] {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 {
				t.Errorf("point %d = %q: want a time at or after the deadline", i, v)
			}
		}
		for _, v := range m[0][10:] {
			if c, err := strconv.Atoi(v); err != nil || c < 0 || c >= runtime.NumCPU() {
				t.Errorf("CPU %q: want one of the machine's %d", v, runtime.NumCPU())
			}
		}
		// The benchmarks' parser reads the same line back.
		tl := ParseLoggedTakeovers(logs.String())
		if len(tl) != 1 || tl[0].Instance != "VI_1" || !tl[0].Due.Equal(start.Add(down)) || !tl[0].Complete || !tl[0].CPUsKnown ||
			tl[0].Announced < tl[0].AddDone || tl[0].AddDone < tl[0].AddStart {
			t.Errorf("ParseLoggedTakeovers: %+v; log:\n%s", tl, logs.String())
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

// twoBackups is two instances on one interface whose Master_Down
// deadlines, with no master heard, are 0.39 ms apart (priorities 150 and
// 149 at advert_int 0.1).
const twoBackups = `
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 0.1
    version 3
    virtual_ipaddress {
        192.0.2.254/24
    }
}
vrrp_instance VI_2 {
    interface eth0
    virtual_router_id 52
    priority 149
    advert_int 0.1
    version 3
    virtual_ipaddress {
        192.0.2.253/24
    }
}
`

// secondTimeline runs twoBackups in a bubble, with the node changed by
// tweak before it starts, and returns VI_2's takeover timeline: its
// wake-up and the loop running its machine, µs after its deadline.
func secondTimeline(t *testing.T, tweak func(n *node, base *viptest.Kernel)) (woke, ran float64) {
	t.Helper()
	line := regexp.MustCompile(`msg="\(VI_2\) takeover timeline" .* due_unix_ns=(\d+) woke_us=(\S+) ran_us=(\S+) `)
	synctest.Test(t, func(t *testing.T) {
		var logs syncBuffer
		log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		base := viptest.NewKernel("eth0")
		n := newNode(t, wire, base, "192.0.2.1", "fe80::1", twoBackups, Options{Log: log})
		tweak(n, base)
		start := time.Now()
		n.start(t)
		sleepUntil(start, time.Second)
		if n.state("VI_1") != "MASTER" || n.state("VI_2") != "MASTER" {
			t.Fatalf("states %s, %s; want both MASTER", n.state("VI_1"), n.state("VI_2"))
		}
		m := line.FindStringSubmatch(logs.String())
		if m == nil {
			t.Fatalf("no timeline for VI_2; log:\n%s", logs.String())
		}
		due, err1 := strconv.ParseInt(m[1], 10, 64)
		var err2, err3 error
		woke, err2 = strconv.ParseFloat(m[2], 64)
		ran, err3 = strconv.ParseFloat(m[3], 64)
		down2 := 300*time.Millisecond + time.Duration(256-149)*100*time.Millisecond/256
		if err1 != nil || err2 != nil || err3 != nil || due != start.Add(down2).UnixNano() {
			t.Fatalf("due %s, woke %s, ran %s: want due at VI_2's Master_Down deadline %d", m[1], m[2], m[3], start.Add(down2).UnixNano())
		}
	})
	return woke, ran
}

// slowSendConn is a conn whose adverts of one VRID stall before they go,
// as a send into a busy kernel can: the loop's turn then takes time.
type slowSendConn struct {
	vrrp.Conn
	vrid  uint8
	stall time.Duration
}

func (c slowSendConn) WriteTo(p *vrrp.Packet, dst netip.Addr) error {
	if p.VRID == c.vrid {
		time.Sleep(c.stall)
	}
	return c.Conn.WriteTo(p, dst)
}

// TestLoopTakeoversInOneWake: the first backup's takeover advert stalls
// 0.6 ms, past the second one's deadline: the second falls due while the
// loop works on the first, and takes over in the same wake-up of the
// timer, as its timeline shows (the wake-up before its own deadline),
// instead of after the timer has been armed and has fired again.
func TestLoopTakeoversInOneWake(t *testing.T) {
	woke, _ := secondTimeline(t, func(n *node, _ *viptest.Kernel) {
		for _, c := range n.d.conns {
			c.c = slowSendConn{Conn: c.c, vrid: 51, stall: 600 * time.Microsecond}
		}
	})
	if woke >= 0 {
		t.Errorf("VI_2's wake-up %v µs after its deadline: it waited for another wake-up of the timer, want the one that took VI_1 over (before its deadline)", woke)
	}
}

// TestLoopNoTakeoverWaitBeforeNext: the first backup's address addition
// stalls 5 ms, past the loop's takeover wait (1 ms), and the second
// backup's deadline comes 0.39 ms after the first's, within that wait:
// the loop does not wait for the first takeover's jobs, and runs the
// second one's machine at its own deadline. Waiting, it ran it 0.61 ms
// late, once the wait was over.
func TestLoopNoTakeoverWaitBeforeNext(t *testing.T) {
	_, ran := secondTimeline(t, func(n *node, base *viptest.Kernel) {
		n.d.host.VIPs = &slowKernel{Kernel: base, stall: 5 * time.Millisecond}
	})
	if ran != 0 {
		t.Errorf("VI_2's machine ran %v µs after its deadline, want at it (the bubble's clock does not move while the loop works)", ran)
	}
}

// TestParseLoggedTakeovers: lines as logTakeover writes them, one with a
// point not reached ("-") and unknown CPUs, among other log lines.
func TestParseLoggedTakeovers(t *testing.T) {
	log := `time=x level=INFO msg="(VI_2) Entering MASTER STATE"
time=x level=DEBUG msg="(VI_4) takeover timeline" instance=VI_4 due_unix_ns=1000 woke_us=20.5 ran_us=21.0 add_start_us=40.0 add_done_us=150.0 announced_us=210.5 add_failed=false announce_failed=false ann_queued_us=60.0 ann_start_us=151.0 loop_cpu=0 worker_cpu=1
time=x level=DEBUG msg="(VI_5) takeover timeline" instance=VI_5 due_unix_ns=2000 woke_us=1.0 ran_us=2.0 add_start_us=- add_done_us=- announced_us=3.0 add_failed=true announce_failed=false ann_queued_us=- ann_start_us=- loop_cpu=1 worker_cpu=-1
`
	got := ParseLoggedTakeovers(log)
	want := []LoggedTakeover{
		{Instance: "VI_4", Due: time.Unix(0, 1000), Woke: 20500 * time.Nanosecond, Ran: 21 * time.Microsecond,
			AddStart: 40 * time.Microsecond, AddDone: 150 * time.Microsecond, Announced: 210500 * time.Nanosecond,
			Complete: true, LoopCPU: 0, WorkerCPU: 1, CPUsKnown: true},
		{Instance: "VI_5", Due: time.Unix(0, 2000), Woke: time.Microsecond, Ran: 2 * time.Microsecond, Announced: 3 * time.Microsecond},
	}
	if len(got) != len(want) {
		t.Fatalf("%d timelines, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("timeline %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}
