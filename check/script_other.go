//go:build !linux

package check

import (
	"context"
	"errors"
	"os/exec"
)

// Command is only implemented on Linux.
func Command(s Script) (*exec.Cmd, error) { return nil, errors.ErrUnsupported }

// Exec is only implemented on Linux.
func Exec(ctx context.Context, s Script, started func(pid int)) Result {
	return Result{Outcome: OutcomeError, Err: errors.ErrUnsupported.Error()}
}
