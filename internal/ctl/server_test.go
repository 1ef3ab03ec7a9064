package ctl_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigil-ha/vigil/internal/ctl"
	"github.com/vigil-ha/vigil/internal/ctl/ctltest"
)

// handler is a daemon as the server sees it. Reload blocks until block is
// closed (if set) or the server's context ends.
type handler struct {
	status    ctl.Status
	reloadErr error
	block     chan struct{}

	reloads, forced, refused atomic.Int64
	inReload                 chan struct{} // receives when a Reload starts (if set)
	reloadEnded              atomic.Bool   // a blocked Reload has returned

	hub      *ctl.Hub // the events; nil: NewHub on first use
	hubOnce  sync.Once
	opErr    error
	mu       sync.Mutex
	ops      []ctl.Request // Operate's and Conntrack's requests, in order
	ctErr    error         // Conntrack's error
	ctDump   ctl.CTDump    // Conntrack's answer to the dumps (Cache set by the request)
	audits   []string      // "uid pid: request: error"
	auditped chan string   // receives each audit line (if set)
}

func (h *handler) Status() ctl.Status { return h.status }

func (h *handler) Reload(ctx context.Context, force bool) error {
	if force {
		h.forced.Add(1)
	} else {
		h.reloads.Add(1)
	}
	if h.inReload != nil {
		h.inReload <- struct{}{}
	}
	if h.block != nil {
		defer h.reloadEnded.Store(true)
		select {
		case <-h.block:
		case <-ctx.Done():
			// Slow to return, so that a Close that did not wait
			// would be seen.
			time.Sleep(50 * time.Millisecond)
			return ctx.Err()
		}
	}
	return h.reloadErr
}

func (h *handler) Refused(uint32, error) { h.refused.Add(1) }

func (h *handler) Operate(_ context.Context, req ctl.Request) ([]string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ops = append(h.ops, req)
	if h.opErr != nil {
		return nil, h.opErr
	}
	return []string{req.Target + ": " + string(req.Cmd)}, nil
}

func (h *handler) Conntrack(_ context.Context, req ctl.Request) (any, []string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ops = append(h.ops, req)
	if h.ctErr != nil {
		return nil, nil, h.ctErr
	}
	doc, done := ctltest.Conntrack(req, h.ctDump, h.status.Conntrack)
	return doc, done, nil
}

func (h *handler) events() *ctl.Hub {
	h.hubOnce.Do(func() {
		if h.hub == nil {
			h.hub = ctl.NewHub(0)
		}
	})
	return h.hub
}

func (h *handler) Subscribe() (<-chan ctl.Event, func()) { return h.events().Subscribe() }

func (h *handler) Audit(p ctl.Peer, req ctl.Request, err error) {
	line := fmt.Sprintf("%d %d: %s: %v", p.UID, p.PID, req, err)
	h.mu.Lock()
	h.audits = append(h.audits, line)
	h.mu.Unlock()
	if h.auditped != nil {
		h.auditped <- line
	}
}

// serverGoroutines returns the stacks of the goroutines the control server
// started that are still there: none may outlive Close.
func serverGoroutines() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var left []string
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		// The connection goroutines run closures of Serve (started by
		// sync.WaitGroup.Go); any frame of the Server counts.
		if strings.Contains(g, "github.com/vigil-ha/vigil/internal/ctl.(*Server)") {
			left = append(left, g)
		}
	}
	return left
}

// start runs a control server for h on a socket in a fresh directory. Its
// stop closes the server, waits for Serve and fails the test if any
// goroutine the server started is still there.
func start(t *testing.T, h ctl.Handler) (path string, stop func()) {
	t.Helper()
	srv, err := ctl.Listen(filepath.Join(t.TempDir(), "ctl.sock"), h)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			if err := srv.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Serve: %v", err)
			}
			if left := serverGoroutines(); len(left) > 0 {
				t.Errorf("%d goroutines of the server left after Close:\n%s", len(left), strings.Join(left, "\n\n"))
			}
		})
	}
	t.Cleanup(stop)
	return srv.Path(), stop
}

// TestClientServer: over a real unix socket, the client gets the status
// as the handler gave it (every counter), reloads reach the handler as
// asked, and a refused reload comes back as a FailedError with the reason.
func TestClientServer(t *testing.T) {
	st, _ := ctltest.FilledStatus(7, "ok")
	st.Time = time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	h := &handler{status: st}
	path, _ := start(t, h)
	c := &ctl.Client{Path: path}

	got, err := c.Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(st, got); d != "" {
		t.Errorf("status changed on the way (-sent +got):\n%s", d)
	}
	if err := c.Reload(t.Context(), false); err != nil {
		t.Errorf("reload: %v", err)
	}
	if err := c.Reload(t.Context(), true); err != nil {
		t.Errorf("reload --force: %v", err)
	}
	if h.reloads.Load() != 1 || h.forced.Load() != 1 {
		t.Errorf("%d reloads, %d forced; want 1 and 1", h.reloads.Load(), h.forced.Load())
	}
	h.reloadErr = errors.New("k.conf:3:1: binary data")
	err = c.Reload(t.Context(), false)
	var failed *ctl.FailedError
	if !errors.As(err, &failed) || failed.Command != ctl.CmdReload || failed.Reason != "k.conf:3:1: binary data" {
		t.Errorf("refused reload: %v, want a FailedError with the reason", err)
	}
	if h.refused.Load() != 0 {
		t.Errorf("our own uid was refused %d times", h.refused.Load())
	}
}

// exchange sends req as it is on a raw connection to path and returns
// everything the server answers before it hangs up.
func exchange(t *testing.T, path, req string) string {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Minute))
	io.WriteString(c, req)
	c.(*net.UnixConn).CloseWrite()
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestServerWire: the answers on the wire, byte for byte as vigild has
// always written them (vigilctl prints them as they come), and a hostile
// client's requests: unknown, overlong, binary, empty. Each gets a failed
// Result or nothing; the server keeps serving.
func TestServerWire(t *testing.T) {
	h := &handler{status: ctl.Status{RouterID: "r1"}}
	path, _ := start(t, h)
	for _, tc := range []struct{ req, want string }{
		{"reload\n", "{\n  \"result\": \"ok\"\n}\n"},
		{"reload --force\n", "{\n  \"result\": \"ok\"\n}\n"},
		{"  reload  \n", "{\n  \"result\": \"ok\"\n}\n"},
		{"reload", "{\n  \"result\": \"ok\"\n}\n"}, // no newline before the client's EOF
		{"restart\n", "{\n  \"error\": \"unknown command restart\",\n  \"result\": \"failed\"\n}\n"},
		{"\n", "{\n  \"error\": \"unknown command \",\n  \"result\": \"failed\"\n}\n"},
		{strings.Repeat("x", 10000), "{\n  \"error\": \"request too long\",\n  \"result\": \"failed\"\n}\n"},
		{"\x00\xff\"\n", "{\n  \"error\": \"unknown command \\u0000\\ufffd\\\"\",\n  \"result\": \"failed\"\n}\n"},
		{"", ""},
	} {
		if got := exchange(t, path, tc.req); got != tc.want {
			t.Errorf("%.40q: answered %q, want %q", tc.req, got, tc.want)
		}
	}
	if n := h.reloads.Load() + h.forced.Load(); n != 4 {
		t.Errorf("%d reloads ran, want 4", n)
	}
	got := exchange(t, path, "status\n")
	var s ctl.Status
	if err := json.Unmarshal([]byte(got), &s); err != nil || s.RouterID != "r1" || !strings.HasPrefix(got, "{\n  \"router_id\": \"r1\",\n") {
		t.Errorf("status after the hostile requests: %v\n%s", err, got)
	}
}

// TestCloseWaitsForHandlers: Close ends the context of a reload in
// progress, hangs up on a client that never sends its command, and
// returns only once both connections' goroutines have ended (start's stop
// checks that none is left).
func TestCloseWaitsForHandlers(t *testing.T) {
	h := &handler{block: make(chan struct{}), inReload: make(chan struct{}, 1)}
	path, stop := start(t, h)

	idle, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	reloaded := make(chan error, 1)
	go func() { reloaded <- (&ctl.Client{Path: path}).Reload(context.Background(), false) }()
	<-h.inReload
	// The idle client is accepted too: a status from a third one is
	// answered while both wait.
	if _, err := (&ctl.Client{Path: path}).Status(t.Context()); err != nil {
		t.Fatal(err)
	}

	stop()
	if !h.reloadEnded.Load() {
		t.Error("Close returned while a reload was still running")
	}
	var failed *ctl.FailedError
	if err := <-reloaded; !errors.As(err, &failed) || !strings.Contains(failed.Reason, "context canceled") {
		t.Errorf("the interrupted reload answered %v", err)
	}
	idle.SetReadDeadline(time.Now().Add(time.Minute))
	if n, err := idle.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Errorf("the idle client was not hung up on: %d, %v", n, err)
	}
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("socket left after Close: %v", err)
	}
}

// TestServeEndsWithContext: Serve returns when its context ends, after the
// connections it served, and removes the socket.
func TestServeEndsWithContext(t *testing.T) {
	before := len(serverGoroutines())
	srv, err := ctl.Listen(filepath.Join(t.TempDir(), "ctl.sock"), &handler{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	idle, err := net.Dial("unix", srv.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	// The server has the connection once it answers on it.
	if _, err := (&ctl.Client{Path: srv.Path()}).Status(t.Context()); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
	if left := serverGoroutines(); len(left) != before {
		t.Errorf("goroutines of the server left after Serve returned:\n%s", strings.Join(left, "\n\n"))
	}
	if _, err := os.Lstat(srv.Path()); !os.IsNotExist(err) {
		t.Errorf("socket left: %v", err)
	}
}

// TestClientCancel: a request whose context ends while vigild works on it
// returns at once with the context's error.
func TestClientCancel(t *testing.T) {
	h := &handler{block: make(chan struct{}), inReload: make(chan struct{}, 1)}
	path, _ := start(t, h)
	defer close(h.block)
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- (&ctl.Client{Path: path}).Reload(ctx, false) }()
	<-h.inReload
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled reload: %v, want context.Canceled", err)
	}
}

// TestClientErrors: no vigild; an answer that is not a status document;
// an answer larger than the client takes.
func TestClientErrors(t *testing.T) {
	c := &ctl.Client{Path: filepath.Join(t.TempDir(), "none.sock")}
	if _, err := c.Status(t.Context()); err == nil || !strings.Contains(err.Error(), "is vigild running?") || !strings.Contains(err.Error(), c.Path) {
		t.Errorf("no vigild: %v", err)
	}
	for _, tc := range []struct {
		answer func(io.Writer)
		want   string
	}{
		{func(w io.Writer) { io.WriteString(w, "<html>\n") }, "bad status document"},
		{func(w io.Writer) { io.WriteString(w, `{"result": "ok"}`) }, "bad status document"},
		{func(w io.Writer) { io.Copy(w, io.LimitReader(zeros{}, 64<<10+1)) }, "answer longer than 65536 bytes"},
	} {
		path := ctltest.Server(t, tc.answer)
		_, err := (&ctl.Client{Path: path, MaxAnswer: 64 << 10}).Status(t.Context())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("status: %v, want %q", err, tc.want)
		}
	}
}

type zeros struct{}

func (zeros) Read(b []byte) (int, error) { clear(b); return len(b), nil }
