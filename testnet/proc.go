package testnet

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Proc is a background process started with [Host.Start]. Its methods are
// safe for concurrent use.
type Proc struct {
	name string
	ns   string
	cmd  *exec.Cmd
	log  string // path of the stdout+stderr log file

	done chan struct{} // closed when the process has been reaped

	mu sync.Mutex
	// mu guards the following fields; they are set before done is closed.
	state   *os.ProcessState
	waitErr error
}

// Start runs name with args in the background inside the namespace, in a
// process group of its own, with stdout and stderr appended to a log file
// under t.TempDir(). t.Cleanup SIGKILLs the whole process group and waits
// for the process; if the test failed, the tail of the log is printed.
func (h *Host) Start(t testing.TB, name string, args ...string) *Proc {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), h.name+"-"+filepath.Base(name)+"-*.log")
	if err != nil {
		t.Fatalf("testnet: Start %s: %v", name, err)
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", h.ns, name}, args...)...)
	cmd.Stdout = f
	cmd.Stderr = f
	setpgid(cmd)
	err = cmd.Start()
	f.Close()
	if err != nil {
		t.Fatalf("testnet: in %s: start %s: %v", h.ns, name, err)
	}
	p := &Proc{name: name, ns: h.ns, cmd: cmd, log: f.Name(), done: make(chan struct{})}
	go p.runWait()
	t.Cleanup(func() {
		_ = killGroup(p.Pid(), sigKill)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			t.Errorf("testnet: cleanup: %s (pid %d) in %s did not exit after SIGKILL", name, p.Pid(), h.ns)
		}
		if t.Failed() {
			t.Logf("testnet: last output of %s %s (in %s):\n%s", name, strings.Join(args, " "), h.ns, tail(p.Output(), 40))
		}
	})
	return p
}

// runWait reaps the process; it runs until the process exits (stopped by
// Kill or the test's cleanup).
func (p *Proc) runWait() {
	err := p.cmd.Wait()
	p.mu.Lock()
	p.state = p.cmd.ProcessState
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		p.waitErr = err
	}
	p.mu.Unlock()
	close(p.done)
}

// tail returns the last n lines of s. A run of lines that differ only in
// a leading "time=" field (a test polling a daemon that logs each request)
// counts as one line: the run's first line, a count, and its last line,
// so that the lines before a flood of them still show.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	var out []string
	for i := 0; i < len(lines); {
		j := i + 1
		for j < len(lines) && untimed(lines[j]) == untimed(lines[i]) {
			j++
		}
		out = append(out, lines[i])
		if j-i > 2 {
			out = append(out, fmt.Sprintf("\t(%d more lines like it)", j-i-2))
		}
		if j-i > 1 {
			out = append(out, lines[j-1])
		}
		i = j
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return strings.Join(out, "\n")
}

// untimed is line without a leading "time=" field.
func untimed(line string) string {
	if rest, ok := strings.CutPrefix(line, "time="); ok {
		if _, after, ok := strings.Cut(rest, " "); ok {
			return after
		}
	}
	return line
}

// Pid returns the process id (the program itself: `ip netns exec` execs it).
// It is also the process group id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Signal sends sig to the process only (not its group). After the process
// has exited it returns os.ErrProcessDone.
func (p *Proc) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Freeze sends SIGSTOP to the whole process group (a forking daemon's
// children stop too) and returns once every process in the group is stopped
// (waiting at most 10 s), so the test's next step really sees a frozen
// process.
//
// A process that has just started a child with vfork (dash for every
// command, Go's os/exec) waits for that child's exec; when the stop catches
// the child before it, the parent never stops. So when the group has not
// stopped within freezeRetry, Freeze lets it run for a moment (the child
// execs, the parent goes on) and stops it again.
func (p *Proc) Freeze() error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := killGroup(p.Pid(), sigStop)
		if err == nil {
			err = p.waitGroup(true, min(freezeRetry, time.Until(deadline)))
		}
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("testnet: freeze %s: %w", p.name, err)
		}
		if err := killGroup(p.Pid(), sigCont); err != nil {
			return fmt.Errorf("testnet: freeze %s: %w", p.name, err)
		}
		time.Sleep(time.Millisecond)
	}
}

// freezeRetry is how long Freeze waits for the group to stop before it
// lets it run and stops it again.
const freezeRetry = 200 * time.Millisecond

// Thaw sends SIGCONT to the whole process group and returns once no process
// in the group is stopped any more (waiting at most 10 s).
func (p *Proc) Thaw() error {
	err := killGroup(p.Pid(), sigCont)
	if err == nil {
		err = p.waitGroup(false, 10*time.Second)
	}
	if err != nil {
		return fmt.Errorf("testnet: thaw %s: %w", p.name, err)
	}
	return nil
}

// waitGroup waits, at most wait, until every live process of the group is
// stopped (stopped=true) or none is.
func (p *Proc) waitGroup(stopped bool, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		var pending []int
		for pid, st := range GroupStates(p.Pid()) {
			if (st == 'T') != stopped {
				pending = append(pending, pid)
			}
		}
		if len(pending) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v of group %d did not change state (want stopped=%v)", pending, p.Pid(), stopped)
		}
		time.Sleep(time.Millisecond)
	}
}

// Kill SIGKILLs the whole process group and waits (up to 10 s) for the
// process to be reaped. Killing an exited process is not an error.
func (p *Proc) Kill() error {
	select {
	case <-p.done:
		return nil
	default:
	}
	_ = killGroup(p.Pid(), sigKill)
	if _, err := p.Wait(10 * time.Second); err != nil {
		return fmt.Errorf("testnet: kill %s: %w", p.name, err)
	}
	return nil
}

// ErrRunning is returned by Wait when the process is still running at the
// timeout.
var ErrRunning = errors.New("testnet: process still running")

// Wait waits up to timeout for the process to exit and returns its exit
// code: -1 if it was killed by a signal. err is ErrRunning on timeout, or
// the error from reaping it; a non-zero exit status is not an error.
func (p *Proc) Wait(timeout time.Duration) (exitCode int, err error) {
	if !p.Exited() {
		timer := time.NewTimer(timeout)
		defer timer.Stop()
		select {
		case <-p.done:
		case <-timer.C:
		}
	}
	if !p.Exited() {
		return -1, fmt.Errorf("%w: %s (pid %d) after %v", ErrRunning, p.name, p.Pid(), timeout)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.waitErr != nil {
		return -1, p.waitErr
	}
	return p.state.ExitCode(), nil
}

// Exited reports whether the process has exited and been reaped.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Output returns the process's stdout and stderr so far.
func (p *Proc) Output() string {
	b, err := os.ReadFile(p.log)
	if err != nil {
		return fmt.Sprintf("<testnet: read log %s: %v>", p.log, err)
	}
	return string(b)
}

// LogPath returns the path of the process's stdout+stderr log file.
func (p *Proc) LogPath() string { return p.log }

// WaitOutput waits up to timeout for substr to appear in the process's
// output and fails the test (with the output's tail) if it does not, or if
// the process exits without printing it.
func (p *Proc) WaitOutput(t testing.TB, substr string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		exited := p.Exited()
		out := p.Output()
		if strings.Contains(out, substr) {
			return
		}
		if exited {
			code, _ := p.Wait(0)
			t.Fatalf("testnet: %s in %s exited (code %d) without printing %q; output:\n%s", p.name, p.ns, code, substr, tail(out, 40))
		}
		if time.Now().After(deadline) {
			t.Fatalf("testnet: %s in %s did not print %q within %v; output:\n%s", p.name, p.ns, substr, timeout, tail(out, 40))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
