package procnice

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// state is what Set did: the nice value the process had before (orig)
// and the one it set (set), once applied.
var state struct {
	mu        sync.Mutex
	applied   bool
	orig, set int
}

// Set gives every thread of this process the nice value n (-20..19), and
// so every thread started after it. Threads started while it runs are
// caught by going over the list again until a pass finds no new one. An
// error names the thread it could not set (lowering the value needs
// CAP_SYS_NICE); the threads set before it keep their new value.
func Set(n int) error {
	if n < -20 || n > 19 {
		return fmt.Errorf("nice value %d is not in [-20, 19]", n)
	}
	state.mu.Lock()
	defer state.mu.Unlock()
	if !state.applied {
		// The system call answers 20 - nice, so that it is never negative.
		p, err := unix.Getpriority(unix.PRIO_PROCESS, 0)
		if err != nil {
			return fmt.Errorf("read the nice value: %w", err)
		}
		state.orig = 20 - p
	}
	if err := setAll(n); err != nil {
		return err
	}
	state.applied, state.set = true, n
	return nil
}

// Reset gives every thread back the nice value the process had before the
// first Set; before any Set it does nothing.
func Reset() error {
	state.mu.Lock()
	defer state.mu.Unlock()
	if !state.applied {
		return nil
	}
	if err := setAll(state.orig); err != nil {
		return err
	}
	state.set = state.orig
	return nil
}

// setAll sets every thread's nice value to n, going over the threads
// again until a pass finds no new one.
func setAll(n int) error {
	done := map[int]bool{}
	for range 10 {
		tids, err := threads()
		if err != nil {
			return err
		}
		fresh := 0
		for _, tid := range tids {
			if done[tid] {
				continue
			}
			fresh++
			if err := unix.Setpriority(unix.PRIO_PROCESS, tid, n); err != nil && err != unix.ESRCH {
				return fmt.Errorf("set the nice value of thread %d to %d: %w", tid, n, err)
			}
			done[tid] = true
		}
		if fresh == 0 {
			return nil
		}
	}
	return fmt.Errorf("set the nice value to %d: threads kept appearing", n)
}

// Start starts cmd as cmd.Start does, with the child at the nice value the
// process had before Set, as keepalived runs its scripts at the priority
// it started with rather than at vrrp_priority's. A child starts with the
// value of the thread that forks it, so that thread is given the original
// value for the call and its own back afterwards. Before any Set, or when
// Set changed nothing, it is cmd.Start.
func Start(cmd *exec.Cmd) error {
	// Held until the child is started and the thread has its value back:
	// a Set meanwhile would give the forking thread, and so the child, its
	// value, and a Set or Reset would give the thread a value this call
	// then overwrites.
	state.mu.Lock()
	defer state.mu.Unlock()
	applied, orig, set := state.applied, state.orig, state.set
	if !applied || orig == set {
		return cmd.Start()
	}
	runtime.LockOSThread()
	tid := unix.Gettid()
	if err := unix.Setpriority(unix.PRIO_PROCESS, tid, orig); err != nil {
		runtime.UnlockOSThread()
		return cmd.Start() // at the process's value, as before Start existed
	}
	err := cmd.Start()
	if unix.Setpriority(unix.PRIO_PROCESS, tid, set) == nil {
		runtime.UnlockOSThread()
	}
	// Otherwise the thread stays locked to this goroutine, and ends with
	// it, rather than run other goroutines at the original value.
	return err
}

// threads lists the IDs of this process's threads.
func threads() ([]int, error) {
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return nil, err
	}
	tids := make([]int, 0, len(ents))
	for _, e := range ents {
		if tid, err := strconv.Atoi(e.Name()); err == nil {
			tids = append(tids, tid)
		}
	}
	return tids, nil
}
