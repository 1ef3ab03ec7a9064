package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
)

// Daemon mode (no -n): the parent starts a copy of itself in a new session
// and waits on a pipe until that child is running or has failed. The child
// finds the pipe's write end in readyFDEnv. It writes readyMsg once it
// runs (where it also tells systemd READY=1), or the warnings and errors
// it logged while starting when it gives up; then it closes the pipe. The
// parent exits 0 on readyMsg, and otherwise prints what the child wrote
// and exits with the child's exit status, so that `vigild -f FILE` fails
// visibly on a missing or bad configuration or a held pid file.
// (keepalived's parent returns 0 as soon as it has forked.)
const (
	childEnv   = "VIGILD_CHILD"
	readyFDEnv = "VIGILD_READY_FD"
	readyMsg   = "READY\n"
	// maxReport bounds what the child keeps of its start-up log lines.
	maxReport = 16 << 10
)

// daemonize starts a detached copy of vigild and waits for it to be
// running; it returns the exit status of the vigild command.
func daemonize(args []string, stderr io.Writer) int {
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "vigild: %v\n", err)
		return 1
	}
	r, w, err := os.Pipe()
	if err != nil {
		fmt.Fprintf(stderr, "vigild: %v\n", err)
		return 1
	}
	defer r.Close()
	cmd := exec.Command(exe, args...)
	// ExtraFiles[0] is the child's fd 3.
	cmd.Env = append(os.Environ(), childEnv+"=1", readyFDEnv+"=3")
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	w.Close() // the child holds the only write end now
	if err != nil {
		fmt.Fprintf(stderr, "vigild: %v\n", err)
		return 1
	}
	report, _ := io.ReadAll(io.LimitReader(r, maxReport+4096))
	if string(report) == readyMsg {
		cmd.Process.Release()
		return 0
	}
	// Not ready: the child has closed the pipe because it failed (or
	// died); its exit status is ours.
	err = cmd.Wait()
	stderr.Write(report)
	code := 1
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() > 0 {
		code = ee.ExitCode()
	}
	fmt.Fprintf(stderr, "vigild: failed to start (%v)\n", describeExit(err))
	return code
}

func describeExit(err error) string {
	if err == nil {
		return "exited before it was ready"
	}
	return err.Error()
}

// startupReport is the child's end of daemonize's pipe.
type startupReport struct {
	f    *os.File
	done atomic.Bool
	mu   sync.Mutex // guards buf
	buf  bytes.Buffer
}

// openStartupReport returns the pipe to the waiting parent, or nil when
// vigild was not started by daemonize. The variable is removed from the
// environment and the descriptor closed on exec, so that scripts vigild
// runs inherit neither.
func openStartupReport() *startupReport {
	v := os.Getenv(readyFDEnv)
	if v == "" {
		return nil
	}
	os.Unsetenv(readyFDEnv)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return nil
	}
	syscall.CloseOnExec(fd)
	f := os.NewFile(uintptr(fd), "vigild-ready")
	if f == nil {
		return nil
	}
	return &startupReport{f: f}
}

// ready tells the parent that vigild runs and stops recording log lines.
func (s *startupReport) ready() {
	if s.done.Swap(true) {
		return
	}
	s.f.WriteString(readyMsg)
	s.f.Close()
}

// fail sends the parent the warnings and errors logged while starting,
// unless ready was called; the parent then waits for exit status code.
func (s *startupReport) fail(code int) {
	if s.done.Swap(true) {
		return
	}
	s.mu.Lock()
	if s.buf.Len() == 0 {
		fmt.Fprintf(&s.buf, "vigild: exit status %d before it was running\n", code)
	}
	s.f.Write(s.buf.Bytes())
	s.mu.Unlock()
	s.f.Close()
}

// handler returns next, also recording warnings and errors (as text lines,
// without the time) until ready or fail is called.
func (s *startupReport) handler(next slog.Handler) slog.Handler {
	rec := slog.NewTextHandler(lockedWriter{s}, &slog.HandlerOptions{
		Level: slog.LevelWarn,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	})
	return &teeHandler{next: next, rec: rec, s: s}
}

// lockedWriter appends to the report's buffer, up to maxReport bytes.
type lockedWriter struct{ s *startupReport }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	if w.s.buf.Len() < maxReport {
		w.s.buf.Write(p)
	}
	return len(p), nil
}

type teeHandler struct {
	next, rec slog.Handler
	s         *startupReport
}

func (h *teeHandler) recording(l slog.Level) bool {
	return l >= slog.LevelWarn && !h.s.done.Load()
}

func (h *teeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l) || h.recording(l)
}

func (h *teeHandler) Handle(ctx context.Context, r slog.Record) error {
	if h.recording(r.Level) {
		h.rec.Handle(ctx, r)
	}
	if h.next.Enabled(ctx, r.Level) {
		return h.next.Handle(ctx, r)
	}
	return nil
}

func (h *teeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &teeHandler{next: h.next.WithAttrs(as), rec: h.rec.WithAttrs(as), s: h.s}
}

func (h *teeHandler) WithGroup(name string) slog.Handler {
	return &teeHandler{next: h.next.WithGroup(name), rec: h.rec.WithGroup(name), s: h.s}
}
