//go:build !linux

package procnice

import (
	"errors"
	"os/exec"
)

// Set returns errors.ErrUnsupported off Linux.
func Set(n int) error { return errors.ErrUnsupported }

// Reset returns errors.ErrUnsupported off Linux.
func Reset() error { return errors.ErrUnsupported }

// Start is cmd.Start: the process's nice value was never changed.
func Start(cmd *exec.Cmd) error { return cmd.Start() }
