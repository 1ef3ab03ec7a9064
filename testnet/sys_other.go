//go:build !unix

package testnet

import (
	"errors"
	"os/exec"
	"syscall"
)

func setpgid(*exec.Cmd) {}

func killGroup(int, syscall.Signal) error { return errors.ErrUnsupported }

func killPid(int) error { return errors.ErrUnsupported }

const (
	sigStop = syscall.Signal(19)
	sigCont = syscall.Signal(18)
	sigKill = syscall.SIGKILL
	sigInt  = syscall.SIGINT
)
