package testnet

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// busyLimit bounds a spinner's life (BusyCPUs): well past any takeover a
// test or benchmark waits for.
const busyLimit = 60 * time.Second

// AllowedCPUs lists the CPUs this process may run on.
func AllowedCPUs() ([]int, error) {
	var mask unix.CPUSet
	if err := unix.SchedGetaffinity(0, &mask); err != nil {
		return nil, fmt.Errorf("allowed CPUs: %w", err)
	}
	var cpus []int
	for cpu := 0; cpu < 1024 && len(cpus) < mask.Count(); cpu++ {
		if mask.IsSet(cpu) {
			cpus = append(cpus, cpu)
		}
	}
	return cpus, nil
}

// BusyCPUs starts, for each of cpus, a shell that spins on that CPU alone
// at the default priority (a loaded machine: a thread woken there waits
// for the scheduler to preempt the spinner), and returns what stops them.
// A spinner also ends by itself after a minute, and when the thread that
// started it dies, so a test or benchmark killed meanwhile leaves none.
func BusyCPUs(cpus []int) (stop func(), err error) {
	runtime.LockOSThread() // Pdeathsig follows the thread that starts the spinners
	defer runtime.UnlockOSThread()
	var cmds []*exec.Cmd
	stop = func() {
		for _, c := range cmds {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
	}
	for _, cpu := range cpus {
		c := exec.Command("/bin/bash", "-c", fmt.Sprintf("while [ $SECONDS -lt %d ]; do :; done", int(busyLimit.Seconds())))
		c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := c.Start(); err != nil {
			stop()
			return nil, fmt.Errorf("busy CPUs: %w", err)
		}
		cmds = append(cmds, c)
		if err := PinToCPU(c.Process.Pid, cpu); err != nil {
			stop()
			return nil, fmt.Errorf("busy CPUs: %w", err)
		}
	}
	return stop, nil
}

// PinToCPU puts every thread of process pid on cpu alone; threads it
// starts later inherit the mask of the thread that starts them. Two
// passes catch a thread started by one not yet pinned.
func PinToCPU(pid, cpu int) error {
	var one unix.CPUSet
	one.Set(cpu)
	for range 2 {
		ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		if err != nil {
			return fmt.Errorf("pinning %d to CPU %d: %w", pid, cpu, err)
		}
		for _, e := range ents {
			tid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			if err := unix.SchedSetaffinity(tid, &one); err != nil && !errors.Is(err, unix.ESRCH) {
				return fmt.Errorf("pinning thread %d of %d to CPU %d: %w", tid, pid, cpu, err)
			}
		}
	}
	return nil
}
