package syncworker

import (
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/vigil-ha/vigil/conntracksync"
)

// WorkerEnv, set to "1" in a process's environment, makes the daemon's
// binary a sync worker (cmd/vigild checks it first).
const WorkerEnv = "VIGILD_SYNC_WORKER"

// WorkerComm is a worker's process name (ps, top; its command line is
// the daemon's).
const WorkerComm = "vigild-sync"

// SelfExe names the running program's own binary (on Linux): the file it
// was started from, even when that path has since been replaced.
const SelfExe = "/proc/self/exe"

// WorkerProcs is the worker's GOMAXPROCS: one P, so that its goroutines'
// hand-overs are switches within a thread, not wake-ups of another
// (CommitProcs while it commits).
const WorkerProcs = 1

// Replicator is what the worker serves: the replicator's calls the daemon
// makes.
type Replicator interface {
	conntracksync.Syncer
	Dump() (internal, external []conntracksync.Entry)
	DumpExpect() (internal, external []conntracksync.ExpectEntry)
	SetMaster(master bool)
}

var _ Replicator = (*conntracksync.Replicator)(nil)

// op says what a message is.
type op uint8

const (
	opCommit op = iota + 1
	opFlushExternal
	opRequestResync
	opSendBulk
	opPurge
	opStats
	opSetMaster
	opDump
	opDumpExpect
	// opCancel (daemon → worker): the context of call ID ended.
	opCancel
	// opCurrent (worker → daemon): call ID, a purge, asks whether it is
	// still wanted; the answer is an opReply with Flag.
	opCurrent
	// opReply answers call ID (or, to the worker, its opCurrent).
	opReply
	opLast
)

var opNames = [...]string{opCommit: "commit", opFlushExternal: "flush_external", opRequestResync: "request_resync",
	opSendBulk: "send_bulk", opPurge: "purge", opStats: "stats", opSetMaster: "set_master", opDump: "dump",
	opDumpExpect: "dump_expect", opCancel: "cancel", opCurrent: "current", opReply: "reply"}

func (o op) String() string {
	if o > 0 && o < opLast {
		return opNames[o]
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// Error kinds, so that a context's end keeps its identity across the
// socket (errors.Is(err, context.DeadlineExceeded) on the daemon's side).
const (
	errOther uint8 = iota + 1
	errCanceled
	errDeadline
)

// message is every message either way; the fields an op does not use are
// zero, which gob does not send.
type message struct {
	ID uint64
	Op op
	// Deadline is a call's context deadline (zero: none).
	Deadline time.Time
	// Flag is SetMaster's argument, or the answer to opCurrent.
	Flag bool
	// ErrKind (0: no error) and Err are a call's error.
	ErrKind uint8
	Err     string

	N         int
	Commit    conntracksync.CommitStats
	Purge     conntracksync.PurgeStats
	Stats     conntracksync.Stats
	Internal  []conntracksync.Entry
	External  []conntracksync.Entry
	XInternal []conntracksync.ExpectEntry
	XExternal []conntracksync.ExpectEntry
}

func (m *message) setErr(err error) {
	if err == nil {
		return
	}
	m.Err = err.Error()
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		m.ErrKind = errDeadline
	case errors.Is(err, context.Canceled):
		m.ErrKind = errCanceled
	default:
		m.ErrKind = errOther
	}
}

// err returns the call's error as the caller sees it.
func (m *message) err() error {
	switch m.ErrKind {
	case 0:
		return nil
	case errDeadline:
		return fmt.Errorf("sync worker: %s: %w", m.Err, context.DeadlineExceeded)
	case errCanceled:
		return fmt.Errorf("sync worker: %s: %w", m.Err, context.Canceled)
	}
	return fmt.Errorf("sync worker: %s", m.Err)
}

// wire is one end of the socket: gob both ways, sends serialised.
type wire struct {
	c   io.ReadWriteCloser
	dec *gob.Decoder
	mu  sync.Mutex // guards enc
	enc *gob.Encoder
}

func newWire(c io.ReadWriteCloser) *wire {
	return &wire{c: c, dec: gob.NewDecoder(c), enc: gob.NewEncoder(c)}
}

func (w *wire) send(m *message) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.enc.Encode(m)
}

func (w *wire) recv(m *message) error { return w.dec.Decode(m) }
