package syncworker

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vigil-ha/vigil/conntracksync"
	"github.com/vigil-ha/vigil/internal/memtrim"
	"github.com/vigil-ha/vigil/internal/procnice"
)

// The worker's inherited descriptors: the socket the calls come on, and
// a pipe that carries its configuration (JSON) once.
const (
	workerConnFD   = 3
	workerConfigFD = 4
)

// stopWait is how long a worker has to end after the daemon closed its
// socket before it is killed.
const stopWait = 5 * time.Second

// Remote is a replicator in a worker process: Run starts the process and
// returns when it ends; the other methods are calls on it, with Client's
// rules while no worker runs. The last SetMaster is given again to each
// worker Run starts, so a worker that died and came back knows whether
// the node holds MASTER.
type Remote struct {
	log *slog.Logger
	cfg conntracksync.Config
	exe string

	cl atomic.Pointer[Client]

	mu     sync.Mutex // guards master
	master *bool

	smu        sync.Mutex // guards the fields below
	stats      conntracksync.Stats
	statsAt    time.Time
	refreshing bool
}

// statsMaxAge is how old the counters Stats returns may be before it asks
// the worker for new ones (our tunable). Stats is called on the daemon's
// loop (a status request takes a turn), which must not wait for a worker
// that may be busy with a bulk on its one P: it returns the last counters
// at once and has them refreshed meanwhile.
const statsMaxAge = 100 * time.Millisecond

// NewRemote returns a Remote that runs a replicator of cfg in a process
// started from the binary exe: the daemon's own, as SelfExe names it, so
// that a worker started again after an upgrade in place is of the
// daemon's build and speaks its protocol. The worker's argv[0] is the
// daemon's, as ps shows it.
func NewRemote(log *slog.Logger, cfg conntracksync.Config, exe string) *Remote {
	return &Remote{log: log, cfg: cfg, exe: exe}
}

var errNoWorker = errors.New("sync worker: not running")

func (r *Remote) client() *Client { return r.cl.Load() }

// Run starts the worker and serves it until ctx ends (the worker is then
// told to stop by the end of its socket, and killed if it has not ended
// after stopWait) or the worker ends, which is an error.
func (r *Remote) Run(ctx context.Context) error {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("sync worker: socket pair: %w", err)
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "sync-worker"), os.NewFile(uintptr(fds[1]), "sync-worker")
	defer theirs.Close()
	conn, err := net.FileConn(ours)
	ours.Close()
	if err != nil {
		return fmt.Errorf("sync worker: %w", err)
	}
	defer conn.Close()
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("sync worker: %w", err)
	}
	defer cfgR.Close()
	stderr, err := newLogRelay(r.log)
	if err != nil {
		cfgW.Close()
		return err
	}
	defer stderr.Close()

	cmd := exec.Command(r.exe)
	cmd.Args[0] = os.Args[0]
	cmd.Env = append(workerEnviron(), WorkerEnv+"=1", fmt.Sprintf("GOMAXPROCS=%d", WorkerProcs))
	cmd.ExtraFiles = []*os.File{theirs, cfgR} // fds 3 and 4
	cmd.Stdout, cmd.Stderr = nil, stderr.w
	// The worker dies with the thread that started it; Run keeps that
	// thread for the worker's life.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	exited := make(chan error, 1)
	started := make(chan error, 1)
	go func() {
		// A worker started with Pdeathsig is killed when the thread that
		// started it exits, and the runtime may end an idle thread: this
		// goroutine keeps its thread until the worker has ended.
		runtime.LockOSThread()
		// At the nice value vigild started with, as its scripts: a
		// vrrp_priority is the VRRP loop's, and keepalived gives it to
		// its VRRP process alone (conntrackd has a setting of its own).
		if err := procnice.Start(cmd); err != nil {
			started <- err
			return
		}
		started <- nil
		exited <- cmd.Wait()
	}()
	if err := <-started; err != nil {
		cfgW.Close()
		return fmt.Errorf("sync worker: start %s: %w", r.exe, err)
	}
	stderr.w.Close() // the worker holds the write end now
	theirs.Close()
	cfgR.Close()
	err = json.NewEncoder(cfgW).Encode(r.cfg)
	cfgW.Close()
	if err != nil {
		_ = cmd.Process.Kill()
		<-exited
		return fmt.Errorf("sync worker: configuration: %w", err)
	}
	cl := NewClient(conn)
	r.mu.Lock()
	if r.master != nil {
		cl.SetMaster(*r.master) // one-way: before any call made on cl
	}
	r.cl.Store(cl)
	r.mu.Unlock()
	r.log.Debug("sync worker started", "pid", cmd.Process.Pid)
	defer r.cl.CompareAndSwap(cl, nil)

	select {
	case <-ctx.Done():
		_ = cl.Close()
		select {
		case <-exited:
		case <-time.After(stopWait):
			r.log.Warn("sync worker did not stop, killing it", "pid", cmd.Process.Pid)
			_ = cmd.Process.Kill()
			<-exited
		}
		stderr.wait()
		return ctx.Err()
	case err := <-exited:
		_ = cl.Close()
		stderr.wait()
		if err == nil {
			err = errors.New("exited")
		}
		return fmt.Errorf("sync worker: %w", err)
	}
}

// workerEnviron is the daemon's environment without GOMAXPROCS (the
// worker runs with WorkerProcs) or WorkerEnv (Run sets it).
func workerEnviron() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "GOMAXPROCS=") || strings.HasPrefix(kv, WorkerEnv+"=") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// FlushExternalWait is FlushExternal waiting for the count however long
// the worker takes (0 when none runs). Not for the daemon's loop.
func (r *Remote) FlushExternalWait() int {
	if cl := r.client(); cl != nil {
		return cl.FlushExternal()
	}
	return 0
}

// Commit is Client.Commit on the running worker.
func (r *Remote) Commit(ctx context.Context) (conntracksync.CommitStats, error) {
	if cl := r.client(); cl != nil {
		return cl.Commit(ctx)
	}
	return conntracksync.CommitStats{}, errNoWorker
}

// Purge is Client.Purge on the running worker.
func (r *Remote) Purge(ctx context.Context, current func() bool) (conntracksync.PurgeStats, error) {
	if cl := r.client(); cl != nil {
		return cl.Purge(ctx, current)
	}
	return conntracksync.PurgeStats{}, errNoWorker
}

// flushWait bounds how long FlushExternal waits for the worker's count
// (our tunable). The takeover flushes on the daemon's loop, right before
// the VIPs go up: a flush answers within a millisecond, plus the wait for
// the worker's one P when it is busy (at most the runtime's 10 ms
// slice); a worker that hangs must not hold the loop.
const flushWait = 20 * time.Millisecond

// FlushExternal has the running worker flush its external cache and
// returns how many connections it dropped; 0 when none runs, or when it
// did not answer within flushWait (it flushes all the same; logged).
func (r *Remote) FlushExternal() int {
	cl := r.client()
	if cl == nil {
		return 0
	}
	ctx, cancel := context.WithTimeout(context.Background(), flushWait)
	defer cancel()
	n, err := cl.FlushExternalWithin(ctx)
	if err != nil {
		r.log.Warn("conntrack sync: the sync worker did not count its flush in time; it flushes all the same", "err", err, "wait", flushWait)
	}
	return n
}

// RequestResync is Client.RequestResync on the running worker. A worker
// that starts asks its peer for its table anyway.
func (r *Remote) RequestResync() {
	if cl := r.client(); cl != nil {
		cl.RequestResync()
	}
}

// SendBulk is Client.SendBulk on the running worker. A worker that starts
// sends its table to every new peer session anyway.
func (r *Remote) SendBulk() {
	if cl := r.client(); cl != nil {
		cl.SendBulk()
	}
}

// SetMaster tells the running worker, and each worker started later.
func (r *Remote) SetMaster(master bool) {
	r.mu.Lock()
	r.master = &master
	cl := r.client()
	r.mu.Unlock()
	if cl != nil {
		cl.SetMaster(master)
	}
}

// Stats returns the worker's counters as of at most statsMaxAge ago, or
// of the last time it answered, without waiting for it (zero when no
// worker has answered yet, and Established false when none runs).
func (r *Remote) Stats() conntracksync.Stats {
	cl := r.client()
	r.smu.Lock()
	defer r.smu.Unlock()
	if cl != nil && !r.refreshing && time.Since(r.statsAt) > statsMaxAge {
		r.refreshing = true
		go r.refresh(cl)
	}
	st := r.stats
	if cl == nil {
		st.Established = false
	}
	return st
}

// FreshStats asks the running worker for its counters and waits for
// them (Stats' when none runs or it does not answer). Not for the
// daemon's loop.
func (r *Remote) FreshStats() conntracksync.Stats {
	cl := r.client()
	if cl == nil {
		return r.Stats()
	}
	st := cl.Stats()
	if cl.Err() != nil {
		return r.Stats()
	}
	r.smu.Lock()
	r.stats, r.statsAt = st, time.Now()
	r.smu.Unlock()
	return st
}

// refresh asks cl's worker for its counters.
func (r *Remote) refresh(cl *Client) {
	st := cl.Stats()
	r.smu.Lock()
	defer r.smu.Unlock()
	if cl.Err() == nil {
		r.stats, r.statsAt = st, time.Now()
	}
	r.refreshing = false
}

// Dump is Client.Dump on the running worker.
func (r *Remote) Dump() (internal, external []conntracksync.Entry) {
	if cl := r.client(); cl != nil {
		return cl.Dump()
	}
	return nil, nil
}

// DumpExpect is Client.DumpExpect on the running worker.
func (r *Remote) DumpExpect() (internal, external []conntracksync.ExpectEntry) {
	if cl := r.client(); cl != nil {
		return cl.DumpExpect()
	}
	return nil, nil
}

// logRelay reads the worker's standard error: its log records as JSON
// lines, logged again through the daemon's logger with their level and
// attributes, and anything else (a panic's trace) as errors, line by line.
type logRelay struct {
	log  *slog.Logger
	r, w *os.File
	done chan struct{}
}

func newLogRelay(log *slog.Logger) (*logRelay, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("sync worker: %w", err)
	}
	l := &logRelay{log: log, r: r, w: w, done: make(chan struct{})}
	go l.run()
	return l, nil
}

func (l *logRelay) run() {
	defer close(l.done)
	sc := bufio.NewScanner(l.r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		relayLine(l.log, sc.Bytes())
	}
	if err := sc.Err(); err != nil {
		// A line longer than the buffer: the rest is read and dropped,
		// so that the worker never blocks on its log.
		l.log.Error("sync worker: its log could not be read, the rest is dropped", "err", err)
		_, _ = io.Copy(io.Discard, l.r)
	}
}

// wait waits until the worker's standard error has been read to its end.
func (l *logRelay) wait() { <-l.done }

// Close closes both ends (the write end is the worker's once started).
func (l *logRelay) Close() error {
	l.w.Close()
	return l.r.Close()
}

// workerLogHandler writes the worker's log records to w as JSON lines for
// relayLine. A duration is written as the text the daemon's own log
// gives it ("took=984.4µs"), not JSON's count of nanoseconds, so that a
// replicator's line reads the same from the worker as from the daemon.
func workerLogHandler(w io.Writer) slog.Handler {
	return slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Value.Kind() == slog.KindDuration {
				a.Value = slog.StringValue(a.Value.Duration().String())
			}
			return a
		}})
}

// relayLine logs one line of the worker's standard error.
func relayLine(log *slog.Logger, line []byte) {
	attrs, ok := orderedRecord(line)
	if !ok {
		log.Error("sync worker: " + string(line))
		return
	}
	var msg string
	level := slog.LevelError
	kept := attrs[:0]
	for i := 0; i < len(attrs); i += 2 {
		switch k, v := attrs[i].(string), attrs[i+1]; k {
		case "msg":
			msg, _ = v.(string)
		case "level":
			if s, ok := v.(string); !ok || level.UnmarshalText([]byte(s)) != nil {
				level = slog.LevelError
			}
		case "time":
		default:
			kept = append(kept, k, v)
		}
	}
	log.Log(context.Background(), level, msg, kept...)
}

// orderedRecord decodes a JSON object into key, value pairs in the order
// they were written, so that a relayed record's attributes keep their
// order; ok is false when line is not one JSON object.
func orderedRecord(line []byte) (attrs []any, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(line))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, false
	}
	for dec.More() {
		t, err := dec.Token()
		k, isKey := t.(string)
		if err != nil || !isKey {
			return nil, false
		}
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, false
		}
		attrs = append(attrs, k, v)
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false // more after the object
	}
	return attrs, true
}

// WorkerMain is a sync worker's life: it reads its configuration and
// socket from the descriptors Run gave it, builds the replicator with
// build, runs it and serves the daemon's calls on it until the daemon
// closes the socket (or dies), and returns the exit code. Its log records
// go to standard error as JSON, for the daemon to log again.
func WorkerMain(build func(log *slog.Logger, cfg conntracksync.Config) (Runner, error)) int {
	log := slog.New(workerLogHandler(os.Stderr))
	// Started through /proc/self/exe, the process would be named "exe" in
	// ps and top.
	_ = os.WriteFile("/proc/self/comm", []byte(WorkerComm), 0)
	// The daemon's signals are the daemon's: a signal sent to its whole
	// process group (kill -HUP -PGID, a service manager's stop) must
	// not end the worker, which ends when the daemon closes its socket or
	// dies (Pdeathsig).
	signal.Ignore(syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM, syscall.SIGUSR1, syscall.SIGUSR2)
	// The whole program's package initialisation has run, for the
	// daemon's sake; the replicator needs little of what it touched. Given
	// back before the replicator starts, the worker's peak in the firewall
	// benchmark at one flow was 11.0–12.1 MB against 12.3–13.1 without.
	memtrim.Trim(log)
	cfgFile := os.NewFile(workerConfigFD, "sync-worker-config")
	var cfg conntracksync.Config
	err := json.NewDecoder(io.LimitReader(cfgFile, 1<<20)).Decode(&cfg)
	cfgFile.Close()
	if err != nil {
		log.Error("sync worker: configuration", "err", err)
		return 2
	}
	f := os.NewFile(workerConnFD, "sync-worker")
	conn, err := net.FileConn(f)
	f.Close()
	if err != nil {
		log.Error("sync worker: socket", "err", err)
		return 2
	}
	built, err := build(log, cfg)
	if err != nil {
		log.Error("sync worker: replicator", "err", err)
		return 2
	}
	rep := &served{Runner: built, log: log}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- rep.Run(ctx) }()
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, conn, rep) }()
	// What only starting needed (the program's pages, the set-up's
	// garbage) is given back once the replicator runs, as the daemon
	// does for its own.
	for _, after := range workerTrims {
		t := time.AfterFunc(after, func() { memtrim.Trim(log) })
		defer t.Stop()
	}
	select {
	case err := <-served:
		// The daemon closed the socket or is gone: stop.
		cancel()
		<-ran
		if err != nil {
			log.Error("sync worker: calls", "err", err)
			return 1
		}
		return 0
	case err := <-ran:
		cancel()
		<-served
		if err == nil {
			err = errors.New("stopped without an error")
		}
		log.Error("sync worker: replication stopped", "err", err)
		return 1
	}
}

// workerTrims are when, after its start, a worker gives back the memory
// only starting needed (memtrim.Trim): once its first dump and the peer's
// session are likely done, and again once its start-up has surely settled.
var workerTrims = []time.Duration{time.Second, 10 * time.Second}

// takeoverRelease is how long after a takeover's flush the worker gives
// back its heap's free pages: the bulk to the peer that follows it takes
// about 50 ms with 100k flows and half a second with 1M.
const takeoverRelease = time.Second

// served is the worker's replicator as the daemon's calls reach it. It
// commits with CommitProcs Ps, and gives back the garbage a takeover
// leaves (the commit's buffers, the flushed external cache, the bulk: the
// size of the replicated table) a moment after the takeover's flush,
// instead of keeping it until the collector's forced cycle.
type served struct {
	Runner
	log *slog.Logger

	mu      sync.Mutex // guards pending
	pending *time.Timer
}

// Commit commits with CommitProcs Ps.
func (t *served) Commit(ctx context.Context) (conntracksync.CommitStats, error) {
	return CommitWithProcs(ctx, t.log, t.Runner)
}

// FlushExternal flushes, and has the heap's free pages given back
// takeoverRelease later (once for several flushes meanwhile).
func (t *served) FlushExternal() int {
	n := t.Runner.FlushExternal()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.pending == nil {
		t.pending = time.AfterFunc(takeoverRelease, func() {
			t.mu.Lock()
			t.pending = nil
			t.mu.Unlock()
			memtrim.Heap(t.log, "conntrack takeover")
		})
	}
	return n
}

// Runner is a Replicator that runs: what WorkerMain serves.
type Runner interface {
	Replicator
	Run(ctx context.Context) error
}
