package ctl

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Handler answers the control protocol's commands. vigild's daemon
// implements it; the server holds no state of its own beyond its
// connections.
type Handler interface {
	// Status returns a snapshot of the daemon's state.
	Status() Status
	// Reload loads the configuration again and applies it; force also
	// applies one without any vrrp_instance. ctx ends when the server is
	// closed.
	Reload(ctx context.Context, force bool) error
	// Refused is told of every client refused for its uid (err: the uid
	// could not be read), so that the daemon counts it in
	// Status.ControlRefused.
	Refused(uid uint32, err error)
	// Operate runs demote, promote, maintenance on and maintenance off
	// for req.Target and says what it did, one line per instance; a
	// refusal (an unknown target, demote of a backup) is an error and
	// changes nothing.
	Operate(ctx context.Context, req Request) (done []string, err error)
	// Conntrack runs a ct command (Command.IsConntrack): the dumps and
	// ct stats answer with their document (doc), the others say what
	// they did (done). An error (no conntrack_sync configured, a failed
	// commit) is the answer instead.
	Conntrack(ctx context.Context, req Request) (doc any, done []string, err error)
	// Subscribe returns the events stream (see Hub.Subscribe).
	Subscribe() (events <-chan Event, cancel func())
	// Audit is told of every command a client that was let in sent: who
	// (the socket's peer credentials), what, and how it ended (err, or
	// nil). For events it is told when the stream starts.
	Audit(peer Peer, req Request, err error)
}

// Peer is who is at the other end of a control connection, as the kernel
// reported it when the client connected (SO_PEERCRED).
type Peer struct {
	UID, GID uint32
	PID      int32
}

// requestTimeout bounds one connection: reading the command, running it
// and writing the answer.
const requestTimeout = 30 * time.Second

// refuseTimeout bounds the exchange with a refused client.
const refuseTimeout = 5 * time.Second

// closeGrace is how long Close lets an answer being written go on.
const closeGrace = time.Second

// drainMax bounds what is read and thrown away from a client before
// hanging up on it (see hangUp).
const drainMax = 64 << 10

// Server answers the control protocol on vigild's unix socket. Each
// connection carries one command line and gets one JSON document back:
// the Status for "status", a Result for anything else. A client that is
// neither root nor vigild's own user (SO_PEERCRED) gets a failed Result
// and nothing is run for it.
//
// Concurrency: Serve runs the accept loop; every connection is answered
// by a goroutine the Server starts and waits for. Close (or the end of
// Serve's context) stops accepting, ends the context handed to
// Handler.Reload, stops reading from the open connections and returns
// once every connection goroutine has ended.
type Server struct {
	h      Handler
	l      *listener
	ctx    context.Context // handed to Handler.Reload; ends at Close
	cancel context.CancelFunc

	wg sync.WaitGroup // the connection goroutines

	mu     sync.Mutex // guards the fields below
	closed bool
	conns  map[net.Conn]struct{}
}

// Listen creates the control socket at path: owner-only (0600) from the
// moment it can be reached, in a directory only root (or vigild's user)
// can change; a socket an earlier run left at path is replaced, anything
// else there is an error and left alone. Close removes the socket file
// unless something else has taken its path meanwhile.
func Listen(path string, h Handler) (*Server, error) {
	l, err := listen(path)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{h: h, l: l, ctx: ctx, cancel: cancel, conns: map[net.Conn]struct{}{}}, nil
}

// Path is the control socket's absolute path.
func (s *Server) Path() string { return s.l.path }

// Serve accepts clients until ctx ends or Close is called, then closes
// the server (see Close) and returns nil once every connection goroutine
// has ended. Call it once.
func (s *Server) Serve(ctx context.Context) error {
	stop := onDone(ctx, func() { s.shutdown() })
	defer func() {
		stop()
		s.Close()
	}()
	for {
		c, err := s.l.Accept()
		if errors.Is(err, net.ErrClosed) {
			return nil
		}
		if err != nil {
			// Out of descriptors, say: wait for connections to end
			// rather than spin.
			time.Sleep(acceptBackoff)
			continue
		}
		if !s.track(c) {
			c.Close()
			return nil
		}
		s.wg.Go(func() {
			defer s.untrack(c)
			peer, ok, err := allowedPeer(c)
			if !ok {
				s.h.Refused(peer.UID, err)
				s.setDeadline(c, refuseTimeout)
				refuse(c, peer.UID, err)
				return
			}
			s.serveOne(c, peer)
		})
	}
}

// acceptBackoff is the pause after an accept error other than the
// listener's closing.
const acceptBackoff = 50 * time.Millisecond

// track records c as open, unless the server is closed.
func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

// setDeadline gives c d from now, unless Close has already set its
// deadlines.
func (s *Server) setDeadline(c net.Conn, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		c.SetDeadline(time.Now().Add(d))
	}
}

// clearDeadline removes c's deadlines, unless Close has already set them.
func (s *Server) clearDeadline(c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		c.SetDeadline(time.Time{})
	}
}

func (s *Server) untrack(c net.Conn) {
	c.Close()
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// Close stops listening, removes the socket file (see Listen), ends the
// running commands' context (their clients get the failure as answer),
// stops reading from every open connection and waits for their
// goroutines to end, which takes at most closeGrace once the Handler's
// calls have returned. It may be called more than once, and from any
// goroutine but a connection's.
func (s *Server) Close() error {
	err := s.shutdown()
	s.wg.Wait()
	return err
}

// shutdown is Close without the wait; the first call's listener error is
// returned.
func (s *Server) shutdown() error {
	s.mu.Lock()
	first := !s.closed
	s.closed = true
	// Reads end now (a client that never sends its command, a refused
	// one still talking); an answer being written gets closeGrace.
	now := time.Now()
	for c := range s.conns {
		c.SetReadDeadline(now)
		c.SetWriteDeadline(now.Add(closeGrace))
	}
	s.mu.Unlock()
	if !first {
		return nil
	}
	s.cancel()
	return s.l.Close()
}

// serveOne answers the one command of connection c, from peer.
func (s *Server) serveOne(c net.Conn, peer Peer) {
	s.setDeadline(c, requestTimeout)
	line, err := readRequest(c)
	if err != nil {
		if line != "" {
			writeAnswer(c, Result{Result: ResultFailed, Error: err.Error()})
			hangUp(c)
		}
		return
	}
	req, err := parseRequest(line)
	if err != nil {
		s.h.Audit(peer, Request{Cmd: Command(strings.Join(strings.Fields(line), " "))}, err)
		writeAnswer(c, Result{Result: ResultFailed, Error: err.Error()})
		return
	}
	switch req.Cmd {
	case CmdStatus:
		s.h.Audit(peer, req, nil)
		writeAnswer(c, s.h.Status())
	case CmdReload, CmdForceReload:
		err := s.h.Reload(s.ctx, req.Cmd == CmdForceReload)
		s.h.Audit(peer, req, err)
		if err != nil {
			writeAnswer(c, Result{Result: ResultFailed, Error: err.Error()})
			return
		}
		writeAnswer(c, Result{Result: ResultOK})
	case CmdEvents:
		s.h.Audit(peer, req, nil)
		s.serveEvents(c)
	case CmdCTDumpInternal, CmdCTDumpExternal, CmdCTStats, CmdCTCommit, CmdCTFlush, CmdCTResync, CmdCTBulk:
		s.serveConntrack(c, peer, req)
	default:
		done, err := s.h.Operate(s.ctx, req)
		s.h.Audit(peer, req, err)
		if err != nil {
			writeAnswer(c, Result{Result: ResultFailed, Error: err.Error(), Done: done})
			return
		}
		writeAnswer(c, Result{Result: ResultOK, Done: done})
	}
}

// serveConntrack answers a ct command: its document, or a Result.
func (s *Server) serveConntrack(c net.Conn, peer Peer, req Request) {
	doc, done, err := s.h.Conntrack(s.ctx, req)
	s.h.Audit(peer, req, err)
	switch {
	case err != nil:
		writeAnswer(c, Result{Result: ResultFailed, Error: err.Error(), Done: done})
	case doc != nil:
		writeAnswer(c, doc)
	default:
		writeAnswer(c, Result{Result: ResultOK, Done: done})
	}
}

// eventWriteTimeout bounds the write of one event line: a client that
// stops reading is hung up on once it runs out (and the Hub has dropped
// it before, when its buffer filled).
const eventWriteTimeout = 10 * time.Second

// serveEvents streams the Handler's events to c as JSON lines until the
// client hangs up, the server closes or the Hub drops the client for
// falling behind; then a failed Result line says why the stream ended, if
// the client is still there to read it.
func (s *Server) serveEvents(c net.Conn) {
	events, cancel := s.h.Subscribe()
	defer cancel()
	s.clearDeadline(c) // the stream lasts as long as the client
	gone := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer c.SetReadDeadline(time.Unix(1, 0)) // ends the reader below
	wg.Go(func() {
		// Nothing is expected from the client: any read that ends,
		// EOF included, means it is gone.
		io.Copy(io.Discard, io.LimitReader(c, drainMax))
		close(gone)
	})
	enc := json.NewEncoder(c)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				c.SetWriteDeadline(time.Now().Add(eventWriteTimeout))
				enc.Encode(Result{Result: ResultFailed, Error: "events: dropped by vigild: the client fell behind"})
				return
			}
			c.SetWriteDeadline(time.Now().Add(eventWriteTimeout))
			if enc.Encode(ev) != nil {
				return
			}
		case <-gone:
			return
		case <-s.ctx.Done():
			c.SetWriteDeadline(time.Now().Add(closeGrace))
			enc.Encode(Result{Result: ResultFailed, Error: "events: vigild is stopping"})
			return
		}
	}
}

// errLongRequest is the answer to a request line longer than maxRequest.
var errLongRequest = errors.New("request too long")

// readRequest reads one request line of at most maxRequest bytes. A
// client that closes its side after the command without a newline is
// served as one that sent it; an empty request is an error with an empty
// line (no answer is due).
func readRequest(c io.Reader) (string, error) {
	r := bufio.NewReaderSize(io.LimitReader(c, maxRequest+1), maxRequest+16)
	line, err := r.ReadString('\n')
	if len(line) > maxRequest {
		return line[:maxRequest], errLongRequest
	}
	if err != nil && (err != io.EOF || line == "") {
		return line, err
	}
	return line, nil
}

// writeAnswer writes v as the indented JSON document vigild has always
// answered with.
func writeAnswer(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// allowedPeer reports whether the peer of c may use the control socket:
// root, or the user vigild runs as. The socket file's mode keeps others
// from connecting at all; this is the second wall, for a socket whose
// mode was widened.
func allowedPeer(c net.Conn) (peer Peer, ok bool, err error) {
	peer, err = peerCred(c)
	if err != nil {
		return Peer{}, false, err
	}
	return peer, allowedUID(peer.UID, uint32(os.Geteuid())), nil
}

// allowedUID is the rule of allowedPeer: root or our own effective uid.
func allowedUID(uid, euid uint32) bool { return uid == 0 || uid == euid }

// refuse tells a peer that may not use the control socket so and hangs
// up (see hangUp); c's deadline bounds it.
func refuse(c net.Conn, uid uint32, err error) {
	msg := "permission denied: uid " + strconv.FormatUint(uint64(uid), 10) + " may not use vigild's control socket"
	if err != nil {
		msg = "permission denied: cannot tell who is connecting: " + err.Error()
	}
	json.NewEncoder(c).Encode(Result{Result: ResultFailed, Error: msg})
	hangUp(c)
}

// hangUp ends our side of c after an answer sent before the client's
// request was read in full. What the client still sends is read (at most
// drainMax, until c's deadline) and thrown away, only so that the kernel
// does not reset the connection, and lose the answer, when unread data
// meets the close.
func hangUp(c net.Conn) {
	if uc, ok := c.(*net.UnixConn); ok {
		uc.CloseWrite()
	}
	io.CopyN(io.Discard, c, drainMax)
}

// onDone runs f when ctx ends, in a goroutine of its own, until stop is
// called; stop returns once that goroutine has ended (and f with it).
func onDone(ctx context.Context, f func()) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		select {
		case <-ctx.Done():
			f()
		case <-done:
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}
