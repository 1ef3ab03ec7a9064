package syncworker

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/conntracksync"
)

// socketPair returns the two ends of a Unix stream socket pair, closed
// when the test ends.
func socketPair(t *testing.T) (a, b net.Conn) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	conn := func(fd int) net.Conn {
		f := os.NewFile(uintptr(fd), "syncworker-test")
		defer f.Close()
		c, err := net.FileConn(f)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	return conn(fds[0]), conn(fds[1])
}

// fakeRep records the calls it gets and answers with fixed values; commit
// and purge, when set, replace Commit's and Purge's behaviour.
type fakeRep struct {
	mu      sync.Mutex
	calls   []string
	master  []bool
	commit  func(ctx context.Context) (conntracksync.CommitStats, error)
	purge   func(ctx context.Context, current func() bool) (conntracksync.PurgeStats, error)
	entries []conntracksync.Entry
	flush   chan struct{} // when set, FlushExternal waits for it
}

func (f *fakeRep) record(s string) {
	f.mu.Lock()
	f.calls = append(f.calls, s)
	f.mu.Unlock()
}

func (f *fakeRep) Commit(ctx context.Context) (conntracksync.CommitStats, error) {
	f.record("commit")
	if f.commit != nil {
		return f.commit(ctx)
	}
	return conntracksync.CommitStats{Entries: 3, Created: 2, Failed: 1, Errors: map[string]int{"EPERM": 1}, Duration: 5 * time.Millisecond}, nil
}

func (f *fakeRep) FlushExternal() int {
	f.record("flush")
	if f.flush != nil {
		<-f.flush
	}
	return 42
}
func (f *fakeRep) RequestResync() { f.record("resync") }
func (f *fakeRep) SendBulk()      { f.record("bulk") }

func (f *fakeRep) Purge(ctx context.Context, current func() bool) (conntracksync.PurgeStats, error) {
	f.record("purge")
	if f.purge != nil {
		return f.purge(ctx, current)
	}
	return conntracksync.PurgeStats{}, nil
}

func (f *fakeRep) Stats() conntracksync.Stats {
	f.record("stats")
	return conntracksync.Stats{Internal: 7, External: 9, Established: true, Drops: map[string]uint64{"foreign_source": 2}}
}

func (f *fakeRep) SetMaster(m bool) {
	f.mu.Lock()
	f.master = append(f.master, m)
	f.mu.Unlock()
}

func (f *fakeRep) Dump() (internal, external []conntracksync.Entry) {
	f.record("dump")
	return f.entries, f.entries[:1]
}

func (f *fakeRep) DumpExpect() (internal, external []conntracksync.ExpectEntry) {
	f.record("dump_expect")
	return nil, nil
}

// pair serves r on one end of a socket pair and returns a Client on the
// other, and the channel Serve's result arrives on.
func pair(t *testing.T, r Replicator) (*Client, <-chan error) {
	t.Helper()
	a, b := socketPair(t)
	served := make(chan error, 1)
	go func() { served <- Serve(t.Context(), b, r) }()
	cl := NewClient(a)
	t.Cleanup(func() { _ = cl.Close() })
	return cl, served
}

func testEntries() []conntracksync.Entry {
	tcp := conntracksync.Flow{
		Orig: conntracksync.Tuple{Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddr("198.51.100.2"),
			SrcPort: 40000, DstPort: 443, Proto: 6},
		Status: 0x18e, TimeoutSec: 120, Mark: 7, TCPState: 3, Helper: "ftp", Labels: "\x01\x00\x80",
	}
	v6 := conntracksync.Flow{
		Orig: conntracksync.Tuple{Src: netip.MustParseAddr("2001:db8::1"), Dst: netip.MustParseAddr("2001:db8::2"),
			SrcPort: 5353, DstPort: 53, Proto: 17},
		Zone: 3,
	}
	at := time.Date(2026, 12, 7, 3, 0, 0, 123, time.UTC)
	return []conntracksync.Entry{{Flow: tcp, Updated: at}, {Flow: v6, Updated: at.Add(time.Second)}}
}

// Every call reaches the worker's replicator, and its results come back
// whole: counters, maps, addresses, strings of raw bytes, times.
func TestCallsRoundTrip(t *testing.T) {
	f := &fakeRep{entries: testEntries()}
	cl, _ := pair(t, f)

	st, err := cl.Commit(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := conntracksync.CommitStats{Entries: 3, Created: 2, Failed: 1, Errors: map[string]int{"EPERM": 1}, Duration: 5 * time.Millisecond}
	if !reflect.DeepEqual(st, want) {
		t.Errorf("commit %+v, want %+v", st, want)
	}
	if n := cl.FlushExternal(); n != 42 {
		t.Errorf("flush %d, want 42", n)
	}
	cl.RequestResync()
	cl.SendBulk()
	cl.SetMaster(true)
	cl.SetMaster(false)
	s := cl.Stats()
	if s.Internal != 7 || s.External != 9 || !s.Established || s.Drops["foreign_source"] != 2 {
		t.Errorf("stats %+v", s)
	}
	in, ext := cl.Dump()
	if !reflect.DeepEqual(in, f.entries) || !reflect.DeepEqual(ext, f.entries[:1]) {
		t.Errorf("dump\n got %+v / %+v\nwant %+v", in, ext, f.entries)
	}
	if xin, xext := cl.DumpExpect(); xin != nil || xext != nil {
		t.Errorf("expectations %v %v", xin, xext)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if got, want := f.calls, []string{"commit", "flush", "resync", "bulk", "stats", "dump", "dump_expect"}; !reflect.DeepEqual(got, want) {
		t.Errorf("calls %v, want %v", got, want)
	}
	if !reflect.DeepEqual(f.master, []bool{true, false}) {
		t.Errorf("SetMaster %v", f.master)
	}
}

// A commit whose context ends on the daemon's side ends in the worker too,
// and the caller sees its context's error.
func TestCommitCancelled(t *testing.T) {
	started := make(chan struct{})
	f := &fakeRep{commit: func(ctx context.Context) (conntracksync.CommitStats, error) {
		close(started)
		<-ctx.Done()
		return conntracksync.CommitStats{Entries: 1}, ctx.Err()
	}}
	cl, _ := pair(t, f)
	ctx, cancel := context.WithCancel(t.Context())
	go func() { <-started; cancel() }()
	st, err := cl.Commit(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if st.Entries != 1 {
		t.Errorf("stats %+v: the worker's answer was not kept", st)
	}
}

// The caller's deadline reaches the worker.
func TestCommitDeadline(t *testing.T) {
	f := &fakeRep{commit: func(ctx context.Context) (conntracksync.CommitStats, error) {
		<-ctx.Done()
		return conntracksync.CommitStats{}, ctx.Err()
	}}
	cl, _ := pair(t, f)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := cl.Commit(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want context.DeadlineExceeded", err)
	}
}

// A purge asks the daemon, through the socket, whether it is still
// wanted, as often as it asks; the answers are the daemon's.
func TestPurgeAsksTheDaemon(t *testing.T) {
	var seen []bool
	f := &fakeRep{purge: func(ctx context.Context, current func() bool) (conntracksync.PurgeStats, error) {
		seen = append(seen, current(), current())
		return conntracksync.PurgeStats{Set: 5}, nil
	}}
	cl, _ := pair(t, f)
	answers := []bool{true, false}
	asked := 0
	st, err := cl.Purge(t.Context(), func() bool { asked++; return answers[asked-1] })
	if err != nil {
		t.Fatal(err)
	}
	if st.Set != 5 || asked != 2 || !reflect.DeepEqual(seen, []bool{true, false}) {
		t.Errorf("purge %+v, asked %d, the worker saw %v", st, asked, seen)
	}
}

// Stats is answered while a commit runs.
func TestStatsDuringCommit(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	f := &fakeRep{commit: func(ctx context.Context) (conntracksync.CommitStats, error) {
		close(started)
		<-release
		return conntracksync.CommitStats{}, nil
	}}
	cl, _ := pair(t, f)
	done := make(chan error, 1)
	go func() { _, err := cl.Commit(t.Context()); done <- err }()
	<-started
	if s := cl.Stats(); s.Internal != 7 {
		t.Errorf("stats %+v", s)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// When the worker goes, a call waiting fails with ErrClosed, and so does
// every later one, at once; the calls without an error give zero values.
func TestWorkerGone(t *testing.T) {
	a, b := socketPair(t)
	started := make(chan struct{})
	f := &fakeRep{commit: func(ctx context.Context) (conntracksync.CommitStats, error) {
		close(started)
		<-ctx.Done()
		return conntracksync.CommitStats{}, ctx.Err()
	}}
	ctx, stop := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, b, f) }()
	cl := NewClient(a)
	t.Cleanup(func() { _ = cl.Close() })
	done := make(chan error, 1)
	go func() { _, err := cl.Commit(t.Context()); done <- err }()
	<-started
	stop() // the worker ends: its socket closes under the waiting call
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("waiting call: %v, want ErrClosed", err)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
	<-cl.Done()
	if _, err := cl.Commit(t.Context()); !errors.Is(err, ErrClosed) {
		t.Errorf("later call: %v, want ErrClosed", err)
	}
	if n := cl.FlushExternal(); n != 0 {
		t.Errorf("flush %d after the worker went", n)
	}
	if !errors.Is(cl.Err(), ErrClosed) {
		t.Errorf("Err %v", cl.Err())
	}
}

// The daemon closing its end ends Serve cleanly once the calls running
// have answered.
func TestServeEndsWithTheDaemon(t *testing.T) {
	f := &fakeRep{}
	cl, served := pair(t, f)
	cl.SendBulk()
	if err := cl.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not end after the daemon closed its end")
	}
}

// A message the worker does not serve ends the conversation with an
// error naming it: a daemon and a worker of different builds must not
// carry on misunderstanding each other.
func TestServeRefusesUnknownMessage(t *testing.T) {
	a, b := socketPair(t)
	served := make(chan error, 1)
	go func() { served <- Serve(t.Context(), b, &fakeRep{}) }()
	if err := newWire(a).send(&message{ID: 1, Op: opLast + 3}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-served:
		if want := "sync worker: unexpected message " + (opLast + 3).String(); err == nil || err.Error() != want {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not refuse the message")
	}
}

// The one-way messages do not wait for the worker, and the worker applies
// them before any call sent after them: a commit after SetMaster(true)
// runs with the node holding MASTER, as it does in the daemon.
func TestOneWayBeforeLaterCalls(t *testing.T) {
	f := &fakeRep{}
	var sawMaster []bool
	f.commit = func(ctx context.Context) (conntracksync.CommitStats, error) {
		f.mu.Lock()
		sawMaster = append([]bool(nil), f.master...)
		f.mu.Unlock()
		return conntracksync.CommitStats{}, nil
	}
	cl, _ := pair(t, f)
	for range 20 {
		cl.SetMaster(false)
	}
	cl.SetMaster(true)
	if _, err := cl.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(sawMaster) != 21 || !sawMaster[20] {
		t.Errorf("the commit saw SetMaster %v, want 20 false then true", sawMaster)
	}
}

// A flush that may not wait (the takeover's, on the daemon's loop) gives
// up at its deadline while the worker is busy, and the worker's late
// answer is dropped: the next call gets its own answer.
func TestFlushWithinGivesUp(t *testing.T) {
	f := &fakeRep{flush: make(chan struct{})}
	cl, _ := pair(t, f)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := cl.FlushExternalWithin(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("gave up after %v", d)
	}
	close(f.flush) // the worker answers late
	if s := cl.Stats(); s.Internal != 7 {
		t.Errorf("the next call's answer: %+v", s)
	}
	if n := cl.FlushExternal(); n != 42 {
		t.Errorf("a later flush: %d", n)
	}
}

// The worker's log lines come out in the daemon's log with their level,
// message and attributes; anything else it writes (a panic's trace) as
// errors.
func TestRelayLine(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	relayLine(log, []byte(`{"time":"2026-12-07T03:00:00Z","level":"WARN","msg":"conntrack sync: x","peer":"192.0.2.2","n":3}`))
	relayLine(log, []byte(`{"time":"2026-12-07T03:00:00Z","level":"DEBUG","msg":"hidden"}`))
	relayLine(log, []byte(`panic: boom`))
	out := buf.String()
	for _, want := range []string{`level=WARN msg="conntrack sync: x"`, `peer=192.0.2.2`, `n=3`, `level=ERROR msg="sync worker: panic: boom"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "hidden") || strings.Count(out, "time=") != 2 {
		t.Errorf("the daemon's level and time do not rule:\n%s", out)
	}
}

// A line the worker logs reads, through the relay, as the same record
// logged by the daemon itself: its message, level and attributes, a
// duration included.
func TestWorkerLogAsDaemonLog(t *testing.T) {
	var worker, relayed, direct bytes.Buffer
	daemonLog := func(w io.Writer) *slog.Logger {
		return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug,
			ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
				if a.Key == slog.TimeKey && len(groups) == 0 {
					return slog.Attr{}
				}
				return a
			}}))
	}
	record := func(log *slog.Logger) {
		log.Info("conntrack sync: committed the external cache", "entries", 100, "took", 984385*time.Nanosecond, "err", nil)
	}
	record(slog.New(workerLogHandler(&worker)))
	record(daemonLog(&direct))
	relayLine(daemonLog(&relayed), bytes.TrimSpace(worker.Bytes()))
	if relayed.String() != direct.String() {
		t.Errorf("relayed from the worker:\n%s\nlogged by the daemon:\n%s", relayed.String(), direct.String())
	}
}

// A purge's question that waits for the daemon (a lock a takeover holds
// while it flushes) does not hold up the answers of other calls: the
// flush's count arrives meanwhile, within its bound.
func TestQuestionDoesNotHoldAnswers(t *testing.T) {
	asked := make(chan struct{})
	f := &fakeRep{purge: func(ctx context.Context, current func() bool) (conntracksync.PurgeStats, error) {
		current()
		return conntracksync.PurgeStats{}, nil
	}}
	cl, _ := pair(t, f)
	release := make(chan struct{})
	purged := make(chan error, 1)
	go func() {
		_, err := cl.Purge(t.Context(), func() bool { close(asked); <-release; return false })
		purged <- err
	}()
	<-asked
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	n, err := cl.FlushExternalWithin(ctx)
	close(release)
	if err != nil || n != 42 {
		t.Errorf("flush while a question waits: %d, %v", n, err)
	}
	if err := <-purged; err != nil {
		t.Fatal(err)
	}
}
