package daemon

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// jobLog holds the log records that the kernel worker's jobs write
// through the address manager and the announcer ("added address", "sent
// gratuitous ARP") until the loop takes the job's outcome, and has the
// loop write them then, with the time they were logged. Formatting and
// writing a line costs tens of microseconds, more when the writer is a
// pipe or a busy syslog; held, it no longer sits between a takeover's
// address addition and its first GARP / NA, nor between one instance's
// round and the next instance's. Records logged while no job runs (the
// daemon's set-up, tests calling the manager directly) are written at
// once.
//
// Concurrency: begin, end and take are called by the worker, flush by the
// loop; Handle by whoever logs.
type jobLog struct {
	inJob atomic.Bool
	mu    sync.Mutex // guards held
	held  []heldRecord
}

// heldRecord is a record and the handler it goes to.
type heldRecord struct {
	h slog.Handler
	r slog.Record
}

// maxHeldRecords bounds what one job holds (a removal of a few thousand
// addresses logs a line each); past it the records held so far and the
// new one are written at once, in order.
const maxHeldRecords = 1024

func (q *jobLog) begin() {
	if q != nil {
		q.inJob.Store(true)
	}
}

func (q *jobLog) end() {
	if q != nil {
		q.inJob.Store(false)
	}
}

// take returns the records held since the last take, nil if none.
func (q *jobLog) take() []heldRecord {
	if q == nil {
		return nil
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	held := q.held
	q.held = nil
	return held
}

// writeHeld writes records in the order they were logged.
func writeHeld(held []heldRecord) {
	for _, h := range held {
		_ = h.h.Handle(context.Background(), h.r)
	}
}

// afterHeld returns an outcome that writes held, then runs outcome (nil:
// nothing more): the job's own lines come before the loop's about it.
func afterHeld(held []heldRecord, outcome func(now time.Time)) func(now time.Time) {
	if len(held) == 0 {
		return outcome
	}
	return func(now time.Time) {
		writeHeld(held)
		if outcome != nil {
			outcome(now)
		}
	}
}

// wrap returns a logger whose records go through q to log's handler.
func (q *jobLog) wrap(log *slog.Logger) *slog.Logger {
	return slog.New(&jobLogHandler{next: log.Handler(), q: q})
}

// jobLogHandler is the slog.Handler of a logger wrapped by jobLog.wrap.
type jobLogHandler struct {
	next slog.Handler
	q    *jobLog
}

func (h *jobLogHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *jobLogHandler) Handle(ctx context.Context, r slog.Record) error {
	if !h.q.inJob.Load() {
		return h.next.Handle(ctx, r)
	}
	h.q.mu.Lock()
	if len(h.q.held) < maxHeldRecords {
		h.q.held = append(h.q.held, heldRecord{h.next, r.Clone()})
		h.q.mu.Unlock()
		return nil
	}
	held := h.q.held
	h.q.held = nil
	h.q.mu.Unlock()
	writeHeld(held)
	return h.next.Handle(ctx, r)
}

func (h *jobLogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &jobLogHandler{next: h.next.WithAttrs(as), q: h.q}
}

func (h *jobLogHandler) WithGroup(name string) slog.Handler {
	return &jobLogHandler{next: h.next.WithGroup(name), q: h.q}
}
