package healthcheck

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// scripted is an in-memory prober: attempt i takes lat and returns
// verdicts[i] (the last one repeated).
type scripted struct {
	mu       sync.Mutex
	verdicts []Verdict
	lat      time.Duration
	calls    []time.Time
}

func (p *scripted) Probe(ctx context.Context) Result {
	p.mu.Lock()
	i := len(p.calls)
	p.calls = append(p.calls, time.Now())
	v := p.verdicts[min(i, len(p.verdicts)-1)]
	p.mu.Unlock()
	select {
	case <-time.After(p.lat):
	case <-ctx.Done():
		return Result{Verdict: Failure, Err: "cancelled"}
	}
	if v == Failure {
		return Result{Verdict: v, Err: "refused"}
	}
	return Result{Verdict: v}
}

func (p *scripted) callTimes(start time.Time) []time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []time.Duration
	for _, c := range p.calls {
		out = append(out, c.Sub(start))
	}
	return out
}

func recv(t *testing.T, ch <-chan Event) Event {
	t.Helper()
	select {
	case ev := <-ch:
		return ev
	case <-time.After(time.Hour):
		t.Fatal("no event within an hour")
	}
	return Event{}
}

// TestSchedulerTimeline runs keepalived's TCP timeline through the whole
// scheduler in a bubble: two checkers on one real server, the AND rule,
// exact event times.
func TestSchedulerTimeline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		tm := Timing{DelayLoop: 10 * time.Second, DelayBeforeRetry: 2 * time.Second, Retry: 1, Warmup: 10 * time.Second}
		a := &scripted{verdicts: []Verdict{Success, Success, Failure, Failure, Failure, Failure, Success}, lat: 500 * time.Millisecond}
		b := &scripted{verdicts: []Verdict{Success}, lat: time.Second}
		rs := RSID{VS: 0, RS: 1}
		events := make(chan Event)
		draws := []float64{0.5, 0}
		s := New(Config{Events: events, Workers: 2, Rand: func() float64 { d := draws[0]; draws = draws[1:]; return d }},
			[]RealServer{{ID: rs, Weight: 7}},
			[]Spec{
				{ID: CheckerID{rs, 0}, Core: CoreConfig{Kind: KindTCP, Timing: tm}, Prober: a},
				{ID: CheckerID{rs, 1}, Core: CoreConfig{Kind: KindTCP, Timing: tm}, Prober: b},
			})
		defer s.Close()

		// b: first at 1 s (jitter 0), lasts 1 s; a: at 1 s + 5 s warmup share.
		want := []struct {
			at                           time.Duration
			checker                      int
			first, up, changed, rsUp, rc bool
		}{
			{2 * time.Second, 1, true, true, false, true, false},
			{6500 * time.Millisecond, 0, true, true, false, true, false},
			// a: 16.5 ok (no event); 27 fails → retry 29.5, fails at 30 → down.
			{30 * time.Second, 0, false, false, true, false, true},
			// down: 40 fail → retry 42.5 fail → 53 succeeds → up at 53.5.
			{53500 * time.Millisecond, 0, false, true, true, true, true},
		}
		for i, w := range want {
			ev := recv(t, events)
			if got := ev.Time.Sub(start); got != w.at || ev.Checker.Checker != w.checker || ev.First != w.first ||
				ev.CheckerUp != w.up || ev.CheckerChanged != w.changed || ev.RSUp != w.rsUp || ev.RSChanged != w.rc {
				t.Fatalf("event %d: %+v at %v, want %+v", i, ev, got, w)
			}
			if ev.Weight != 7 || ev.Kind != KindTCP {
				t.Fatalf("event %d: weight %d kind %v", i, ev.Weight, ev.Kind)
			}
			if ev.Checker.Checker == 0 && ev.Latency != 500*time.Millisecond {
				t.Fatalf("event %d: latency %v", i, ev.Latency)
			}
		}
		wantCalls := []time.Duration{6 * time.Second, 16500 * time.Millisecond, 27 * time.Second, 29500 * time.Millisecond,
			40 * time.Second, 42500 * time.Millisecond, 53 * time.Second}
		if got := a.callTimes(start); fmt.Sprint(got) != fmt.Sprint(wantCalls) {
			t.Fatalf("attempts at %v, want %v", got, wantCalls)
		}
		snap := s.Snapshot()
		if len(snap) != 2 || snap[0].Attempts != 7 || snap[0].Failures != 4 || snap[0].Successes != 3 ||
			snap[0].Transitions != 2 || !snap[0].Up || snap[0].LastLatency != 500*time.Millisecond {
			t.Fatalf("snapshot %+v", snap)
		}
		if rss := s.RealServers(); len(rss) != 1 || rss[0] != (RSStats{ID: rs, Up: true, Weight: 7, Checkers: 2, Transitions: 2}) {
			t.Fatalf("real servers %+v", rss)
		}
	})
}

// TestSchedulerBoundedWorkers runs 2,000 checkers on 8 workers: every
// checker is probed each period, never more than 8 at once, the
// goroutine count stays flat, and Close waits for all of them.
func TestSchedulerBoundedWorkers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n, workers = 2000, 8
		var inFlight, peak, calls atomic.Int64
		p := ProberFunc(func(ctx context.Context) Result {
			c := inFlight.Add(1)
			for {
				old := peak.Load()
				if c <= old || peak.CompareAndSwap(old, c) {
					break
				}
			}
			calls.Add(1)
			time.Sleep(time.Millisecond)
			inFlight.Add(-1)
			return Result{Verdict: Success}
		})
		tm := Timing{DelayLoop: 10 * time.Second, DelayBeforeRetry: time.Second, Retry: 1, Warmup: 5 * time.Second}
		var specs []Spec
		for i := range n {
			specs = append(specs, Spec{ID: CheckerID{RSID{VS: i / 10, RS: i % 10}, 0}, Core: CoreConfig{Kind: KindTCP, Timing: tm}, Prober: p})
		}
		events := make(chan Event, n)
		s := New(Config{Events: events, Workers: workers, ScriptWorkers: 2}, nil, specs)
		defer s.Close()
		synctest.Wait() // every goroutine New started is running and blocked
		if g := schedulerGoroutines(); g != workers+3 {
			t.Errorf("%d goroutines started, want %d", g, workers+3)
		}
		time.Sleep(6*time.Second + 500*time.Millisecond) // first round: 1..6 s, the next from 11 s
		synctest.Wait()
		if c := calls.Load(); c != n {
			t.Fatalf("%d probes in the first round, want %d", c, n)
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if c := calls.Load(); c != 2*n {
			t.Fatalf("%d probes after two rounds", c)
		}
		if pk := peak.Load(); pk > workers {
			t.Fatalf("%d probes in flight at once, limit %d", pk, workers)
		}
		if g := schedulerGoroutines(); g != workers+3 {
			t.Errorf("%d goroutines while running, want %d", g, workers+3)
		}
		if len(events) != n {
			t.Fatalf("%d events, want %d (one first result each)", len(events), n)
		}
		s.Close()
		synctest.Wait()
		if g := schedulerGoroutines(); g != 0 {
			t.Errorf("%d goroutines left after Close", g)
		}
	})
}

// TestSchedulerCloseCancelsProbes: Close returns while a probe is blocked,
// because the probe's context is cancelled.
func TestSchedulerCloseCancelsProbes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		started := make(chan struct{})
		p := ProberFunc(func(ctx context.Context) Result {
			close(started)
			<-ctx.Done()
			return Result{Verdict: Failure}
		})
		events := make(chan Event) // nobody reads: events queue inside
		s := New(Config{Events: events, Rand: func() float64 { return 0 }}, nil,
			[]Spec{{ID: CheckerID{}, Core: CoreConfig{Kind: KindTCP, Timing: Timing{DelayLoop: time.Second}}, Prober: p}})
		<-started
		s.Close()
		if err := s.FileValue("x", 1); err != ErrClosed {
			t.Fatalf("FileValue after Close: %v", err)
		}
	})
}

// TestSchedulerFileValue: FILE_CHECK values arrive by name and move the
// real server's weight and state.
func TestSchedulerFileValue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rs := RSID{VS: 1, RS: 0}
		events := make(chan Event, 10)
		s := New(Config{Events: events}, []RealServer{{ID: rs, Weight: 10}}, []Spec{
			{ID: CheckerID{rs, 0}, Core: CoreConfig{Kind: KindFile}, TrackFile: "load", FileWeight: -2},
			{ID: CheckerID{rs, 1}, Core: CoreConfig{Kind: KindFile}, TrackFile: "maint", FileWeight: 0},
		})
		defer s.Close()
		for _, step := range []struct {
			file          string
			value         int64
			up            bool
			weight        int64
			rsChanged, wc bool
		}{
			{"load", 3, true, 4, false, true},
			{"load", 3, true, 4, false, false}, // not first, nothing changed: no event
			{"maint", 1, false, 4, true, false},
			{"maint", 0, true, 4, true, false},
			{"load", 100, true, 0, false, true},
		} {
			if err := s.FileValue(step.file, step.value); err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
			if step.file == "load" && step.value == 3 && len(events) == 0 {
				continue
			}
			ev := recv(t, events)
			if ev.RSUp != step.up || ev.Weight != step.weight || ev.RSChanged != step.rsChanged || ev.WeightChanged != step.wc {
				t.Fatalf("%+v: event %+v", step, ev)
			}
		}
		if len(events) != 0 {
			t.Fatalf("unexpected event %+v", <-events)
		}
	})
}

// schedulerGoroutines counts the live goroutines a Scheduler started
// inside a synctest bubble (schedulers of other tests are outside).
func schedulerGoroutines() int {
	buf := make([]byte, 1<<22)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		header, _, _ := strings.Cut(g, "\n")
		if strings.Contains(header, "synctest bubble") && strings.Contains(g, "created by github.com/vigil-ha/vigil/healthcheck.New ") {
			n++
		}
	}
	return n
}

// upRecorder is an AttemptProber that records the state it is given.
type upRecorder struct {
	mu  sync.Mutex
	ups []bool
}

func (p *upRecorder) Probe(ctx context.Context) Result { panic("Probe called on an AttemptProber") }
func (p *upRecorder) ProbeAttempt(ctx context.Context, up bool) Result {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ups = append(p.ups, up)
	if len(p.ups) == 2 {
		return Result{Verdict: Failure}
	}
	return Result{Verdict: Success}
}

// TestSchedulerPassesState: an AttemptProber learns the checker's state
// at the start of each attempt.
func TestSchedulerPassesState(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &upRecorder{}
		events := make(chan Event, 10)
		tm := Timing{DelayLoop: time.Second, DelayBeforeRetry: time.Second, Alpha: true}
		s := New(Config{Events: events}, nil, []Spec{{Core: CoreConfig{Kind: KindHTTP, Timing: tm}, Prober: p}})
		defer s.Close()
		time.Sleep(4500 * time.Millisecond) // attempts at 1, 2, 3 (max(D, L) after the failure), 4
		synctest.Wait()
		p.mu.Lock()
		defer p.mu.Unlock()
		if fmt.Sprint(p.ups) != "[false true false true]" {
			t.Fatalf("states given %v", p.ups)
		}
	})
}

// TestSchedulerScriptsOwnPool: MISC_CHECK scripts that hang fill their
// own pool; the network checks keep their period.
func TestSchedulerScriptsOwnPool(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hang := ProberFunc(func(ctx context.Context) Result { <-ctx.Done(); return Result{Verdict: Failure} })
		var calls atomic.Int64
		tcp := ProberFunc(func(ctx context.Context) Result { calls.Add(1); return Result{Verdict: Success} })
		tm := Timing{DelayLoop: time.Second}
		var specs []Spec
		for i := range 4 {
			specs = append(specs, Spec{ID: CheckerID{RSID{i, 0}, 0}, Core: CoreConfig{Kind: KindMisc, Timing: tm}, Prober: hang})
		}
		specs = append(specs, Spec{ID: CheckerID{RSID{9, 0}, 0}, Core: CoreConfig{Kind: KindTCP, Timing: tm}, Prober: tcp})
		s := New(Config{Events: make(chan Event, 100), Workers: 1, ScriptWorkers: 2, Rand: func() float64 { return 0 }}, nil, specs)
		defer s.Close()
		time.Sleep(10*time.Second + time.Millisecond) // TCP attempts at 1, 2, ... 10 s
		synctest.Wait()
		if c := calls.Load(); c != 10 {
			t.Fatalf("%d TCP attempts in 10 s with the scripts hung, want 10", c)
		}
	})
}

// TestSchedulerCoalescesWakeups: attempts start at the grid point
// nearest to when they are due, together.
func TestSchedulerCoalescesWakeups(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		const grid = 50 * time.Millisecond // a twentieth of delay_loop
		tm := Timing{DelayLoop: time.Second, DelayBeforeRetry: 2 * time.Second, Retry: 1, Warmup: 10 * grid}
		// Due at 1 s + 15, 30, 50, 74 and 76 ms.
		draws := []float64{0.03, 0.06, 0.1, 0.148, 0.152}
		due := make([]time.Duration, len(draws))
		for i, d := range draws {
			due[i] = time.Second + time.Duration(d*float64(tm.Warmup))
		}
		probes := make([]*scripted, len(draws))
		var specs []Spec
		for i := range probes {
			probes[i] = &scripted{verdicts: []Verdict{Success}}
			specs = append(specs, Spec{ID: CheckerID{RSID{VS: i}, 0}, Core: CoreConfig{Kind: KindTCP, Timing: tm}, Prober: probes[i]})
		}
		events := make(chan Event, len(specs))
		s := New(Config{Events: events, Rand: func() float64 { d := draws[0]; draws = draws[1:]; return d }}, nil, specs)
		defer s.Close()
		for range specs {
			recv(t, events)
		}
		want := []time.Duration{time.Second, time.Second + grid, time.Second + grid, time.Second + grid, time.Second + 2*grid}
		for i, p := range probes {
			if got := p.callTimes(start); len(got) != 1 || got[0] != want[i] {
				t.Errorf("checker %d (due at %v): attempts at %v, want [%v]", i, due[i], got, want[i])
			}
		}
	})
}

func TestTimerGrid(t *testing.T) {
	spec := func(k Kind, loop, retryDelay time.Duration, retry int) Spec {
		return Spec{Core: CoreConfig{Kind: k, Timing: Timing{DelayLoop: loop, DelayBeforeRetry: retryDelay, Retry: retry}}}
	}
	for _, c := range []struct {
		name  string
		specs []Spec
		want  time.Duration
	}{
		{"none", nil, 100 * time.Millisecond},
		{"delay_loop 1", []Spec{spec(KindTCP, time.Second, time.Second, 1)}, 50 * time.Millisecond},
		{"the shortest period wins", []Spec{spec(KindTCP, 6*time.Second, 3*time.Second, 1), spec(KindHTTP, time.Second, 5*time.Second, 0)}, 50 * time.Millisecond},
		{"delay_before_retry without retries does not count", []Spec{spec(KindTCP, 4*time.Second, 10*time.Millisecond, 0)}, 100 * time.Millisecond},
		{"delay_before_retry with retries", []Spec{spec(KindTCP, 4*time.Second, 400*time.Millisecond, 2)}, 20 * time.Millisecond},
		{"FILE_CHECK has no period", []Spec{spec(KindFile, 0, 0, 0)}, 100 * time.Millisecond},
		{"at least 1 ms", []Spec{spec(KindMisc, 5*time.Millisecond, 0, 0)}, time.Millisecond},
	} {
		if got := timerGrid(c.specs); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// TestDeadlineHeap pops entries in order of due, ties included, against a
// sort of the same values.
func TestDeadlineHeap(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 50 {
		var h deadlineHeap
		var want []time.Duration
		n := r.IntN(200)
		for range n {
			d := time.Duration(r.IntN(50)) * time.Millisecond
			want = append(want, d)
			h.push(&entry{due: d})
			if r.IntN(4) == 0 { // interleave pops with pushes
				e := h.pop()
				i := slices.Index(want, slices.Min(want))
				if e.due != want[i] {
					t.Fatalf("round %d: popped %v, want %v", round, e.due, want[i])
				}
				want = slices.Delete(want, i, i+1)
			}
		}
		slices.Sort(want)
		for _, w := range want {
			if e := h.pop(); e.due != w {
				t.Fatalf("round %d: popped %v, want %v", round, e.due, w)
			}
		}
		if len(h) != 0 {
			t.Fatalf("round %d: %d left", round, len(h))
		}
	}
}
