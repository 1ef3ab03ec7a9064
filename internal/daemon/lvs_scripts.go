package daemon

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/internal/ctl"
)

// lvsScripts runs the IPVS notify scripts (notify_up, notify_down,
// quorum_up, quorum_down) one after another, in the order the policy
// emitted them, on a worker of their own (a kernelWork whose jobs report
// nothing back to the loop), through check.Exec: script security is
// checked again before each run. It never blocks the loop: past
// lvsScriptQueue waiting runs, new ones are dropped and counted.
//
// Concurrency: add, stats and close are called by the loop; the worker
// is started by newLVSScripts and waited for by close.
type lvsScripts struct {
	log  *slog.Logger
	work *kernelWork

	mu sync.Mutex // guards st
	st ctl.LVSScriptStats
}

func newLVSScripts(log *slog.Logger) *lvsScripts {
	s := &lvsScripts{log: log, work: newKernelWork()}
	go s.work.run() // ended by close
	return s
}

// add queues one run.
func (s *lvsScripts) add(sc check.Script) {
	s.mu.Lock()
	if s.st.Pending >= lvsScriptQueue {
		s.st.Dropped++
		s.mu.Unlock()
		s.log.Warn("IPVS notify script dropped: too many waiting", "event", sc.Name, "script", sc.Argv[0])
		return
	}
	s.st.Pending++
	s.mu.Unlock()
	s.work.do(func(context.Context) func(time.Time) {
		res := check.Exec(context.Background(), sc, nil)
		if !res.OK() {
			s.log.Warn("IPVS notify script "+res.String(), "event", sc.Name, "script", sc.Argv[0])
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.st.Runs++
		s.st.Pending--
		switch res.Outcome {
		case check.OutcomeSuccess:
			s.st.Succeeded++
		case check.OutcomeError:
			s.st.Errors++
		default:
			s.st.Failed++
		}
		return nil
	})
}

func (s *lvsScripts) stats() ctl.LVSScriptStats {
	if s == nil {
		return ctl.LVSScriptStats{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st
}

// close lets the queued scripts run (each within its timeout) and waits
// for the worker.
func (s *lvsScripts) close() {
	if s != nil {
		s.work.finish()
	}
}
