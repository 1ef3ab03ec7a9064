package syncworker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/vigil-ha/vigil/conntracksync"
)

// ErrClosed is the error of a call made when the socket to the worker has
// ended, or that was waiting when it did.
var ErrClosed = errors.New("sync worker: connection closed")

// Client makes the daemon's calls on the worker's replicator. Its methods
// are safe for concurrent use. The calls without an error result
// (FlushExternal, RequestResync, SendBulk, Stats, SetMaster, Dump,
// DumpExpect) return zero values once the socket has ended; Err says why.
type Client struct {
	w *wire

	mu      sync.Mutex // guards the fields below
	next    uint64
	pending map[uint64]*clientCall
	err     error // why the socket ended; nil while it works
	done    chan struct{}
}

// clientCall is a call waiting for its answer.
type clientCall struct {
	reply   chan message
	current func() bool // a purge's question, answered for the worker
}

// NewClient starts reading the worker's answers from c. Close ends it.
func NewClient(c io.ReadWriteCloser) *Client {
	cl := &Client{w: newWire(c), pending: map[uint64]*clientCall{}, done: make(chan struct{})}
	go cl.read()
	return cl
}

// Close closes the socket; calls waiting fail with ErrClosed.
func (cl *Client) Close() error {
	err := cl.w.c.Close()
	<-cl.done
	return err
}

// Done is closed once the socket has ended.
func (cl *Client) Done() <-chan struct{} { return cl.done }

// Err returns why the socket ended, or nil while it works.
func (cl *Client) Err() error {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.err
}

func (cl *Client) read() {
	var err error
	for err == nil {
		var m message
		if err = cl.w.recv(&m); err != nil {
			break
		}
		cl.mu.Lock()
		cc := cl.pending[m.ID]
		cl.mu.Unlock()
		if cc == nil {
			continue // a call that gave up (Close raced it); nothing waits
		}
		switch m.Op {
		case opReply:
			cc.reply <- m
		case opCurrent:
			// Asked on a goroutine of its own: the question may wait for
			// a lock of the daemon's held by a caller that waits, in
			// turn, for an answer this reader must deliver.
			go func(id uint64, current func() bool) {
				ok := current != nil && current()
				if cl.w.send(&message{ID: id, Op: opReply, Flag: ok}) != nil {
					_ = cl.w.c.Close() // read ends and fails every call
				}
			}(m.ID, cc.current)
		default:
			err = fmt.Errorf("sync worker: unexpected message %v", m.Op)
		}
	}
	cl.mu.Lock()
	if errors.Is(err, io.EOF) || err == nil {
		err = ErrClosed
	} else {
		err = fmt.Errorf("%w: %v", ErrClosed, err)
	}
	cl.err = err
	pending := cl.pending
	cl.pending = map[uint64]*clientCall{}
	cl.mu.Unlock()
	_ = cl.w.c.Close()
	for _, cc := range pending {
		close(cc.reply)
	}
	close(cl.done)
}

// call sends m (its ID set here) and waits for the answer. When ctx ends
// first, the worker is told (opCancel) and the answer still awaited: the
// replicator's call returns once its context has ended.
func (cl *Client) call(ctx context.Context, m *message, current func() bool) (message, error) {
	return cl.callWait(ctx, m, current, true)
}

// callWait is call; without wait, a call whose ctx ends first returns
// ctx's error at once, and its answer, when it comes, is dropped (for a
// call the replicator does not end early, made where waiting is worse
// than not knowing).
func (cl *Client) callWait(ctx context.Context, m *message, current func() bool, wait bool) (message, error) {
	if d, ok := ctx.Deadline(); ok {
		m.Deadline = d
	}
	cc := &clientCall{reply: make(chan message, 1), current: current}
	cl.mu.Lock()
	if cl.err != nil {
		err := cl.err
		cl.mu.Unlock()
		return message{}, err
	}
	cl.next++
	m.ID = cl.next
	cl.pending[m.ID] = cc
	cl.mu.Unlock()
	defer func() {
		cl.mu.Lock()
		delete(cl.pending, m.ID)
		cl.mu.Unlock()
	}()
	if err := cl.w.send(m); err != nil {
		_ = cl.w.c.Close() // read ends and fails every call
		<-cl.done
		return message{}, cl.Err()
	}
	var r message
	var ok bool
	select {
	case r, ok = <-cc.reply:
	case <-ctx.Done():
		_ = cl.w.send(&message{ID: m.ID, Op: opCancel})
		if !wait {
			return message{}, fmt.Errorf("sync worker: %v: %w", m.Op, ctx.Err())
		}
		r, ok = <-cc.reply
	}
	if !ok {
		return message{}, cl.Err()
	}
	if (r.ErrKind == errCanceled || r.ErrKind == errDeadline) && ctx.Err() != nil {
		// Our opCancel and the worker's own deadline race: the cause is
		// the caller's context either way.
		return r, fmt.Errorf("sync worker: %s: %w", r.Err, ctx.Err())
	}
	return r, r.err()
}

// Commit is conntracksync.Replicator.Commit, in the worker.
func (cl *Client) Commit(ctx context.Context) (conntracksync.CommitStats, error) {
	r, err := cl.call(ctx, &message{Op: opCommit}, nil)
	return r.Commit, err
}

// Purge is conntracksync.Replicator.Purge, in the worker; current is
// asked here, when the worker's purge asks.
func (cl *Client) Purge(ctx context.Context, current func() bool) (conntracksync.PurgeStats, error) {
	r, err := cl.call(ctx, &message{Op: opPurge}, current)
	return r.Purge, err
}

// FlushExternal is conntracksync.Replicator.FlushExternal, in the worker.
func (cl *Client) FlushExternal() int {
	r, _ := cl.call(context.Background(), &message{Op: opFlushExternal}, nil)
	return r.N
}

// FlushExternalWithin is FlushExternal waiting at most until ctx ends:
// the worker flushes anyway, and the count is then unknown (an error).
func (cl *Client) FlushExternalWithin(ctx context.Context) (int, error) {
	r, err := cl.callWait(ctx, &message{Op: opFlushExternal}, nil, false)
	return r.N, err
}

// notify sends a one-way message: no answer is awaited, and the worker
// handles it before any call sent after it. A socket that has ended
// drops it.
func (cl *Client) notify(m *message) {
	if cl.Err() != nil {
		return
	}
	if cl.w.send(m) != nil {
		_ = cl.w.c.Close() // read ends and fails every call
	}
}

// RequestResync is conntracksync.Replicator.RequestResync, in the worker;
// it does not wait for the worker.
func (cl *Client) RequestResync() { cl.notify(&message{Op: opRequestResync}) }

// SendBulk is conntracksync.Replicator.SendBulk, in the worker; it does
// not wait for the worker.
func (cl *Client) SendBulk() { cl.notify(&message{Op: opSendBulk}) }

// SetMaster is conntracksync.Replicator.SetMaster, in the worker; it does
// not wait for the worker, which applies it before any later call.
func (cl *Client) SetMaster(master bool) { cl.notify(&message{Op: opSetMaster, Flag: master}) }

// Stats is conntracksync.Replicator.Stats, in the worker.
func (cl *Client) Stats() conntracksync.Stats {
	r, _ := cl.call(context.Background(), &message{Op: opStats}, nil)
	return r.Stats
}

// Dump is conntracksync.Replicator.Dump, in the worker.
func (cl *Client) Dump() (internal, external []conntracksync.Entry) {
	r, _ := cl.call(context.Background(), &message{Op: opDump}, nil)
	return r.Internal, r.External
}

// DumpExpect is conntracksync.Replicator.DumpExpect, in the worker.
func (cl *Client) DumpExpect() (internal, external []conntracksync.ExpectEntry) {
	r, _ := cl.call(context.Background(), &message{Op: opDumpExpect}, nil)
	return r.XInternal, r.XExternal
}
