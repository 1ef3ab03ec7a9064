package daemon

import (
	"context"
	"log/slog"
	"sync"

	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/internal/ctl"
)

// scriptQueue runs the IPVS notify scripts (notify_up, notify_down,
// quorum_up, quorum_down) one after another, in the order the policy
// emitted them, through check.Exec (script security checked again
// before each run). It never blocks the loop: past lvsScriptQueue
// waiting runs, new ones are dropped and counted.
//
// Concurrency: add, stats and close may be called from the loop; run is
// the one worker, started by newScriptQueue and waited for by close.
type scriptQueue struct {
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex // mu guards the following fields
	runs   []check.Script
	st     ctl.LVSScriptStats
	wake   chan struct{}
	closed bool
}

func newScriptQueue(log *slog.Logger) *scriptQueue {
	ctx, cancel := context.WithCancel(context.Background())
	q := &scriptQueue{log: log, ctx: ctx, cancel: cancel, wake: make(chan struct{}, 1)}
	q.wg.Add(1)
	go q.run()
	return q
}

func (q *scriptQueue) add(s check.Script) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed || len(q.runs) >= lvsScriptQueue {
		q.st.Dropped++
		return
	}
	q.runs = append(q.runs, s)
	q.st.Pending++
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *scriptQueue) stats() ctl.LVSScriptStats {
	if q == nil {
		return ctl.LVSScriptStats{}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.st
}

// close lets the queued scripts run (each within its timeout), then
// stops the worker and waits for it.
func (q *scriptQueue) close() {
	if q == nil {
		return
	}
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	q.wg.Wait()
	q.cancel()
}

func (q *scriptQueue) run() {
	defer q.wg.Done()
	for {
		q.mu.Lock()
		if len(q.runs) == 0 {
			closed := q.closed
			q.mu.Unlock()
			if closed {
				return
			}
			<-q.wake
			continue
		}
		s := q.runs[0]
		q.runs = q.runs[1:]
		q.mu.Unlock()

		res := check.Exec(q.ctx, s, nil)
		if !res.OK() {
			q.log.Warn("IPVS notify script "+res.String(), "event", s.Name, "script", s.Argv[0])
		}
		q.mu.Lock()
		q.st.Runs++
		q.st.Pending--
		switch res.Outcome {
		case check.OutcomeSuccess:
			q.st.Succeeded++
		case check.OutcomeError:
			q.st.Errors++
		default:
			q.st.Failed++
		}
		q.mu.Unlock()
	}
}
