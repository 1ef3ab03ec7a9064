package daemon

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/vip/viptest"
	"github.com/vigil-ha/vigil/vrrp"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// logEvents is a slog handler that writes each message into a ctEvents,
// at the record's time, to order the daemon's log lines against the
// fakes' calls.
type logEvents struct{ ev *ctEvents }

func (l logEvents) Enabled(context.Context, slog.Level) bool { return true }
func (l logEvents) Handle(_ context.Context, r slog.Record) error {
	l.ev.addAt(r.Time, "log %s", r.Message)
	return nil
}
func (l logEvents) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l logEvents) WithGroup(string) slog.Handler      { return l }

// TestLoopTakeoverWaitsForKernel: at a takeover, the loop waits for the
// idle kernel worker to add the VIP and send the first GARP round before
// it goes on with the rest of its turn (the "Entering MASTER STATE" line
// stands for it): with an addition that takes 200 µs, the VIP is added,
// then announced, then the line is logged, 200 µs after the Master_Down
// deadline. Without the wait the loop logs first, at the deadline, while
// the worker is still in its netlink call. An addition that stalls for
// 2 s holds the loop for takeoverWait only: the line at the deadline plus
// 1 ms, the VIP and the GARP once the stall ends, in that order.
func TestLoopTakeoverWaitsForKernel(t *testing.T) {
	down := 3*time.Second + time.Duration(256-150)*time.Second/256
	for _, tc := range []struct {
		delay, logAt time.Duration
		order        []string
	}{
		{200 * time.Microsecond, 200 * time.Microsecond, []string{"add", "announce", "log (VI_1) Entering MASTER STATE"}},
		{2 * time.Second, takeoverWait, []string{"log (VI_1) Entering MASTER STATE", "add", "announce"}},
	} {
		t.Run(tc.delay.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ev := &ctEvents{}
				wire := vrrptest.NewWire(vrrptest.WireOptions{})
				base := viptest.NewKernel("eth0", "eth1")
				a := newNode(t, wire, base, "192.0.2.1", "fe80::1", prio(pairConf, "150"), Options{Log: slog.New(logEvents{ev})})
				a.d.host.VIPs = &slowKernel{Kernel: base, stall: tc.delay, ev: ev}
				a.d.host.Announcer = &timedAnnouncements{Announcements: viptest.NewAnnouncements(base), kernel: base, ev: ev}
				start := time.Now()
				a.start(t)
				sleepUntil(start, down+3*time.Second)
				if a.state("VI_1") != "MASTER" || !a.has("192.0.2.254/24") {
					t.Fatalf("after the takeover: %s, VIP %v", a.state("VI_1"), a.has("192.0.2.254/24"))
				}
				var pos []int
				for _, e := range tc.order {
					i, _ := ev.first(e)
					pos = append(pos, i)
				}
				if pos[0] < 0 || pos[0] > pos[1] || pos[1] > pos[2] {
					t.Errorf("positions of %q: %v, want increasing", tc.order, pos)
				}
				if _, at := ev.first("log (VI_1) Entering MASTER STATE"); at.Sub(start) != down+tc.logAt {
					t.Errorf("the transition logged %v after the deadline, want %v", at.Sub(start)-down, tc.logAt)
				}
			})
		})
	}
}

// TestKernelSubmitWait: submitWait waits for its job and applies the
// outcomes of the jobs handed over before it and its own, in order, before
// it returns; it gives up after wait on a job that stalls, whose outcome
// then comes through results like any other. idle reports the worker
// busy while a job runs and while an outcome is not applied, which is
// what the loop checks before it waits. A nil worker runs the job.
func TestKernelSubmitWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := newKernelWork()
		go k.run()
		defer k.finish()
		var applied []string
		job := func(name string, stall time.Duration) kernelJob {
			return func(context.Context) func(time.Time) {
				time.Sleep(stall)
				return func(time.Time) { applied = append(applied, name) }
			}
		}

		if !k.idle() {
			t.Fatal("a new worker is not idle")
		}
		start := time.Now()
		k.submitAs(nil, nil, job("add", 100*time.Microsecond))
		if !k.submitWait(nil, nil, job("announce", 50*time.Microsecond), time.Millisecond) {
			t.Fatal("two quick jobs: not waited for")
		}
		if strings.Join(applied, ",") != "add,announce" || time.Since(start) != 150*time.Microsecond {
			t.Fatalf("after the wait: applied %q at %v, want add,announce at 150µs", applied, time.Since(start))
		}
		if !k.idle() {
			t.Fatal("not idle once both outcomes were applied")
		}
		// The turn ends (Daemon.endTurn): had the loop run "announce"
		// itself (runStarved, when the worker had not taken it within
		// starvedAfter of "add"'s outcome), the takeover's jobs it
		// claimed are the worker's again, as before every later turn.
		k.releaseClaim()

		// Busy while a job runs, and until its outcome is applied.
		release := make(chan struct{})
		k.do(func(context.Context) func(time.Time) {
			<-release
			return func(time.Time) { applied = append(applied, "stalled") }
		})
		synctest.Wait()
		if k.idle() {
			t.Fatal("idle while a job runs")
		}
		close(release)
		synctest.Wait()
		if k.idle() {
			t.Fatal("idle with an outcome not applied")
		}
		k.apply(<-k.results, time.Now())
		if !k.idle() {
			t.Fatal("not idle after the outcome was applied")
		}

		// A job that stalls past the wait.
		start = time.Now()
		if k.submitWait(nil, nil, job("slow", time.Second), time.Millisecond) {
			t.Fatal("a job that stalls for 1 s: waited for")
		}
		if time.Since(start) != time.Millisecond {
			t.Errorf("gave up after %v, want 1ms", time.Since(start))
		}
		k.apply(<-k.results, time.Now())
		if time.Since(start) != time.Second || applied[len(applied)-1] != "slow" {
			t.Errorf("the slow job's outcome at %v: %q", time.Since(start), applied)
		}

		var none *kernelWork
		if !none.idle() || !none.submitWait(nil, nil, job("inline", 0), time.Millisecond) || applied[len(applied)-1] != "inline" {
			t.Errorf("no worker: idle %v, applied %q", none.idle(), applied)
		}
	})
}

// advertEvents records, into a ctEvents, each advert a daemon sends and
// whether its kernel worker held a job then.
type advertEvents struct {
	vrrp.Conn
	ev *ctEvents
	d  *Daemon
}

func (a advertEvents) WriteTo(p *vrrp.Packet, dst netip.Addr) error {
	a.ev.add("advert priority %d, worker busy %v", p.Priority, !a.d.kw.idle())
	return a.Conn.WriteTo(p, dst)
}

// TestLoopTakeoverAddressesFirst: at a takeover, with the worker idle, the
// loop hands the addresses to the worker before it sends the advert, so
// that the netlink call can run on another CPU while the advert goes out;
// the GARP still comes after both. Without the change the worker is idle
// when the takeover's advert is sent.
func TestLoopTakeoverAddressesFirst(t *testing.T) {
	down := 3*time.Second + time.Duration(256-150)*time.Second/256
	synctest.Test(t, func(t *testing.T) {
		ev := &ctEvents{}
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		base := viptest.NewKernel("eth0", "eth1")
		a := newNode(t, wire, base, "192.0.2.1", "fe80::1", prio(pairConf, "150"), Options{})
		a.d.host.VIPs = &slowKernel{Kernel: base, stall: 200 * time.Microsecond, ev: ev}
		a.d.host.Announcer = &timedAnnouncements{Announcements: viptest.NewAnnouncements(base), kernel: base, ev: ev}
		for _, c := range a.d.conns {
			c.c = advertEvents{Conn: c.c, ev: ev, d: a.d}
		}
		start := time.Now()
		a.start(t)
		sleepUntil(start, down+time.Second)
		if a.state("VI_1") != "MASTER" || !a.has("192.0.2.254/24") {
			t.Fatalf("after the takeover: %s, VIP %v", a.state("VI_1"), a.has("192.0.2.254/24"))
		}
		adv, _ := ev.first("advert priority 150")
		add, _ := ev.first("add")
		ann, _ := ev.first("announce")
		if adv < 0 || add < 0 || ann < 0 || adv > ann || add > ann {
			t.Fatalf("events %q: want the advert and the addition before the announcement", ev.get())
		}
		if got := ev.get()[adv]; got != "advert priority 150, worker busy true" {
			t.Errorf("the takeover's advert: %q, want it sent with the address job handed over", got)
		}
	})
}

// TestLoopTurnOffLoopWaitsForKernel: a turn taken off the loop goroutine,
// as the timer's and the readers' are, that hands the worker a job and
// then waits for a second one (a takeover's wait, submitWait), applies
// both outcomes itself, in order, before it returns, while the loop
// goroutine sits idle in its select. If that goroutine took outcomes
// from the worker, it would hold the first one, waiting for the state
// the turn holds, and apply it after the second.
func TestLoopTurnOffLoopWaitsForKernel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		n := startNode(t, wire, "192.0.2.2", "fe80::2", prio(pairConf, "100"))
		synctest.Wait()
		var applied []string
		job := func(name string) kernelJob {
			return func(context.Context) func(time.Time) {
				time.Sleep(50 * time.Microsecond)
				return func(time.Time) { applied = append(applied, name) }
			}
		}
		var inTurn string
		waited := false
		n.d.turn(func(time.Time) {
			n.d.kw.submitAs(nil, nil, job("first"))
			waited = n.d.kw.submitWait(nil, nil, job("second"), time.Second)
			inTurn = strings.Join(applied, ",")
		})
		synctest.Wait()
		var after string
		rxOnLoop(t, n, func(*instance, *conn) { after = strings.Join(applied, ",") })
		if !waited || inTurn != "first,second" || after != "first,second" {
			t.Errorf("waited %v; applied in the turn %q, after it %q; want first,second in the turn", waited, inTurn, after)
		}
	})
}
