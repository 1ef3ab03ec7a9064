// Package procnice gives the whole vigild process a nice value, as
// keepalived's vrrp_priority gives its VRRP process one.
//
// On Linux the nice value belongs to a thread, not to the process
// (setpriority(2) on a process ID reaches that one thread), and a thread
// starts with its creator's. [Set] therefore sets it on every thread the
// process has, again until no new one appeared, so every thread the Go
// runtime starts afterwards inherits it too; [Reset] puts back the value
// the process had before. [Start] starts a program at that original value,
// as keepalived runs its scripts, by giving it to the forking thread for
// the call. Off Linux, Set and Reset are not supported.
//
// The package owns those calls and nothing else: it reads no
// configuration, decides nothing about when (the daemon does: at start
// and at each reload that changes vrrp_priority), and touches no other
// scheduling setting (real-time policies, CPU affinity, memory locking).
package procnice
