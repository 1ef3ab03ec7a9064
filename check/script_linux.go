package check

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/vigil-ha/vigil/internal/procnice"
)

// Command checks s for script security right before it runs and returns
// the command to start: the checked path, with s.Argv as its arguments
// (argv[0] stays as configured; a script's interpreter gets the checked
// path as $0), in its own process group, with s's credentials and
// environment. The check is CheckScript for the user s runs
// as (ours when s.Credential is false), with a bare name found in PATH.
// A script the check refuses is a *SecurityError and is not started; with
// s.AllowUnsafe only a script the check passes runs under its checked path,
// any other is started as configured, as keepalived does without
// enable_script_security.
//
// The check and the start are not one atomic step; why that leaves no
// opening to a user other than root is said at CheckScript. Executing an
// open descriptor of the checked file (execveat, /proc/self/fd) would bind
// the two even against root, but a script would then see /dev/fd/N as its
// $0 instead of its path, which scripts that find their siblings through $0
// do not survive.
func Command(s Script) (*exec.Cmd, error) {
	if len(s.Argv) == 0 {
		return nil, errors.New("check: empty command")
	}
	uid, gid := uint32(os.Getuid()), uint32(os.Getgid())
	if s.Credential {
		uid, gid = s.UID, s.GID
	}
	path, err := checkResolved(s.Argv[0], uid, gid)
	switch {
	case err == nil:
	case s.AllowUnsafe:
		path = s.Argv[0]
	default:
		return nil, err
	}
	cmd := exec.Command(path, s.Argv[1:]...)
	cmd.Args[0] = s.Argv[0]
	cmd.Env = s.Env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if s.Credential {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: s.UID, Gid: s.GID, Groups: []uint32{s.GID}}
	}
	return cmd, nil
}

// Exec runs s to completion in its own process group and classifies the
// outcome. A script Command refuses does not start: its result is
// OutcomeError, with Refused set unless the script was simply not found. At s.Timeout it sends SIGTERM to the whole group, then SIGKILL
// after the kill grace, and once a timed-out leader is gone it SIGKILLs the
// group again so no child outlives it; that run is OutcomeTimeout whatever
// the exit status. Cancelling ctx SIGKILLs the group at once. started, if
// not nil, is called with the pid right after the process starts.
func Exec(ctx context.Context, s Script, started func(pid int)) Result {
	cmd, err := Command(s)
	if err != nil {
		var se *SecurityError
		return Result{Outcome: OutcomeError, Err: err.Error(), Refused: errors.As(err, &se) && !se.Missing()}
	}
	// At the nice value vigild started with, not vrrp_priority's, as
	// keepalived runs its scripts.
	if err := procnice.Start(cmd); err != nil {
		return Result{Outcome: OutcomeError, Err: err.Error()}
	}
	pgid := cmd.Process.Pid
	if started != nil {
		started(pgid)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	var timeout <-chan time.Time
	if s.Timeout > 0 {
		tm := time.NewTimer(s.Timeout)
		defer tm.Stop()
		timeout = tm.C
	}
	grace := s.KillGrace
	if grace <= 0 {
		grace = DefaultKillGrace
	}
	timedOut := false
wait:
	for {
		select {
		case err = <-done:
			break wait
		case <-ctx.Done():
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-done
			return Result{Outcome: OutcomeError, Err: "cancelled: " + ctx.Err().Error()}
		case <-timeout:
			if !timedOut {
				timedOut = true
				_ = syscall.Kill(-pgid, syscall.SIGTERM)
				tm := time.NewTimer(grace)
				defer tm.Stop()
				timeout = tm.C
			} else {
				_ = syscall.Kill(-pgid, syscall.SIGKILL)
				timeout = nil
			}
		}
	}
	if timedOut {
		// The leader is gone; make sure its children are too.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		return Result{Outcome: OutcomeTimeout}
	}
	return classify(cmd, err)
}

func classify(cmd *exec.Cmd, err error) Result {
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return Result{Outcome: OutcomeError, Err: err.Error()}
	}
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok {
		return Result{Outcome: OutcomeError, Err: "unknown wait status"}
	}
	switch {
	case ws.Exited() && ws.ExitStatus() == 0:
		return Result{Outcome: OutcomeSuccess}
	case ws.Exited():
		return Result{Outcome: OutcomeFailure, ExitCode: ws.ExitStatus()}
	case ws.Signaled():
		return Result{Outcome: OutcomeFailure, Signal: int(ws.Signal())}
	}
	return Result{Outcome: OutcomeError, Err: fmt.Sprintf("wait status %#x", uint32(ws))}
}
