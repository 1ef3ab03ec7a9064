package notify

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/internal/logfast"
)

// DefaultQueueLimit bounds the runs waiting in one queue when
// Config.QueueLimit is 0.
const DefaultQueueLimit = 256

// LineWriter is where FIFO lines go; *FIFO is one.
type LineWriter interface {
	WriteLine(line string) error
}

// Config configures a Notifier.
type Config struct {
	Log        *slog.Logger  // nil: slog.Default()
	Timeout    time.Duration // one script run; 0: DefaultTimeout. At the timeout its process group gets SIGTERM, then SIGKILL
	KillGrace  time.Duration // SIGTERM → SIGKILL; 0: check.DefaultKillGrace
	QueueLimit int           // runs waiting per instance or group; beyond it new runs are dropped and counted; 0: DefaultQueueLimit
	FIFOs      []LineWriter  // notify_fifo and vrrp_notify_fifo, written in this order; owned by the caller
}

// Stats are the Notifier's counters since New.
type Stats struct {
	Events     uint64 `json:"events"` // Notify calls
	Runs       uint64 `json:"runs"`   // scripts started (or attempted)
	Succeeded  uint64 `json:"succeeded"`
	Failed     uint64 `json:"failed"`      // non-zero exit or foreign signal
	TimedOut   uint64 `json:"timed_out"`   // killed at Config.Timeout
	Errors     uint64 `json:"errors"`      // could not start (Refused included)
	Refused    uint64 `json:"refused"`     // not started: the script-security check refused it right before the run (a missing script is only an error)
	Dropped    uint64 `json:"dropped"`     // runs refused because their queue was full
	FIFOLines  uint64 `json:"fifo_lines"`  // lines written to FIFOs
	FIFOErrors uint64 `json:"fifo_errors"` // lines a FIFO refused (reader gone or behind)
	Pending    int    `json:"pending"`     // runs queued or running now
}

type queueKey struct {
	kind Kind
	name string
}

type run struct {
	cmd *Command
	ev  Event
}

type queue struct {
	runs []run
}

// Notifier runs notify scripts asynchronously: one queue per instance and
// per group, scripts in a queue run one at a time in the order Notify was
// called, and queues run in parallel with each other.
type Notifier struct {
	cfg    Config
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex // mu guards the following fields
	queues map[queueKey]*queue
	stats  Stats
	idle   chan struct{} // closed while nothing is pending
	closed bool
}

// New returns a Notifier; Close stops it.
func New(cfg Config) *Notifier {
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.QueueLimit <= 0 {
		cfg.QueueLimit = DefaultQueueLimit
	}
	ctx, cancel := context.WithCancel(context.Background())
	idle := make(chan struct{})
	close(idle)
	return &Notifier{cfg: cfg, log: log, ctx: ctx, cancel: cancel, queues: map[queueKey]*queue{}, idle: idle}
}

// SetFIFOs replaces the FIFOs that Notify writes lines to (a reload that
// changed notify_fifo or vrrp_notify_fifo). The caller owns them, the old
// ones too: it closes those after the call. Queued scripts are untouched.
func (n *Notifier) SetFIFOs(fifos []LineWriter) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cfg.FIFOs = slices.Clone(fifos)
}

// Notify reports ev: it writes ev's line to every FIFO (non-blocking) and
// queues the scripts Commands(s, ev) selects behind earlier ones of the
// same instance or group. It never waits for a script. After Close it
// only counts the event.
func (n *Notifier) Notify(ev Event, s Scripts) {
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	logfast.Debug(n.log, "notify", "kind", ev.Kind.String(), "name", ev.Name, "state", ev.State, "priority", ev.Priority, "reason", ev.Reason)
	line := FIFOLine(ev)
	var lines, lineErrs uint64
	n.mu.Lock()
	fifos := n.cfg.FIFOs
	n.mu.Unlock()
	for _, f := range fifos {
		if err := f.WriteLine(line); err != nil {
			lineErrs++
			n.log.Warn("notify: FIFO write failed", "line", line[:len(line)-1], "err", err)
		} else {
			lines++
		}
	}
	cmds := Commands(s, ev)

	n.mu.Lock()
	defer n.mu.Unlock()
	n.stats.Events++
	n.stats.FIFOLines += lines
	n.stats.FIFOErrors += lineErrs
	if n.closed || len(cmds) == 0 {
		return
	}
	k := queueKey{ev.Kind, ev.Name}
	q := n.queues[k]
	start := q == nil
	if start {
		q = &queue{}
		n.queues[k] = q
	}
	for _, c := range cmds {
		if len(q.runs) >= n.cfg.QueueLimit {
			n.stats.Dropped++
			n.log.Warn("notify: queue full, script dropped", "kind", ev.Kind.String(), "name", ev.Name, "state", ev.State, "script", c.Argv[0])
			continue
		}
		q.runs = append(q.runs, run{cmd: c, ev: ev})
		n.stats.Pending++
	}
	if n.stats.Pending > 0 {
		select {
		case <-n.idle:
			n.idle = make(chan struct{})
		default:
		}
	}
	if start {
		n.wg.Add(1)
		go n.runQueue(k, q)
	}
}

// runQueue runs q's scripts one after another and ends when q is empty.
// Owned by the Notifier; Close stops it.
func (n *Notifier) runQueue(k queueKey, q *queue) {
	defer n.wg.Done()
	for {
		n.mu.Lock()
		if len(q.runs) == 0 || n.ctx.Err() != nil {
			n.stats.Pending -= len(q.runs)
			q.runs = nil
			delete(n.queues, k)
			n.markIdleLocked()
			n.mu.Unlock()
			return
		}
		r := q.runs[0]
		q.runs = q.runs[1:]
		n.mu.Unlock()

		res := check.Exec(n.ctx, check.Script{
			Name: r.ev.Name, Argv: r.cmd.Argv,
			Credential: r.cmd.Credential, UID: r.cmd.UID, GID: r.cmd.GID,
			AllowUnsafe: r.cmd.AllowUnsafe,
			Timeout:     n.cfg.Timeout, KillGrace: n.cfg.KillGrace,
		}, nil)
		if !res.OK() {
			n.log.Warn("notify script "+res.String(), "kind", r.ev.Kind.String(), "name", r.ev.Name, "state", r.ev.State, "script", r.cmd.Argv[0])
		}

		n.mu.Lock()
		n.stats.Runs++
		n.stats.Pending--
		switch res.Outcome {
		case check.OutcomeSuccess:
			n.stats.Succeeded++
		case check.OutcomeFailure:
			n.stats.Failed++
		case check.OutcomeTimeout:
			n.stats.TimedOut++
		default:
			n.stats.Errors++
			if res.Refused {
				n.stats.Refused++
			}
		}
		n.markIdleLocked()
		n.mu.Unlock()
	}
}

func (n *Notifier) markIdleLocked() {
	if n.stats.Pending == 0 {
		select {
		case <-n.idle:
		default:
			close(n.idle)
		}
	}
}

// Stats returns a snapshot of the counters.
func (n *Notifier) Stats() Stats {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.stats
}

// Flush waits until every queued script has run, or ctx ends.
func (n *Notifier) Flush(ctx context.Context) error {
	n.mu.Lock()
	idle := n.idle
	n.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close drops queued scripts, SIGKILLs the process groups of running ones
// and waits for the queue goroutines. FIFOs are the caller's to close.
func (n *Notifier) Close() {
	n.mu.Lock()
	n.closed = true
	n.mu.Unlock()
	n.cancel()
	n.wg.Wait()
}
