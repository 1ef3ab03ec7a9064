package notify

import (
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/internal/procnice"
	"golang.org/x/sys/unix"
)

// FIFO is a notify FIFO opened the way keepalived opens it: created with
// mode 0644 if missing (an existing one is reused), opened read-write and
// non-blocking so that writes never block and never fail for want of a
// reader. Safe for concurrent use.
type FIFO struct {
	path    string
	log     *slog.Logger
	created bool
	script  *exec.Cmd
	waited  chan struct{} // closed when the script has been reaped

	mu     sync.Mutex // mu guards the following fields
	fd     int
	stats  FIFOStats
	closed bool
}

// OpenFIFO creates (if needed) and opens the FIFO and starts its script.
func OpenFIFO(cfg FIFOConfig) (*FIFO, error) {
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	f := &FIFO{path: cfg.Path, log: log, fd: -1}
	err := unix.Mkfifo(cfg.Path, 0o644)
	switch {
	case err == nil:
		f.created = true
	case errors.Is(err, unix.EEXIST):
	default:
		return nil, fmt.Errorf("notify: create FIFO %s: %w", cfg.Path, err)
	}
	// Open before giving the FIFO away: once it belongs to the script's
	// user, a root without CAP_DAC_OVERRIDE (as the systemd unit runs
	// vigild) could no longer open it for writing. O_NOFOLLOW and the
	// fstat refuse a symlink or any other file planted at the path.
	fd, err := unix.Open(cfg.Path, unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK|unix.O_NOFOLLOW, 0)
	if err != nil {
		f.removeCreated()
		return nil, fmt.Errorf("notify: open FIFO %s: %w", cfg.Path, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
		unix.Close(fd)
		return nil, fmt.Errorf("notify: %s is not a FIFO", cfg.Path)
	}
	if f.created && cfg.Chown {
		if err := unix.Fchown(fd, int(cfg.UID), int(cfg.GID)); err != nil {
			log.Warn("notify: chown FIFO failed", "fifo", cfg.Path, "err", err)
		}
	}
	if cfg.Script != nil && len(cfg.Script.Argv) > 0 {
		argv := append(append([]string(nil), cfg.Script.Argv...), cfg.Path)
		cmd, err := check.Command(check.Script{
			Argv:       argv,
			Credential: cfg.Script.Credential, UID: cfg.Script.UID, GID: cfg.Script.GID,
			AllowUnsafe: cfg.Script.AllowUnsafe,
		})
		var se *check.SecurityError
		switch {
		case errors.As(err, &se):
			f.stats.ScriptRefused++
			log.Warn("notify: FIFO script refused by script security; the FIFO stays open without it", "fifo", cfg.Path, "err", err)
		case err != nil:
			unix.Close(fd)
			f.removeCreated()
			return nil, fmt.Errorf("notify: FIFO %s: script %s: %w", cfg.Path, argv[0], err)
		default:
			// At the nice value vigild started with, as check.Exec's.
			if err := procnice.Start(cmd); err != nil {
				unix.Close(fd)
				f.removeCreated()
				return nil, fmt.Errorf("notify: FIFO %s: start script %s: %w", cfg.Path, argv[0], err)
			}
			f.script = cmd
			f.waited = make(chan struct{})
			go f.runWaitScript()
		}
	}
	f.fd = fd
	return f, nil
}

// runWaitScript reaps the FIFO script; it ends when the script exits
// (Close makes it exit).
func (f *FIFO) runWaitScript() {
	err := f.script.Wait()
	f.mu.Lock()
	closed := f.closed
	f.mu.Unlock()
	if !closed {
		f.log.Warn("notify: FIFO script exited", "fifo", f.path, "script", f.script.Path, "err", err)
	}
	close(f.waited)
}

// Path is the FIFO's path.
func (f *FIFO) Path() string { return f.path }

// Write writes ev's line (see FIFOLine).
func (f *FIFO) Write(ev Event) error { return f.WriteLine(FIFOLine(ev)) }

// WriteLine writes line with one write(2), so lines shorter than PIPE_BUF
// never interleave. It never blocks: a full pipe is ErrFIFOFull.
func (f *FIFO) WriteLine(line string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		f.stats.Errors++
		return ErrFIFOClosed
	}
	n, err := unix.Write(f.fd, []byte(line))
	switch {
	case errors.Is(err, unix.EAGAIN):
		f.stats.Errors++
		return ErrFIFOFull
	case err != nil:
		f.stats.Errors++
		return fmt.Errorf("notify: write FIFO %s: %w", f.path, err)
	case n != len(line):
		f.stats.Errors++
		return fmt.Errorf("notify: write FIFO %s: short write %d of %d", f.path, n, len(line))
	}
	f.stats.Lines++
	return nil
}

// Stats returns a snapshot of the counters.
func (f *FIFO) Stats() FIFOStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stats
}

// Close unlinks the FIFO if OpenFIFO created it (first, so a reader that
// reopens in a loop cannot find it again), closes it, and stops the script:
// SIGTERM to its process group, SIGKILL after check.DefaultKillGrace.
func (f *FIFO) Close() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	f.closed = true
	f.removeCreated()
	err := unix.Close(f.fd)
	f.fd = -1
	f.mu.Unlock()
	f.stopScript()
	return err
}

func (f *FIFO) removeCreated() {
	if f.created {
		_ = unix.Unlink(f.path)
		f.created = false
	}
}

func (f *FIFO) stopScript() {
	if f.script == nil {
		return
	}
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	pgid := f.script.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-f.waited:
	case <-time.After(check.DefaultKillGrace):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-f.waited
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}
