// Package procnice gives the whole vigild process a nice value, as
// keepalived's vrrp_priority gives its VRRP process one.
//
// On Linux the nice value belongs to a thread, not to the process
// (setpriority(2) on a process ID reaches that one thread), and a thread
// starts with its creator's. [Set] therefore sets it on every thread the
// process has, again until no new one appeared, so every thread the Go
// runtime starts afterwards inherits it too. Elsewhere it is one
// setpriority(2) on the process.
//
// The package owns that call and nothing else: it reads no
// configuration, decides nothing about when (cmd/vigild does, at start),
// and touches no other scheduling setting (real-time policies, CPU
// affinity, memory locking).
package procnice
