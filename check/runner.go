package check

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Runner starts scripts without blocking the caller and posts each result
// on its channel. One run per script name is in flight at a time.
type Runner struct {
	log     *slog.Logger
	results chan<- RunResult
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	mu      sync.Mutex // mu guards the following fields
	running map[string]int
	stats   RunnerStats
	closed  bool
}

// NewRunner returns a Runner posting to cfg.Results.
func NewRunner(cfg RunnerConfig) *Runner {
	if cfg.Results == nil {
		panic("check: RunnerConfig.Results is nil")
	}
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Runner{log: log, results: cfg.Results, ctx: ctx, cancel: cancel, running: map[string]int{}}
}

// Run starts s in the background and returns at once. It returns ErrBusy,
// counted, when a run with the same name has not finished, and ErrClosed
// after Close. A script that cannot start is reported as an OutcomeError
// result on the channel, like any other run.
func (r *Runner) Run(s Script) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	if _, busy := r.running[s.Name]; busy {
		r.stats.Busy++
		return ErrBusy
	}
	r.running[s.Name] = 0
	r.wg.Add(1)
	go r.runScript(s)
	return nil
}

// runScript runs one script; it ends when the script has been reaped and
// its result posted (or Close was called). Owned by Runner, stopped by Close.
func (r *Runner) runScript(s Script) {
	defer r.wg.Done()
	start := time.Now()
	var pid int
	res := Exec(r.ctx, s, func(p int) {
		pid = p
		r.mu.Lock()
		r.running[s.Name] = p
		r.stats.Started++
		r.mu.Unlock()
	})
	end := time.Now()
	r.mu.Lock()
	delete(r.running, s.Name)
	switch res.Outcome {
	case OutcomeSuccess:
		r.stats.Succeeded++
	case OutcomeFailure:
		r.stats.Failed++
	case OutcomeTimeout:
		r.stats.TimedOut++
	default:
		r.stats.Errors++
		if res.Refused {
			r.stats.Refused++
		}
	}
	r.mu.Unlock()
	lvl := slog.LevelDebug
	if !res.OK() {
		lvl = slog.LevelInfo
	}
	r.log.Log(context.Background(), lvl, "script run", "script", s.Name, "pid", pid, "result", res.String(), "duration", end.Sub(start))
	select {
	case r.results <- RunResult{Name: s.Name, Result: res, PID: pid, Start: start, End: end}:
	case <-r.ctx.Done():
	}
}

// Stats returns a snapshot of the counters.
func (r *Runner) Stats() RunnerStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.stats
	s.Running = len(r.running)
	return s
}

// Close SIGKILLs every running script's process group and waits for the
// runner's goroutines. Results not yet posted are dropped.
func (r *Runner) Close() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.cancel()
	r.wg.Wait()
}
