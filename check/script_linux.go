package check

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Exec runs s to completion in its own process group and classifies the
// outcome. At s.Timeout it sends SIGTERM to the whole group, then SIGKILL
// after the kill grace, and once a timed-out leader is gone it SIGKILLs the
// group again so no child outlives it; that run is OutcomeTimeout whatever
// the exit status. Cancelling ctx SIGKILLs the group at once. started, if
// not nil, is called with the pid right after the process starts.
func Exec(ctx context.Context, s Script, started func(pid int)) Result {
	if len(s.Argv) == 0 {
		return Result{Outcome: OutcomeError, Err: "empty command"}
	}
	cmd := exec.Command(s.Argv[0], s.Argv[1:]...)
	cmd.Env = s.Env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if s.Credential {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: s.UID, Gid: s.GID, Groups: []uint32{s.GID}}
	}
	if err := cmd.Start(); err != nil {
		return Result{Outcome: OutcomeError, Err: err.Error()}
	}
	pgid := cmd.Process.Pid
	if started != nil {
		started(pgid)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	var timeout <-chan time.Time
	if s.Timeout > 0 {
		tm := time.NewTimer(s.Timeout)
		defer tm.Stop()
		timeout = tm.C
	}
	grace := s.KillGrace
	if grace <= 0 {
		grace = DefaultKillGrace
	}
	timedOut := false
	var err error
wait:
	for {
		select {
		case err = <-done:
			break wait
		case <-ctx.Done():
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-done
			return Result{Outcome: OutcomeError, Err: "cancelled: " + ctx.Err().Error()}
		case <-timeout:
			if !timedOut {
				timedOut = true
				_ = syscall.Kill(-pgid, syscall.SIGTERM)
				tm := time.NewTimer(grace)
				defer tm.Stop()
				timeout = tm.C
			} else {
				_ = syscall.Kill(-pgid, syscall.SIGKILL)
				timeout = nil
			}
		}
	}
	if timedOut {
		// The leader is gone; make sure its children are too.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		return Result{Outcome: OutcomeTimeout}
	}
	return classify(cmd, err)
}

func classify(cmd *exec.Cmd, err error) Result {
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return Result{Outcome: OutcomeError, Err: err.Error()}
	}
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok {
		return Result{Outcome: OutcomeError, Err: "unknown wait status"}
	}
	switch {
	case ws.Exited() && ws.ExitStatus() == 0:
		return Result{Outcome: OutcomeSuccess}
	case ws.Exited():
		return Result{Outcome: OutcomeFailure, ExitCode: ws.ExitStatus()}
	case ws.Signaled():
		return Result{Outcome: OutcomeFailure, Signal: int(ws.Signal())}
	}
	return Result{Outcome: OutcomeError, Err: fmt.Sprintf("wait status %#x", uint32(ws))}
}

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
