package daemon

import (
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// yieldCPU gives the CPU to another thread the kernel has ready to run
// on it, if any (sched_yield(2)), and returns at once otherwise. It is a
// raw system call: it never blocks, and an ordinary one would involve the
// runtime's monitor thread.
func yieldCPU() { unix.RawSyscall(unix.SYS_SCHED_YIELD, 0, 0, 0) }

// currentCPU is the CPU the calling thread runs on (getcpu(2)), or -1.
// The thread may move as soon as it returns: it says where the caller
// was, and so where its thread is likely to be woken next.
func currentCPU() int {
	var cpu, node uint32
	if _, _, e := unix.RawSyscall(unix.SYS_GETCPU, uintptr(unsafe.Pointer(&cpu)), uintptr(unsafe.Pointer(&node)), 0); e != 0 {
		return -1
	}
	return int(cpu)
}

// cpuPin keeps the calling goroutine, locked to its thread, off one CPU
// of the thread's affinity mask, and puts the mask back on release. The
// worker holds one while it stands by (kernelWork.spin): the loop's
// thread is woken where it last slept, and a worker spinning on that
// same CPU would run the takeover's address addition only once the loop
// had parked, instead of beside it on another CPU.
//
// The runtime starts no thread from a locked one (it asks its template
// thread), so no other thread inherits the narrowed mask. Not safe for
// concurrent use: one goroutine owns it.
type cpuPin struct {
	held  bool // the goroutine is locked to its thread
	ok    bool // old was read: the mask may be changed and put back
	avoid int  // the CPU the mask leaves out now; -1: none
	old   unix.CPUSet
}

// avoidCPU leaves cpu out of the thread's mask; a negative cpu, or one
// whose removal would leave the mask empty, puts the whole mask back.
// Unchanged, it makes no system call.
func (p *cpuPin) avoidCPU(cpu int) {
	if !p.held {
		runtime.LockOSThread()
		p.held, p.avoid = true, -1
		p.ok = unix.SchedGetaffinity(0, &p.old) == nil
	}
	if !p.ok || cpu == p.avoid {
		return
	}
	set := p.old
	if cpu >= 0 {
		set.Clear(cpu)
	}
	if set.Count() == 0 {
		set, cpu = p.old, -1
	}
	if unix.SchedSetaffinity(0, &set) != nil {
		// A cpuset that does not allow the mask: the thread keeps the
		// one it had, and the standby does not try again every turn.
		p.ok = false
		return
	}
	p.avoid = cpu
}

// release puts the thread's mask back and unlocks the goroutine from it.
func (p *cpuPin) release() {
	if !p.held {
		return
	}
	if p.avoid >= 0 {
		unix.SchedSetaffinity(0, &p.old)
	}
	runtime.UnlockOSThread()
	*p = cpuPin{}
}
