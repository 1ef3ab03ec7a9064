package syncworker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Serve answers the daemon's calls on r, read from c, until c ends (the
// daemon closed it or exited) or ctx does. The one-way messages
// (SetMaster, RequestResync, SendBulk: quick, and their order matters)
// are handled as they are read; each call that answers runs on a
// goroutine of its own, so that Stats is answered while a commit runs,
// and a call whose context the daemon ended (opCancel) sees it end.
// Serve returns once every call it started has returned, with nil when c
// ended cleanly or ctx did.
func Serve(ctx context.Context, c io.ReadWriteCloser, r Replicator) error {
	sctx, cancel := context.WithCancel(ctx)
	s := &server{w: newWire(c), r: r, calls: map[uint64]*serverCall{}}
	stop := context.AfterFunc(sctx, func() { _ = c.Close() })
	defer stop()
	err := s.read(sctx)
	cancel()
	s.wg.Wait()
	if ctx.Err() != nil || errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

type server struct {
	w  *wire
	r  Replicator
	wg sync.WaitGroup

	mu    sync.Mutex // guards calls
	calls map[uint64]*serverCall
}

// serverCall is a call in progress: the end of its context, and where the
// daemon's answer to its opCurrent goes.
type serverCall struct {
	cancel  context.CancelFunc
	current chan bool
}

func (s *server) read(ctx context.Context) error {
	for {
		var m message
		if err := s.w.recv(&m); err != nil {
			return err
		}
		switch m.Op {
		case opCancel:
			s.mu.Lock()
			if sc := s.calls[m.ID]; sc != nil {
				sc.cancel()
			}
			s.mu.Unlock()
		case opReply:
			s.mu.Lock()
			sc := s.calls[m.ID]
			s.mu.Unlock()
			if sc != nil {
				select {
				case sc.current <- m.Flag:
				default: // nobody asked: the daemon answers each question once
				}
			}
		case opSetMaster:
			// One-way, and in order: a commit asked for after it runs
			// with the node's new state, as it would in the daemon.
			s.r.SetMaster(m.Flag)
		case opRequestResync:
			s.r.RequestResync()
		case opSendBulk:
			s.r.SendBulk()
		case opCommit, opFlushExternal, opPurge, opStats, opDump, opDumpExpect:
			s.start(ctx, m)
		default:
			return fmt.Errorf("sync worker: unexpected message %v", m.Op)
		}
	}
}

func (s *server) start(ctx context.Context, m message) {
	var cctx context.Context
	var cancel context.CancelFunc
	if m.Deadline.IsZero() {
		cctx, cancel = context.WithCancel(ctx)
	} else {
		cctx, cancel = context.WithDeadline(ctx, m.Deadline)
	}
	sc := &serverCall{cancel: cancel, current: make(chan bool, 1)}
	s.mu.Lock()
	if s.calls[m.ID] != nil {
		s.mu.Unlock()
		cancel()
		_ = s.w.send(&message{ID: m.ID, Op: opReply, ErrKind: errOther, Err: "a call with this id is running"})
		return
	}
	s.calls[m.ID] = sc
	s.mu.Unlock()
	s.wg.Go(func() {
		out := s.call(cctx, &m, sc)
		s.mu.Lock()
		delete(s.calls, m.ID)
		s.mu.Unlock()
		cancel()
		if ctx.Err() != nil {
			// The worker is stopping: the conversation is over, and the
			// call's context error is not the daemon's.
			return
		}
		// A failed send means the daemon is gone: read ends too.
		_ = s.w.send(out)
	})
}

// call runs one call on the replicator and returns its answer.
func (s *server) call(ctx context.Context, m *message, sc *serverCall) *message {
	out := &message{ID: m.ID, Op: opReply}
	switch m.Op {
	case opCommit:
		st, err := s.r.Commit(ctx)
		out.Commit = st
		out.setErr(err)
	case opFlushExternal:
		out.N = s.r.FlushExternal()
	case opPurge:
		st, err := s.r.Purge(ctx, func() bool { return s.current(ctx, m.ID, sc) })
		out.Purge = st
		out.setErr(err)
	case opStats:
		out.Stats = s.r.Stats()
	case opDump:
		out.Internal, out.External = s.r.Dump()
	case opDumpExpect:
		out.XInternal, out.XExternal = s.r.DumpExpect()
	}
	return out
}

// current asks the daemon whether the purge of call id is still wanted; a
// call whose context ended, or a daemon that cannot be asked, is not.
func (s *server) current(ctx context.Context, id uint64, sc *serverCall) bool {
	if err := s.w.send(&message{ID: id, Op: opCurrent}); err != nil {
		return false
	}
	select {
	case ok := <-sc.current:
		return ok
	case <-ctx.Done():
		return false
	}
}
