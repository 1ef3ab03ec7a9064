package testnet

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"testing"
)

// Standalone is a [testing.TB] for programs that build labs outside `go
// test`: the demo, a benchmark tool, or one lab per benchmark iteration.
// Cleanup functions run, last registered first, when Close is called.
//
// Fatal, Fatalf, FailNow, Skip, Skipf and SkipNow print their message, run
// Close and exit the process with status 1: in a program, a lab that cannot
// be built is the end. Error and Errorf print and mark it failed. Log and
// Logf print to the writer given to NewStandalone. Methods are safe for
// concurrent use, but like testing.T, FailNow belongs on the goroutine that
// builds the lab.
type Standalone struct {
	// testing.TB is nil: it only supplies the interface's unexported
	// method, which nothing calls. Every exported method is implemented
	// below.
	testing.TB

	name   string
	out    io.Writer
	ctx    context.Context
	cancel context.CancelFunc

	mu sync.Mutex
	// mu guards the following fields.
	cleanups []func()
	failed   bool
	skipped  bool
	closed   bool
	stopSig  func()

	// done is closed when the first Close has run every cleanup.
	done chan struct{}
}

var _ testing.TB = (*Standalone)(nil)

// NewStandalone returns a Standalone named name that logs to out (os.Stderr
// if nil). Call Close when done, typically deferred.
func NewStandalone(name string, out io.Writer) *Standalone {
	if out == nil {
		out = os.Stderr
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Standalone{name: name, out: out, ctx: ctx, cancel: cancel, done: make(chan struct{})}
}

// CloseOnSignal makes SIGINT and SIGTERM run Close and exit the process
// with status 130, so an interrupted demo leaves no namespaces behind.
func (s *Standalone) CloseOnSignal() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	stop := make(chan struct{})
	s.mu.Lock()
	s.stopSig = func() { signal.Stop(ch); close(stop) }
	s.mu.Unlock()
	go func() {
		select {
		case sig := <-ch:
			s.Logf("%s: %v: cleaning up", s.name, sig)
			s.Close()
			os.Exit(130)
		case <-stop:
		}
	}()
}

// Close cancels Context and runs the registered cleanups, last first. A
// call while another goroutine's Close runs them waits until it has
// finished: a goroutine whose work fails because a signal's Close is
// tearing the lab down must not exit the process halfway through (Fatal
// and FailNow call Close first). Later calls return at once. A cleanup
// must not call Close, Fatal, FailNow or Skip: it would wait for itself.
func (s *Standalone) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		<-s.done
		return
	}
	s.closed = true
	stop := s.stopSig
	s.mu.Unlock()
	s.cancel()
	for {
		s.mu.Lock()
		n := len(s.cleanups)
		if n == 0 {
			s.mu.Unlock()
			break
		}
		fn := s.cleanups[n-1]
		s.cleanups = s.cleanups[:n-1]
		s.mu.Unlock()
		fn()
	}
	if stop != nil {
		stop()
	}
	close(s.done)
}

func (s *Standalone) print(msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintln(s.out, msg)
}

func (s *Standalone) exit() {
	s.Close()
	os.Exit(1)
}

// Cleanup registers fn to run at Close, after the functions registered
// later.
func (s *Standalone) Cleanup(fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cleanups = append(s.cleanups, fn)
}

func (s *Standalone) Error(args ...any) { s.print(fmt.Sprint(args...)); s.Fail() }
func (s *Standalone) Errorf(format string, args ...any) {
	s.print(fmt.Sprintf(format, args...))
	s.Fail()
}
func (s *Standalone) Fail()                             { s.mu.Lock(); s.failed = true; s.mu.Unlock() }
func (s *Standalone) FailNow()                          { s.Fail(); s.exit() }
func (s *Standalone) Failed() bool                      { s.mu.Lock(); defer s.mu.Unlock(); return s.failed }
func (s *Standalone) Fatal(args ...any)                 { s.Error(args...); s.exit() }
func (s *Standalone) Fatalf(format string, args ...any) { s.Errorf(format, args...); s.exit() }
func (s *Standalone) Helper()                           {}
func (s *Standalone) Log(args ...any)                   { s.print(fmt.Sprint(args...)) }
func (s *Standalone) Logf(format string, args ...any)   { s.print(fmt.Sprintf(format, args...)) }
func (s *Standalone) Name() string                      { return s.name }
func (s *Standalone) Skip(args ...any)                  { s.print(fmt.Sprint(args...)); s.SkipNow() }
func (s *Standalone) Skipf(format string, args ...any) {
	s.print(fmt.Sprintf(format, args...))
	s.SkipNow()
}
func (s *Standalone) SkipNow()                 { s.mu.Lock(); s.skipped = true; s.mu.Unlock(); s.exit() }
func (s *Standalone) Skipped() bool            { s.mu.Lock(); defer s.mu.Unlock(); return s.skipped }
func (s *Standalone) Context() context.Context { return s.ctx }
func (s *Standalone) Output() io.Writer        { return s.out }
func (s *Standalone) Attr(key, value string)   { s.Logf("=== ATTR  %s %v %v", s.name, key, value) }

// TempDir returns a new directory, removed at Close.
func (s *Standalone) TempDir() string {
	dir, err := os.MkdirTemp("", "testnet-")
	if err != nil {
		s.Fatalf("testnet: TempDir: %v", err)
	}
	s.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// ArtifactDir returns a new directory like TempDir; it is removed at Close.
func (s *Standalone) ArtifactDir() string { return s.TempDir() }

// Setenv sets an environment variable until Close.
func (s *Standalone) Setenv(key, value string) {
	old, had := os.LookupEnv(key)
	if err := os.Setenv(key, value); err != nil {
		s.Fatalf("testnet: Setenv: %v", err)
	}
	s.Cleanup(func() {
		if had {
			os.Setenv(key, old)
		} else {
			os.Unsetenv(key)
		}
	})
}

// Chdir changes the working directory until Close.
func (s *Standalone) Chdir(dir string) {
	old, err := os.Getwd()
	if err != nil {
		s.Fatalf("testnet: Chdir: %v", err)
	}
	if err := os.Chdir(dir); err != nil {
		s.Fatalf("testnet: Chdir: %v", err)
	}
	s.Cleanup(func() { os.Chdir(old) })
}
