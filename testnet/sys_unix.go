//go:build unix

package testnet

import (
	"os/exec"
	"syscall"
)

// setpgid makes cmd the leader of a new process group.
func setpgid(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
}

// killGroup sends sig to the process group pgid.
func killGroup(pgid int, sig syscall.Signal) error { return syscall.Kill(-pgid, sig) }

// killPid sends SIGKILL to one process.
func killPid(pid int) error { return syscall.Kill(pid, syscall.SIGKILL) }

const (
	sigStop = syscall.SIGSTOP
	sigCont = syscall.SIGCONT
	sigKill = syscall.SIGKILL
	sigInt  = syscall.SIGINT
)
