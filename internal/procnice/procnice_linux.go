package procnice

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Set gives every thread of this process the nice value n (-20..19), and
// so every thread started after it. Threads started while it runs are
// caught by going over the list again until a pass finds no new one. An
// error names the thread it could not set (lowering the value needs
// CAP_SYS_NICE); the threads set before it keep their new value.
func Set(n int) error {
	if n < -20 || n > 19 {
		return fmt.Errorf("nice value %d is not in [-20, 19]", n)
	}
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
