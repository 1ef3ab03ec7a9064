package healthcheck

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
)

// Prober performs one attempt of a checker against its real server. It
// must return by the time ctx is done (the scheduler cancels ctx at Close)
// and bound its own I/O by the checker's timeouts.
type Prober interface {
	Probe(ctx context.Context) Result
}

// AttemptProber is a Prober whose attempt depends on whether the checker
// is up when the attempt starts (HTTP_GET walks its urls by it); the
// Scheduler calls ProbeAttempt instead of Probe.
type AttemptProber interface {
	Prober
	ProbeAttempt(ctx context.Context, up bool) Result
}

// ProberFunc adapts a function to Prober.
type ProberFunc func(ctx context.Context) Result

// Probe calls f.
func (f ProberFunc) Probe(ctx context.Context) Result { return f(ctx) }

// Spec is one checker to schedule.
type Spec struct {
	ID     CheckerID
	Core   CoreConfig
	Prober Prober // nil for FILE_CHECK

	// Carry, when set, is the state of the same checker before a reload
	// (see Carried, MatchCheckers).
	Carry *Carried

	// FILE_CHECK: the track_file name whose values FileValue delivers, and
	// how a value becomes a weight.
	TrackFile   string
	FileWeight  int
	FileReverse bool
}

// RealServer is a real server's configured weight, for the AND rule and
// the effective weight (RealServerState).
type RealServer struct {
	ID     RSID
	Weight int
}

// Event reports a change: a checker's first result, its state or weight
// change, and the real server's state after it.
type Event struct {
	Checker CheckerID
	Kind    Kind
	Time    time.Time
	First   bool // the checker's first result since start

	CheckerUp      bool
	CheckerChanged bool

	RSUp          bool  // every checker of the real server is up
	RSChanged     bool  // RSUp changed with this result
	Weight        int64 // the real server's effective weight, clamped to 0..2147483647
	WeightChanged bool

	Verdict Verdict
	Latency time.Duration // the attempt's duration; 0 for FILE_CHECK
	Err     string        // the attempt's error, if any
}

// Config configures a Scheduler.
type Config struct {
	Log *slog.Logger // nil: slog.Default()
	// Workers: blocking network probes (every kind but TCP_CHECK, whose
	// non-blocking connects need no worker) in flight at once; 0: 64.
	Workers int
	// ScriptWorkers: MISC_CHECK scripts running at once; 0: 16. Scripts
	// have a pool of their own, so slow scripts never hold up the network
	// probes.
	ScriptWorkers int
	// Events receives changes. Required. Events are queued inside the
	// scheduler while the receiver is slow, never dropped, so probing never
	// waits for the receiver.
	Events chan<- Event
	// Rand draws the warmup jitter, uniform in [0, 1); nil: math/rand/v2.
	Rand func() float64
}

// ErrClosed is returned by calls on a closed Scheduler.
var ErrClosed = errors.New("healthcheck: scheduler closed")

// Scheduler runs many checkers with one goroutine: a heap of deadlines
// drives the pure cores, two bounded pools of workers (network probes,
// MISC_CHECK scripts) perform the blocking probes, and changes are posted
// as Events. Close stops and waits for
// every goroutine it started.
type Scheduler struct {
	log     *slog.Logger
	events  chan<- Event
	results chan workResult
	jobs    [2]chan job // by lane: network probes, scripts
	files   chan fileValue
	stop    chan struct{}
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	once    sync.Once

	// Owned by runLoop.
	entries []*entry
	byFile  map[string][]*entry
	rs      map[RSID]*rsState
	queue   [2][]*entry // due, waiting for a free worker of their lane
	pending []Event     // waiting for the receiver
	heap    deadlineHeap
	base    time.Time     // the origin of entry.due and of the timer's grid
	grid    time.Duration // the timer's grid (see timerGrid)

	mu      sync.Mutex // mu guards the following fields
	stats   map[CheckerID]*CheckerStats
	rsStats map[RSID]*RSStats
}

type entry struct {
	spec Spec
	core *Core
	rs   *rsState
	due  time.Duration // core.Deadline() - Scheduler.base, while in the heap
	st   *CheckerStats // guarded by Scheduler.mu
}

type rsState struct {
	weight   int
	checkers []*Core
	up       bool
	eff      int64
	st       *RSStats // guarded by Scheduler.mu
}

type job struct {
	e  *entry
	up bool // the checker's state when the attempt started
}

type workResult struct {
	e       *entry
	res     Result
	end     time.Time
	latency time.Duration
}

type fileValue struct {
	name  string
	value int64
}

// New starts a scheduler for specs; every checker's first attempt is due
// 1 s plus its random warmup share after now. Real servers not listed in
// rss get weight 1.
func New(cfg Config, rss []RealServer, specs []Spec) *Scheduler {
	if cfg.Events == nil {
		panic("healthcheck: Config.Events is nil")
	}
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	workers, scripts := cfg.Workers, cfg.ScriptWorkers
	if workers <= 0 {
		workers = 64
	}
	if scripts <= 0 {
		scripts = 16
	}
	rnd := cfg.Rand
	if rnd == nil {
		rnd = rand.Float64
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Scheduler{log: log, events: cfg.Events, results: make(chan workResult), jobs: [2]chan job{make(chan job), make(chan job)},
		files: make(chan fileValue), stop: make(chan struct{}), ctx: ctx, cancel: cancel,
		byFile: map[string][]*entry{}, rs: map[RSID]*rsState{}, stats: map[CheckerID]*CheckerStats{}, rsStats: map[RSID]*RSStats{}}
	for _, r := range rss {
		s.rs[r.ID] = &rsState{weight: r.Weight, up: true, eff: int64(r.Weight)}
	}
	now := time.Now()
	s.base, s.grid = now, timerGrid(specs)
	for _, sp := range specs {
		if sp.Prober == nil && sp.Core.Kind != KindFile {
			panic(fmt.Sprintf("healthcheck: checker %v (%v) has no Prober", sp.ID, sp.Core.Kind))
		}
		r := s.rs[sp.ID.RSID]
		if r == nil {
			r = &rsState{weight: 1, up: true, eff: 1}
			s.rs[sp.ID.RSID] = r
		}
		if sp.Core.BaseWeight == 0 {
			sp.Core.BaseWeight = r.weight
		}
		jitter := time.Duration(rnd() * float64(sp.Core.Timing.Warmup))
		e := &entry{spec: sp, core: NewCore(sp.Core, now, jitter), rs: r}
		if sp.Carry != nil {
			e.core.Restore(*sp.Carry)
		}
		r.checkers = append(r.checkers, e.core)
		s.entries = append(s.entries, e)
		e.st = &CheckerStats{ID: sp.ID, Kind: sp.Core.Kind, Up: e.core.Up(), HasRun: e.core.HasRun(), Offset: e.core.Offset()}
		s.stats[sp.ID] = e.st
		if sp.Core.Kind == KindFile {
			s.byFile[sp.TrackFile] = append(s.byFile[sp.TrackFile], e)
			continue
		}
		s.push(e)
	}
	for id, r := range s.rs {
		r.up, r.eff = RealServerState(r.weight, r.checkers)
		r.st = &RSStats{ID: id, Up: r.up, Weight: r.eff, Checkers: len(r.checkers)}
		s.rsStats[id] = r.st
	}
	for _, e := range s.entries {
		e.st.Next = e.core.Deadline()
	}
	s.wg.Add(1 + workers + scripts)
	go s.runLoop()
	for range workers {
		go s.runWorker(s.jobs[0])
	}
	for range scripts {
		go s.runWorker(s.jobs[1])
	}
	return s
}

// FileValue delivers a track file's value to every FILE_CHECK that names
// it (the daemon forwards check.FileWatcher's events). It returns
// ErrClosed after Close.
func (s *Scheduler) FileValue(trackFile string, value int64) error {
	select {
	case s.files <- fileValue{trackFile, value}:
		return nil
	case <-s.stop:
		return ErrClosed
	}
}

// Close stops scheduling, cancels the probes in flight and waits for every
// goroutine. Events not yet received are dropped.
func (s *Scheduler) Close() {
	s.once.Do(func() {
		close(s.stop)
		s.cancel()
	})
	s.wg.Wait()
}

// Carried returns every checker's state for a reload. It may be called
// only after Close, when no goroutine touches the cores any more.
func (s *Scheduler) Carried() map[CheckerID]Carried {
	select {
	case <-s.stop:
	default:
		panic("healthcheck: Carried before Close")
	}
	s.wg.Wait()
	out := make(map[CheckerID]Carried, len(s.entries))
	for _, e := range s.entries {
		out[e.spec.ID] = e.core.Carry()
	}
	return out
}

// runWorker performs probes until Close. Owned by the Scheduler, stopped
// by Close.
func (s *Scheduler) runWorker(jobs <-chan job) {
	defer s.wg.Done()
	for {
		select {
		case j := <-jobs:
			start := time.Now()
			var res Result
			if ap, ok := j.e.spec.Prober.(AttemptProber); ok {
				res = ap.ProbeAttempt(s.ctx, j.up)
			} else {
				res = j.e.spec.Prober.Probe(s.ctx)
			}
			end := time.Now()
			select {
			case s.results <- workResult{e: j.e, res: res, end: end, latency: end.Sub(start)}:
			case <-s.stop:
				return
			}
		case <-s.stop:
			return
		}
	}
}

// runLoop owns every core: it starts due attempts, hands them to the
// workers, feeds results back and posts events. Owned by the Scheduler,
// stopped by Close.
func (s *Scheduler) runLoop() {
	defer s.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		clock := s.startDue(time.Now())
		var jobs [2]chan job
		var next [2]job
		for i, q := range s.queue {
			if len(q) > 0 {
				jobs[i], next[i] = s.jobs[i], job{q[0], q[0].core.Up()}
			}
		}
		var events chan<- Event
		var ev Event
		if len(s.pending) > 0 {
			events, ev = s.events, s.pending[0]
		}
		if len(s.heap) > 0 {
			// From the clock read last: the connects begun above may
			// have taken a while on a loaded machine. The wake-up is
			// the grid point nearest to the first deadline (see
			// timerGrid).
			wake := (s.heap[0].due + s.grid/2) / s.grid * s.grid
			resetTimer(timer, wake-clock.Sub(s.base))
		} else {
			resetTimer(timer, time.Hour)
		}
		select {
		case <-s.stop:
			return
		case <-timer.C:
		case jobs[0] <- next[0]:
			s.queue[0][0] = nil
			s.queue[0] = s.queue[0][1:]
		case jobs[1] <- next[1]:
			s.queue[1][0] = nil
			s.queue[1] = s.queue[1][1:]
		case events <- ev:
			s.pending[0] = Event{}
			s.pending = s.pending[1:]
		case r := <-s.results:
			s.finish(r)
		case fv := <-s.files:
			for _, e := range s.byFile[fv.name] {
				ch := e.core.FileValue(fv.value, e.spec.FileWeight, e.spec.FileReverse)
				s.record(e, ch, time.Now(), Result{Verdict: verdictOf(ch.Up)}, 0)
			}
		}
	}
}

// timerGrid is the grid the loop's timer wakes on (counted from New): a
// wake-up at a grid point starts every attempt due within half a slot of
// it, before or after, so attempts start at most half a slot from when
// they are due and, rounded both ways, keep their period on average. The
// slot is a twentieth of the shortest period of any checker (delay_loop,
// or delay_before_retry with retries), within 1 to 100 ms: 50 ms at
// delay_loop 1, so thousands of checkers wake the loop at most 20 times a
// second, not once per attempt, and no attempt starts more than 2.5 % of
// its period early or late.
func timerGrid(specs []Spec) time.Duration {
	const lo, hi = time.Millisecond, 100 * time.Millisecond
	g := hi
	for _, sp := range specs {
		if sp.Core.Kind == KindFile {
			continue
		}
		t := sp.Core.Timing
		p := t.DelayLoop
		if t.Retry > 0 {
			p = min(p, t.DelayBeforeRetry)
		}
		g = min(g, p/20)
	}
	return max(g, lo)
}

// startDue starts every attempt due by now plus half a slot of the
// timer's grid: TCP_CHECK's on the loop (see begin), the others queued
// for their lane's workers. An attempt started before its deadline
// starts, for its core, at the deadline. It returns the clock read last.
func (s *Scheduler) startDue(now time.Time) time.Time {
	clock := now
	limit := now.Sub(s.base) + s.grid/2
	for len(s.heap) > 0 && s.heap[0].due <= limit {
		e := s.heap.pop()
		at := now
		if d := e.core.Deadline(); now.Before(d) {
			at = d
		}
		if !e.core.Start(at) {
			continue
		}
		if bp, ok := e.spec.Prober.(beginProber); ok {
			clock = s.begin(e, bp, clock)
			continue
		}
		lane := 0
		if e.spec.Core.Kind == KindMisc {
			lane = 1
		}
		s.queue[lane] = append(s.queue[lane], e)
	}
	return clock
}

// begin starts e's attempt on the loop at start (the clock read last:
// the attempts of one wake-up run back to back, so one read per attempt
// times them all) and returns the clock read when it was done. An
// attempt that has to wait continues in a goroutine of its own (its
// socket exists already, so it takes no worker: the pool bounds blocking
// probes, not sockets).
func (s *Scheduler) begin(e *entry, bp beginProber, start time.Time) time.Time {
	res, wait := bp.begin(s.ctx, start)
	end := time.Now()
	if wait == nil {
		s.finish(workResult{e: e, res: res, end: end, latency: end.Sub(start)})
		return end
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		res := wait(s.ctx)
		end := time.Now()
		select {
		case s.results <- workResult{e: e, res: res, end: end, latency: end.Sub(start)}:
		case <-s.stop:
		}
	}()
	return end
}

func verdictOf(up bool) Verdict {
	if up {
		return Success
	}
	return Failure
}

func resetTimer(t *time.Timer, d time.Duration) {
	t.Stop()
	select {
	case <-t.C:
	default:
	}
	t.Reset(max(d, 0))
}

func (s *Scheduler) finish(r workResult) {
	ch := r.e.core.Finish(r.end, r.res)
	s.push(r.e)
	s.record(r.e, ch, r.end, r.res, r.latency)
}

// record updates the real server, the counters and posts an event when
// something changed.
func (s *Scheduler) record(e *entry, ch Change, now time.Time, res Result, latency time.Duration) {
	rs := e.rs
	up, eff := RealServerState(rs.weight, rs.checkers)
	ev := Event{Checker: e.spec.ID, Kind: e.spec.Core.Kind, Time: now, First: ch.First,
		CheckerUp: ch.Up, CheckerChanged: ch.StateChanged,
		RSUp: up, RSChanged: up != rs.up, Weight: eff, WeightChanged: eff != rs.eff,
		Verdict: res.Verdict, Latency: latency, Err: res.Err}
	rs.up, rs.eff = up, eff
	s.mu.Lock()
	st := e.st
	st.Attempts++
	switch res.Verdict {
	case Success, Partial:
		st.Successes++
	case Failure:
		st.Failures++
	case Skip:
		st.Skips++
	}
	if ch.StateChanged {
		st.Transitions++
	}
	st.Up, st.HasRun, st.Offset = ch.Up, true, ch.Offset
	st.LastVerdict, st.LastLatency, st.LastError, st.LastTime = res.Verdict, latency, res.Err, now
	st.Next = e.core.Deadline()
	rst := rs.st
	rst.Up, rst.Weight = up, eff
	if ev.RSChanged {
		rst.Transitions++
	}
	s.mu.Unlock()
	if ch.First || ch.StateChanged || ev.RSChanged || ev.WeightChanged {
		s.pending = append(s.pending, ev)
		if !s.log.Enabled(context.Background(), slog.LevelDebug) {
			return
		}
		s.log.Debug("health check", "checker", ev.Checker.String(), "kind", ev.Kind.String(), "up", ev.CheckerUp,
			"rs_up", ev.RSUp, "weight", ev.Weight, "verdict", ev.Verdict.String(), "latency", ev.Latency, "error", ev.Err)
	}
}

func (s *Scheduler) push(e *entry) {
	d := e.core.Deadline()
	if d.IsZero() {
		return
	}
	e.due = d.Sub(s.base)
	s.heap.push(e)
}

// deadlineHeap is a binary min-heap of entries by due.
type deadlineHeap []*entry

func (h *deadlineHeap) push(e *entry) {
	*h = append(*h, e)
	q := *h
	for i := len(q) - 1; i > 0; {
		p := (i - 1) / 2
		if q[p].due <= q[i].due {
			break
		}
		q[p], q[i] = q[i], q[p]
		i = p
	}
}

func (h *deadlineHeap) pop() *entry {
	q := *h
	e := q[0]
	n := len(q) - 1
	q[0] = q[n]
	q[n] = nil
	q = q[:n]
	for i := 0; ; {
		l := 2*i + 1
		if l >= n {
			break
		}
		if r := l + 1; r < n && q[r].due < q[l].due {
			l = r
		}
		if q[i].due <= q[l].due {
			break
		}
		q[i], q[l] = q[l], q[i]
		i = l
	}
	*h = q
	return e
}
