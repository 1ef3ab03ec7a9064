// Package ipvs programs the kernel's IP Virtual Server table from
// keepalived's virtual_server configuration, with keepalived 2.2.7's
// policy for real server health, quorum and sorry servers.
//
// # What it owns
//
//   - The desired-state model: [Table] of [Service] keyed by [ServiceKey]
//     (family + protocol + address + port, or family + fwmark), each with
//     its scheduler, flags (persistence, one-packet scheduling, the three
//     scheduler flags that sh-*, mh-* and flag-N set), persistence timeout
//     and granularity (persistence_engine is not programmed), and its
//     [Dest]s (weight, NAT/DR/TUN with the tunnel type, port and
//     checksum, thresholds).
//   - [Build]: a pure function from *config.Config to a [Spec] — each
//     virtual_server expanded into its services (virtual_server_group
//     ranges and fwmarks one service each), real servers and sorry server
//     with the ports the kernel needs (DR and TUN take the service's port),
//     and [Complaint]s, with file:line, for what config accepted but IPVS
//     cannot take as written. Unknown schedulers and forwarding methods are
//     config's complaints, not ours.
//   - [Policy]: keepalived's policy as a pure core. [New] gives the
//     start-up state and transitions (with rs_init_notifies, notify_up
//     for the real servers that start up); [Policy.Handle] takes an [Event]
//     and returns [Action]s (notify_up / notify_down / quorum_up /
//     quorum_down scripts to run, with keepalived's log line);
//     [Policy.Table] is the desired table at any moment. No I/O, no clock.
//   - [Reconciler]: reads a [Client]'s table and applies only the
//     difference to the desired one; it owns the services it was asked
//     to program and reports the others as foreign, untouched. It reads
//     the list of services on every Apply, but the destinations only of
//     the services it does not know yet, whose parameters others changed,
//     or whose destinations it is about to change: it remembers what its
//     own changes left, so a reload that changes 100 weights of 10,000
//     reads 100 services' destinations, not 1,000 ([Reconciler.Resync]
//     reads them all again).
//   - [Client] and its kernel implementation [Kernel] ([Dial]) over
//     generic netlink; a kernel without IPVS gives one error wrapping
//     [ErrNoIPVS]. The table commands are encoded here and pipelined on
//     one socket of their own: the Reconciler hands the Kernel all its
//     service changes, then all its destination changes, and the Kernel
//     writes up to 256 requests at a time and reads their acks with one
//     recvmmsg(2), matching each to its request by sequence number, so
//     every change keeps its own error. Reading the table is one dump of
//     the services ([Kernel.ServiceList]) and one dump per service for its
//     destinations ([Kernel.Dests]; the kernel runs one dump at a time per
//     socket and has no dump of every destination). The timeouts go through
//     github.com/cloudflare/ipvs, IPVS_CMD_FLUSH through
//     github.com/mdlayher/genetlink. [Kernel.Timeouts] and
//     [Kernel.SetTimeouts] for lvs_timeouts; [Kernel.StartSyncDaemon],
//     [Kernel.StopSyncDaemon] and [Kernel.SyncDaemons] for
//     lvs_sync_daemon (over genetlink directly). The in-memory twin is
//     ipvs/ipvstest.
//
// # Feeding health in (the checker side)
//
// A real server is named by a [RealRef]: VS is the index of its virtual
// server in Spec.VirtualServers (the order of virtual_server blocks that
// config kept, after Build dropped none or some: use the Spec, never the
// config's slice), RS the index in that VirtualServer's Real (the order of
// its real_server blocks); [Spec.RefOf] finds it from the
// *config.RealServer the checker was built from. The checker side sends one [HealthChanged] per
// change of the ANDed result of the real server's checkers: Up, and for
// MISC_CHECK with misc_dynamic an exit status 2..255 as Weight = status-2
// with HasWeight set (it replaces the configured weight; a later report
// without HasWeight restores it). Repeating a report is harmless. An alpha
// real server starts down and its first failed report still yields a
// RealDown action (keepalived runs notify_down once).
//
// # Policy, as keepalived 2.2.7
//
//   - A real server that goes down leaves the table; with
//     inhibit_on_failure it stays with weight 0. Weight 0 configured means
//     alive, in the table, counting 0 towards quorum.
//   - Quorum: S is the sum of the alive servers' effective weights. With
//     quorum up it is lost when S < quorum-hysteresis (or S = 0); down, it
//     is gained when S >= quorum+hysteresis. At start every virtual server
//     is down and evaluated once: quorum_up for those that have it; those
//     short of it are silent unless they have a sorry server.
//   - While quorum is lost and a sorry_server is configured, the sorry
//     server (weight 1, its own sorry_server_lvs_method) replaces every
//     real server in the table (inhibited ones stay at weight 0); with
//     sorry_server_inhibit it stays at weight 0 the rest of the time.
//   - ha_suspend: health reports for the virtual server are ignored while
//     no [VIPHeld] says its address is held (keepalived suspends the
//     checkers; the service and its current destinations stay).
//   - omega: at [Stop], notify_down for each alive real server and
//     quorum_down where quorum was up; without it, Stop is silent. After
//     Stop the desired table is empty ([Reconciler.Release]). With
//     Stop.ServicesOnly (lvs_flush_on_stop) only quorum_down is notified.
//   - Reload: [Policy.Carry] then [NewCarried] keep every virtual
//     server's quorum and every real server's state by identity, so a
//     reload notifies only what it changes.
//   - lvs_flush: Spec.Flush; the daemon calls [Client.Flush] once at the
//     first start, before the first Apply.
//   - lvs_timeouts: Spec.Timeouts; the daemon saves [Kernel.Timeouts],
//     sets these, and restores the saved values at stop.
//
// Differences from keepalived, on purpose: a service the configuration
// names that already exists is taken over and corrected (scheduler,
// destinations), where keepalived adopts it as is and leaves stray
// destinations forever; a service others deleted or whose parameters
// others edited is put back at the next Apply (keepalived never reads the
// table), a destination others changed when vigil next changes that
// service or at a Resync; threshold-only changes are applied on the next
// Apply where keepalived ignores them until a later edit.
//
// # What it must not touch
//
// Services that the configuration does not name (unless lvs_flush), VRRP,
// addresses and routes (the VIP of a NAT service is vip's), the checkers
// (package healthcheck) and the running of scripts (the daemon does it
// from the Actions).
//
// # Concurrency
//
// Policy and Reconciler are single-owner values, used from the daemon's
// loop. Kernel is not safe for concurrent use; the twin is.
package ipvs
