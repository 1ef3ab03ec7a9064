package daemon

import "golang.org/x/sys/unix"

// yieldCPU gives the CPU to another thread the kernel has ready to run
// on it, if any (sched_yield(2)), and returns at once otherwise. It is a
// raw system call: it never blocks, and an ordinary one would involve the
// runtime's monitor thread.
func yieldCPU() { unix.RawSyscall(unix.SYS_SCHED_YIELD, 0, 0, 0) }
