//go:build !linux

package daemon

import "runtime"

// yieldCPU lets other goroutines run; elsewhere than Linux there is no
// standby (no timerfd loop), so it is never called in a spin.
func yieldCPU() { runtime.Gosched() }
