// Package check holds vigil's health trackers: the pure rise/fall debounce
// core, keepalived's priority arithmetic, and the I/O shells that produce
// raw results (scripts, track files, processes from /proc, interfaces from
// netlink).
//
// Owns: Tracker (vrrp_script rise/fall/init_fail/timeout debounce as a pure
// function of results and now), ProcessTracker (track_process quorum with
// fork_delay/terminate_delay, pure), Priority (keepalived's effective
// priority: weights, reverse, clamp to 1..254, owner 255 fixed, weight-0
// failure ⇒ FAULT), script security (the one implementation of
// keepalived's check_script_secure: CheckScript, pure over a SecurityFS;
// CheckScriptAs on the real file system, which config's load uses through
// its options; Command, which every start of a script in vigild goes
// through and which checks again right before the exec), Runner (scripts in
// their own process group with credentials and a timeout: SIGTERM, then
// SIGKILL to the whole group), LookupCredential (script_user), track_file
// reading and init_file with an inotify FileWatcher, /proc scanning with a
// polling ProcessMonitor, and the netlink interface Watcher.
//
// How the daemon loop uses it: when now reaches Tracker.Deadline and
// Tracker.Start(now) agrees, Runner.Run(script); feed each RunResult to
// Tracker.Handle; feed FileWatcher, ProcessMonitor (through a
// ProcessTracker) and Watcher events into the Refs of each instance; then
// call Priority(base, refs) and post SetPriority / Fault / FaultCleared to
// the vrrp.Machine when its outputs change. Reason.Kind maps onto vrrp's
// ReasonTrackScript, ReasonInterfaceDown, ReasonTrackFile, ReasonTracking.
//
// Must not: change kernel state (no addresses, routes or links are touched),
// hold instance state, or block the daemon loop. Results travel to the loop
// on channels; the loop feeds them to the pure cores and calls Priority.
//
// References: keepalived 2.2.7 behaviour (vrrp_track.c, vrrp_scheduler.c,
// lib/notify.c, trackers/track_file.c, core/track_process.c), read for facts;
// RFC 5798 §5.2.4 (priority 255 is reserved for the address owner, 1..254
// for backups).
//
// Concurrency: the pure cores (Tracker, ProcessTracker, Priority,
// CheckScript, CheckPathChain, ParseFileValue) are plain values owned by one goroutine, the daemon loop;
// they have no clocks, goroutines or I/O. Runner and Watcher are safe for
// concurrent use, as are FileWatcher and ProcessMonitor; each owns its
// goroutines, which Close stops and waits for.
package check
