package check

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"syscall"
	"time"
)

// Exec runs s to completion in its own process group and classifies the
// outcome. At s.Timeout it sends SIGTERM to the whole group, then SIGKILL
// after the kill grace, and once a timed-out leader is gone it SIGKILLs the
// group again so no child outlives it; that run is OutcomeTimeout whatever
// the exit status. Cancelling ctx SIGKILLs the group at once. started, if
// not nil, is called with the pid right after the process starts.
func Exec(ctx context.Context, s Script, started func(pid int)) Result {
	if len(s.Argv) == 0 {
		return Result{Outcome: OutcomeError, Err: "empty command"}
	}
	cmd := exec.Command(s.Argv[0], s.Argv[1:]...)
	cmd.Env = s.Env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if s.Credential {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: s.UID, Gid: s.GID, Groups: []uint32{s.GID}}
	}
	if err := cmd.Start(); err != nil {
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
	var err error
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
