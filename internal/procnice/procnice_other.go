//go:build !linux

package procnice

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Set gives the process the nice value n (-20..19).
func Set(n int) error {
	if n < -20 || n > 19 {
		return fmt.Errorf("nice value %d is not in [-20, 19]", n)
	}
	if err := unix.Setpriority(unix.PRIO_PROCESS, 0, n); err != nil {
		return fmt.Errorf("set the nice value to %d: %w", n, err)
	}
	return nil
}
