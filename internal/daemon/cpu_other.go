//go:build !linux

package daemon

import "runtime"

// yieldCPU lets other goroutines run; elsewhere than Linux there is no
// standby (no timerfd loop), so it is never called in a spin.
func yieldCPU() { runtime.Gosched() }

// currentCPU is unknown elsewhere than Linux.
func currentCPU() int { return -1 }

// cpuPin does nothing elsewhere than Linux.
type cpuPin struct{}

func (p *cpuPin) avoidCPU(cpu int) {}
func (p *cpuPin) release()         {}
