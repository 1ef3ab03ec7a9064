package healthcheck

import (
	"container/heap"
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

	mu      sync.Mutex // mu guards the following fields
	stats   map[CheckerID]*CheckerStats
	rsStats map[RSID]RSStats
}

type entry struct {
	spec  Spec
	core  *Core
	rs    *rsState
	index int // in the heap, -1 when not in it
}

type rsState struct {
	weight   int
	checkers []*Core
	up       bool
	eff      int64
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
		byFile: map[string][]*entry{}, rs: map[RSID]*rsState{}, stats: map[CheckerID]*CheckerStats{}, rsStats: map[RSID]RSStats{}}
	for _, r := range rss {
		s.rs[r.ID] = &rsState{weight: r.Weight, up: true, eff: int64(r.Weight)}
	}
	now := time.Now()
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
		e := &entry{spec: sp, core: NewCore(sp.Core, now, jitter), rs: r, index: -1}
		if sp.Carry != nil {
			e.core.Restore(*sp.Carry)
		}
		r.checkers = append(r.checkers, e.core)
		s.entries = append(s.entries, e)
		s.stats[sp.ID] = &CheckerStats{ID: sp.ID, Kind: sp.Core.Kind, Up: e.core.Up(), HasRun: e.core.HasRun(), Offset: e.core.Offset()}
		if sp.Core.Kind == KindFile {
			s.byFile[sp.TrackFile] = append(s.byFile[sp.TrackFile], e)
			continue
		}
		s.push(e)
	}
	for id, r := range s.rs {
		r.up, r.eff = RealServerState(r.weight, r.checkers)
		s.rsStats[id] = RSStats{ID: id, Up: r.up, Weight: r.eff, Checkers: len(r.checkers)}
	}
	for _, e := range s.entries {
		s.stats[e.spec.ID].Next = e.core.Deadline()
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
		now := time.Now()
		for len(s.heap) > 0 && !s.heap[0].core.Deadline().After(now) {
			e := heap.Pop(&s.heap).(*entry)
			if e.core.Start(now) {
				if bp, ok := e.spec.Prober.(beginProber); ok {
					s.begin(e, bp)
					continue
				}
				lane := 0
				if e.spec.Core.Kind == KindMisc {
					lane = 1
				}
				s.queue[lane] = append(s.queue[lane], e)
			}
		}
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
			// From the clock again: the connects begun above may have
			// taken a while on a loaded machine.
			resetTimer(timer, time.Until(s.heap[0].core.Deadline()))
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

// begin starts e's attempt on the loop; an attempt that has to wait
// continues in a goroutine of its own (its socket exists already, so it
// takes no worker: the pool bounds blocking probes, not sockets).
func (s *Scheduler) begin(e *entry, bp beginProber) {
	start := time.Now()
	res, wait := bp.begin(s.ctx)
	if wait == nil {
		end := time.Now()
		s.finish(workResult{e: e, res: res, end: end, latency: end.Sub(start)})
		return
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
	st := s.stats[e.spec.ID]
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
	rst := s.rsStats[e.spec.ID.RSID]
	rst.Up, rst.Weight = up, eff
	if ev.RSChanged {
		rst.Transitions++
	}
	s.rsStats[e.spec.ID.RSID] = rst
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
	if e.core.Deadline().IsZero() {
		return
	}
	heap.Push(&s.heap, e)
}

// deadlineHeap orders entries by their core's deadline.
type deadlineHeap []*entry

func (h deadlineHeap) Len() int { return len(h) }
func (h deadlineHeap) Less(i, j int) bool {
	return h[i].core.Deadline().Before(h[j].core.Deadline())
}
func (h deadlineHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *deadlineHeap) Push(x any) {
	e := x.(*entry)
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *deadlineHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	e.index = -1
	*h = old[:len(old)-1]
	return e
}
