// Package healthcheck runs keepalived's real-server health checkers
// (TCP_CHECK, HTTP_GET, SSL_GET, MISC_CHECK, DNS_CHECK, UDP_CHECK,
// PING_CHECK, FILE_CHECK, SMTP_CHECK) with keepalived 2.2.7's timing, and
// reports whether each real server is up and at what weight.
//
// Owns: the pure per-checker core (Core: first check at 1 s plus a random
// share of warmup, retry and delay_before_retry, the first failure final
// except for SMTP_CHECK, the per-kind probing cadence while down,
// misc_dynamic weights, FILE_CHECK values; RealServerState: a real server
// is up when every checker is up, and its weight is the configured one
// plus every checker's offset, clamped to 0..2147483647); the probes that
// talk to real servers (Prober implementations, honouring connect_ip,
// connect_port, bindto, bind_port, bind_if with SO_BINDTODEVICE and fwmark
// with SO_MARK); Build, which turns a config.Config into Specs; and the
// Scheduler, which runs thousands of checkers with one goroutine over a
// deadline heap and two bounded pools of workers (blocking network probes,
// scripts), posts Events and keeps a Snapshot of per-checker and
// per-real-server state and counters. TCP_CHECK takes no worker: its loop
// connects a non-blocking socket itself (on Linux; TCP_INFO says whether
// the handshake is done, usually at once on a local network), and only a
// connect still in progress waits on the runtime's poller in a goroutine
// of its own. The common success is three or four raw system calls
// (socket, connect, TCP_INFO, close: none blocks, so none hands the
// runtime's processor to another thread) and one clock read, with no
// allocation; the socket is closed normally, as keepalived's is. The
// loop's timer wakes on a grid (a twentieth of the shortest checker
// period, 1 to 100 ms), starting every attempt due within half a slot of
// the grid point at once. A connection found established when the connect
// timeout fires is a success: the timer firing first only means the
// process looked late, and keepalived serves a ready socket before an
// expired timer.
//
// Must not: program IPVS (package ipvs consumes the events), run scripts
// other than through check.Exec (script security is check's, checked again
// before every run), or block its receiver: events queue inside the
// Scheduler until read.
//
// Identity: a real server is RSID{VS, RS}, the indexes of its
// virtual_server in config.Config.VirtualServers and of the real_server in
// that VirtualServer.RealServers (after config's normalisation, which drops
// invalid and duplicated real servers); a checker adds its index in
// RealServer.Checkers. The indexes are stable for one loaded configuration
// and are what the ipvs side uses to find the service and destination. A
// reload builds a new Scheduler: after the old one's Close, its Carried
// states go to the checkers MatchCheckers pairs (same virtual server
// identity, real server address and port, kind and identifying settings,
// as keepalived pairs them) through Spec.Carry; the ipvs side pairs real
// servers by the same identity.
//
// How the daemon uses it: Build(cfg) (on a reload, set Spec.Carry as
// above), log the returned errors (each names
// the checker's file:line), New(Config{Events: ch}, rss, specs); forward
// check.FileWatcher events for track files to Scheduler.FileValue; on each
// Event with RSChanged or WeightChanged update the ipvs desired state
// (First with !RSUp on an alpha real server is keepalived's one-time
// notify_down); Snapshot for vigilctl status and metrics; Close on reload
// and shutdown.
//
// Where vigil differs from keepalived 2.2.7 (kept deliberately small):
//   - regex is Go's RE2 syntax (PCRE2 features such as backreferences are
//     refused when the checker is built), matched once against the first
//     1 MiB of the response, headers included (keepalived streams it
//     through PCRE2 with partial matching, its first buffer holding the
//     headers too); regex_options and the offsets are not implemented.
//   - An HTTP attempt is bounded by delay_loop + connect_timeout in total
//     (keepalived has no total bound); headers over 64 KiB fail.
//   - SSL: a password-protected client key is refused at build time.
//   - PING_CHECK does not widen net.ipv4.ping_group_range; without a ping
//     socket it uses a raw one (root).
//   - An attempt starts at the point of the loop's timer grid nearest to
//     when it is due, up to half a slot early or late: the slot is a
//     twentieth of the shortest delay_loop (or delay_before_retry with
//     retries) of any checker, 1 to 100 ms, so ±25 ms at delay_loop 1
//     (keepalived's timers have microseconds). Periods keep their length
//     on average.
//   - At most Config.ScriptWorkers MISC_CHECK scripts run at once (16 by
//     default, in a pool apart from the network probes); keepalived has
//     no bound.
//   - ha_suspend does not stop the probes: package ipvs ignores the
//     reports of a suspended virtual server and the daemon gives it the
//     current state when its address is held again. log_all_failures,
//     checker SMTP alerts and the SMTP_CHECK host sub-block are not
//     implemented.
//
// References: keepalived 2.2.7 (check/check_*.c, check/ipwrapper.c,
// core/layer4.c) read for behaviour; RFC 1035 §4.1 (DNS query), RFC 792
// and RFC 4443 (echo), RFC 5321 §4.2 (reply codes).
//
// Concurrency: Core and RealServerState are pure and owned by one
// goroutine (the Scheduler's loop); they read no clock and do no I/O.
// Probers are called from the Scheduler's workers, one attempt per checker
// at a time. Scheduler methods are safe for concurrent use; Close cancels
// the probes in flight and waits for every goroutine the Scheduler
// started.
package healthcheck
