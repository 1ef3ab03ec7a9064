// Package daemon builds vigil's running parts from a config.Config and runs
// the event loop that owns all instance state.
//
// What it owns:
//   - one vrrp.Machine per vrrp_instance, and the per-instance counters;
//   - the VRRP sockets, one vrrp.Conn per (interface, family, transport,
//     source), shared by every instance on it and demultiplexed by VRID,
//     reopened when their interface is recreated or their source changes;
//   - executing the machines' actions: sending adverts, adding and removing
//     virtual addresses, routes and rules through a vip.Reconciler,
//     gratuitous ARP and unsolicited NA bursts through a vip.Sender, log
//     lines, notify calls;
//   - the start-up removal of the virtual addresses, routes and rules a
//     killed predecessor left on the host (before any instance starts, never
//     on reload), and noticing a master's VIP removed behind its back (from
//     the interface watcher's address events), which makes it release
//     MASTER as keepalived does;
//   - tracking (vrrp_script, track_interface, track_file, track_process)
//     turned into effective priorities and FAULT with check.Priority, and
//     running each vrrp_sync_group's core (vrrp.SyncGroup) through the
//     loop's work queue (queue.go): machine events, and what their actions
//     mean to a group, are handled in the order they were queued, never
//     re-entrantly;
//   - the kernel worker (kernel.go): the loop hands it every address,
//     route and rule change and every GARP/NA round, in order, and carries
//     on; outcomes come back to the loop. A slow netlink call delays the
//     addresses, never an advert;
//   - use_vmac (vmac.go): the VMACs of the instances, created when an
//     instance is built (again when deleted behind our back), removed after
//     their VIPs when vigild stops or a reload drops them, and keepalived's
//     sysctls for them, with the values found restored;
//   - notify scripts and FIFOs (through package notify), including the
//     rule that runs notify_master again after a healed split brain
//     (splitbrain.go), static addresses, routes and rules,
//     vrrp_startup_delay;
//   - binding conntrack replication (package conntracksync) to the tracked
//     group's takeovers: commit before VIPs, resync after leaving MASTER;
//   - reload (SIGHUP, vigilctl reload): checkReload, a pure function,
//     refuses a configuration that fails to load or cannot run, and one
//     without any vrrp_instance while some run unless forced; a refusal
//     changes nothing and is logged, counted and returned; an accepted one
//     is applied instance by instance;
//   - rate-limiting the log lines that repeat per packet or per event
//     (through internal/ratelog), while the counters stay exact;
//   - building the status snapshot (a ctl.Status) that vigilctl, the
//     metrics endpoint and the dumps read, and answering the control
//     socket and the metrics endpoint through package ctl, which speaks
//     the protocol, guards the socket and renders the metrics; the daemon
//     counts the clients ctl refuses.
//
// What it must not do: parse packets (vrrp does), speak netlink (vip,
// check and conntracksync do), or decide VRRP transitions (vrrp.Machine
// does).
//
// Concurrency: the loop goroutine started by Run is the only writer of
// instance state; the kernel worker only calls the Host's VIPs and
// Announcer with copies of what the loop gave it. Socket readers, trackers, signal handlers and
// control-socket clients only post events to it over channels; Status
// asks the loop for a snapshot the same way. Every goroutine is started by
// Run (or by the checkers it owns) and stopped and waited for before Run
// returns. The kernel side is injected through Host, so tests run the loop
// on in-memory twins inside testing/synctest bubbles.
package daemon
