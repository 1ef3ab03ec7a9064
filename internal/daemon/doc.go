// Package daemon builds vigil's running parts from a config.Config and runs
// the event loop that owns all instance state.
//
// What it owns:
//   - one vrrp.Machine per vrrp_instance, and the per-instance counters;
//   - the VRRP sockets, one vrrp.Conn per (interface, family, transport,
//     source, protocol 112 or AH), shared by every instance on it and
//     demultiplexed by VRID, reopened when their interface is recreated or
//     their source changes;
//   - for auth_type AH instances (ah.go), the key and keepalived's sequence
//     counter, which outlives a reload;
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
//     turned into effective priorities and FAULT with check.Priority, link
//     changes held back by interface_up_down_delays (links.go, through the
//     pure internal/linkdelay), instances waiting in FAULT for an interface
//     that does not exist yet with dynamic_interfaces (dynamic.go), the
//     conditions that hold an instance in FAULT without a tracker
//     (unicast_fault_no_peer without peers, a track_src_ip address
//     missing: conditions.go), and
//     running each vrrp_sync_group's core (vrrp.SyncGroup) through the
//     loop's work queue (queue.go): machine events, and what their actions
//     mean to a group, are handled in the order they were queued, never
//     re-entrantly;
//   - the kernel worker (kernel.go): the loop hands it every address,
//     route and rule change and every GARP/NA round (each virtual address
//     on its own device, with that device's MAC, looked up by the worker;
//     garp_extra_if's rounds on the VIPs' other interfaces: garpextra.go),
//     in order, and carries on; outcomes come back to the loop. A slow
//     netlink call delays the addresses, never an advert by more than the
//     millisecond the loop waits, with the worker idle, for a takeover's
//     address addition and first GARP/NA round (submitWait; not when
//     another backup falls due within it). An instance's
//     newer address job supersedes its waiting one (its removal also its
//     waiting GARP/NA rounds), so a stalled worker's queue stays bounded
//     however often instances flap, and the last state asked for wins.
//     An instance that becomes BACKUP (at start too) has the worker open
//     its announcement sockets ahead (vip.Sender.Prepare: announceprep.go),
//     and link events reach the reconciler's interface-index cache and
//     reopen them, so a takeover neither opens a socket nor looks an
//     interface up by name. What the address manager and the announcer
//     log inside a job is held and written by the loop with the job's
//     outcome (joblog.go), so no log line sits between a takeover's
//     address and its GARP/NA. With the worker idle (and no conntrack
//     commit to make first), a takeover's addresses are handed over
//     before its advert is sent, so the netlink call may run on another
//     CPU meanwhile; the GARP/NA round still follows the advert. From
//     2 ms before a backup's Master_Down deadline until
//     the takeover is done, the idle worker spins instead of parking,
//     yielding the CPU at every turn (kernelWork.standbyUntil), on a
//     thread kept off the loop's CPU (cpuPin), so that it takes the
//     address job at once, beside the loop; a backup that hears its
//     master never gets that close to its deadline. As the standby
//     starts, the loop maps in the code the takeover will run
//     (Host.WarmTakeover: memtrim.Populate of vip.TakeoverCode) and grows
//     its own stack for the takeover's turn (growStack): the trims after
//     start dropped those pages, and a backup never ran most of that
//     code, so the takeover would fault them in one by one. On a machine whose
//     CPUs are all busy, the kernel may not run the worker's thread for
//     milliseconds: a takeover's jobs that the idle worker leaves waiting
//     20 µs, the loop runs itself, as keepalived's single thread would,
//     and the rest of that takeover's jobs with them (kernelWork.runStarved;
//     the status counts them). A timer-driven takeover keeps its timeline (timer due, wake-up, loop, netlink add
//     sent and acknowledged, first GARP/NA round out: timeline.go), logged
//     at debug level for failover-bench; received adverts carry the
//     kernel's receive time, so Master_Down counts from their arrival;
//   - use_vmac (vmac.go): the VMACs of the instances, created when an
//     instance is built (again when deleted behind our back), removed after
//     their VIPs when vigild stops or a reload drops them, and keepalived's
//     sysctls for them, with the values found restored;
//   - notify scripts and FIFOs (through package notify), including the
//     rule that runs notify_master again after a healed split brain
//     (splitbrain.go), static addresses, routes and rules,
//     vrrp_startup_delay;
//   - the mail alerts (mail.go): each instance and sync group transition
//     whose smtp_alert is on goes to package notify/mail's Sender, which
//     delivers off the loop (Host.Mail replaces SMTP in tests); so do the
//     checkers' alerts (lvs_mail.go): a checker's change of a real server
//     and a virtual server's quorum, as notify/mail's policy decides;
//   - wiring IPVS (lvs.go): opening it (Host.IPVS) when virtual servers
//     are configured, the health checkers (package healthcheck) whose
//     events it feeds to ipvs.Policy on the loop, the desired table
//     reconciled by an ordered IPVS worker off the loop, the policy's
//     notify scripts, its notify_fifo / lvs_notify_fifo lines and
//     keepalived's checker log lines, ha_suspend and lvs_sync_daemon
//     following the VRRP instances (ha_suspend addresses no instance lists
//     follow the watcher's address events), lvs_timeouts, reload with carried states, and stop
//     (release, lvs_flush_on_stop, -I); -P and -C select the halves (Mode);
//   - the no_accept VIP filter (firewall.go): the sets of vigil's nftables
//     table (package vip/nftfilter) follow the non-owner masters without
//     accept mode, blocked before their addresses go up and unblocked
//     after they are gone, through the kernel worker; the table is made
//     fresh at start and removed at stop;
//   - global_defs' startup_script and shutdown_script (startstop.go), run
//     to completion before the instances start and after everything has
//     stopped;
//   - binding conntrack replication (package conntracksync) to the tracked
//     group's takeovers: commit before VIPs, resync and purge after leaving
//     MASTER; and vigilctl ct (ctsync.go), which calls the replicator
//     (safe from any goroutine) from the control connection's goroutine.
//     The replicator runs in a sync worker process when Host.SyncWorker
//     names the binary (syncworker_linux.go, package internal/syncworker);
//     the worker's own life (SyncWorkerMain) is started from cmd/vigild;
//   - the arbitration over the sync link (arbiter.go): the heartbeat of
//     our view of the tracked group every heartbeat_interval over every
//     sync path (sent and received on goroutines of its own), the peer's view handed to the
//     pure arbiter core, its decision carried out as vrrp.Hold on the
//     tracked instances and vrrp.Release of a losing master, witness
//     probes (witness_linux.go: ARP, neighbour solicitation) run off the loop with their results posted
//     to it, the split and its heal logged, notified (FIFO) and the heal
//     re-announced once;
//   - vigilctl demote, promote, maintenance and events (control_cmds.go):
//     targets resolved, each instance's vrrp.Operator (the policy) folded
//     into the effective priority and its Release handed to the machine,
//     the maintenance set kept in Options.StateDir (written through
//     safefile off the loop, read as hostile input at start), every
//     transition published to the events Hub (which never blocks), and
//     every control command audited in the log with its peer credentials;
//   - reload (SIGHUP, vigilctl reload): checkReload, a pure function,
//     refuses a configuration that fails to load or cannot run, and one
//     without any vrrp_instance while some run unless forced; a refusal
//     changes nothing and is logged, counted and returned; an accepted one
//     is applied instance by instance (a changed unicast peer list is
//     applied in place), and changed notify FIFOs are reopened
//     (reloadfifo.go);
//   - rate-limiting the log lines that repeat per packet or per event
//     (through internal/ratelog), while the counters stay exact;
//   - building the status snapshot (a ctl.Status) that vigilctl, the
//     metrics endpoint and the dumps read, and answering the control
//     socket and the metrics endpoint through package ctl, which speaks
//     the protocol, guards the socket and renders the metrics; the daemon
//     counts the clients ctl refuses.
//
// What it must not do: parse packets (vrrp does), speak netlink (vip,
// check, conntracksync and ipvs do), decide VRRP transitions
// (vrrp.Machine does) or IPVS policy (ipvs.Policy does).
//
// Concurrency: the loop's state (instances, sockets, counters, the timer)
// is written only by whoever holds its lock for a turn (turnMu): the loop
// goroutine started by Run, for each event it receives; a socket reader,
// for the batch of adverts it has just read; the loop's timerfd, for its
// wake-up. Those two handle what they saw on their own goroutines, so an
// advert or a timer does not wake a second goroutine. The kernel worker
// only calls the Host's VIPs, Announcer and Firewall with copies of what
// the loop gave it (and stamps a takeover's timeline, which the loop reads
// only in the outcome that the worker hands over after its last write).
// Trackers, signal handlers and control-socket clients only post events
// to the loop over channels (vigilctl ct touches the replicator only,
// never loop state); Status asks the loop for a snapshot the same way. Every goroutine is started by
// Run (or by the checkers it owns) and stopped and waited for before Run
// returns. The kernel side is injected through Host, so tests run the loop
// on in-memory twins inside testing/synctest bubbles.
package daemon
