// Package conntracksync replicates the connection-tracking table between the
// two nodes of a firewall pair, wire compatible with conntrackd 1.4.7's FTFW
// mode. This package is the shell around the pure channel of package ftfw,
// and owns the takeover protocol:
//
//   - the internal cache: the local kernel table, kept by the kernel side
//     (the Kernel interface: package ctnetlink on Linux), filtered like
//     conntrackd's Filter section (Filter);
//   - the external cache: the peer's table as received over the sync link
//     (both caches are a Cache: plain IPv4 flows as fixed-size records
//     without pointers, every other flow in a compact binary form;
//     compact.go);
//   - with Config.Expectations (conntrackd's ExpectationSync), the same
//     pair of caches for conntrack expectations (expect.go: ExpectCache,
//     the helper filter ExpectSync, and the ExpectKernel a Kernel may also
//     be); a commit writes the expectations after the flows, each linked
//     to its master;
//   - the sync link (the Link interface): UDP with sendmmsg/recvmmsg,
//     made as raw system calls on the non-blocking socket, waiting in
//     the network poller (mmsg_linux.go), unicast or multicast (OpenUDP,
//     udp_linux.go), one per sync path
//     (Path, Config.Paths); the choice of the path we send on (paths.go, a
//     pure core: link down, a silent path while another hears the peer, a
//     probe when none does) and the watch of the paths' links over
//     rtnetlink (WatchLinks, linkwatch_linux.go); and the authenticated
//     envelope of that link
//     between two vigil nodes (auth.go, a pure core: XChaCha20-Poly1305
//     seal/open, replay window, session challenges) with its key file
//     (ReadAuthKeyFile, which refuses a file anyone but root could read or
//     replace);
//   - the Replicator, which owns the caches, the ftfw.Channel and the
//     link, and the small API the takeover protocol and the operator
//     commands call: New, Run, Commit, FlushExternal, SendBulk,
//     RequestResync, Purge, Stats, Dump, DumpExpect;
//   - the takeover protocol (Failover, takeover.go): on a takeover of the
//     tracked group, the commit of the external cache into the kernel
//     before the first VIP goes up, bounded by two advert intervals and
//     finishing in the background past them; then the flush and the bulk
//     of our table to the peer; on leaving MASTER and after FAULT, a
//     resync request, and on leaving MASTER the purge (PurgeTimeout); a
//     generation that keeps a stale commit from acting
//     after a newer transition;
//   - the warm standby (warmset.go, its pure core, and warm.go;
//     Config.WarmStandby, opt-in): while the
//     node does not hold MASTER, the peer's flows are written into the
//     kernel in small batches as they arrive (a WarmKernel's Write), with
//     a dirty set (a pure core: changes not yet written, and flows the
//     kernel lost to expiry) that a takeover's Commit writes instead of
//     the whole external cache; the peer's flows are kept out of the
//     internal cache (Table.Warm), their expiry marks them lost
//     (Table.WarmGone), and the flush after a takeover makes them the
//     internal cache's;
//   - the arbiter's heartbeat link (Heartbeat, heartbeat.go): an
//     authenticated UDP socket of its own on each sync path, next to the
//     FTFW one, sealed with the same envelope under keys of its own; it
//     carries opaque payloads (package arbiter owns their meaning);
//   - the one table of conntrack protocol and TCP state names (names.go),
//     which package config parses with.
//
// The kernel side lives in package ctnetlink (event socket, dump, decoder,
// batched commit), which this package does not import: whoever builds a
// Replicator passes it in Parts (vigild: ctnetlink.ForReplicator). Package
// twin has in-memory twins of the kernel side and of the link, so that
// Replicators run in testing/synctest bubbles without root; the tests in
// network namespaces run ctnetlink, UDP and conntrackd for real.
//
// It parses no configuration: keepalived.conf's conntrack_sync block and the
// conntrackd.conf its conntrackd_config names are read and checked by
// package config, and vigild hands the result over as a Config.
//
// It owns no VRRP logic: it never decides when to fail over. The daemon
// maps the tracked group's transitions onto Failover's calls (Takeover
// before adding VIPs, Master, Left, Fault, BackFromFault). It must not
// touch package ftfw (the FTFW codec and sans-I/O reliable channel,
// another owner), which it only uses, nor any other package.
//
// # Data flow
//
//	kernel ──events/dump──▶ Kernel.Follow ──▶ internal Cache ──OnUpdate──▶ loop ──Send──▶ ftfw.Channel ──▶ Link ──▶ peer
//	peer ──▶ Link ──▶ loop ──Receive──▶ ftfw.Channel ──Updates──▶ external Cache ──Commit──▶ Kernel.CommitStream ──▶ kernel
//
// # Kernel side
//
// Package ctnetlink's doc tells how the table is followed and written
// (ctnetlink, batched creates, our own commits' events dropped by port id
// in the kernel, the event socket quiet during a commit, re-dumps after
// overflows). What the
// Replicator relies on is the Kernel contract: Follow keeps the internal
// cache equal to the table and reports every change its Commit did not
// cause; Commit reports which entries it wrote, and Replicator.Commit puts
// those into the internal cache itself (not announced: the peer sent them;
// after a takeover a peer's resync gets them). Timeouts are conntrackd's:
// CommitTimeout if set, else the TIMEOUT the peer sent minus the seconds
// since the entry was last updated (CommitTimeoutSec). A WarmKernel's
// Write does the same without pausing the event socket, and Follow keeps
// the flows Table.Warm names out of the cache.
//
// # Concurrency
//
// The Replicator's Run owns its goroutines (the loop, one link reader per
// path, the link watcher with several paths, the kernel side's Follow, a
// commit's internal-cache update, the warm standby's writer) and waits for
// them when its context ends. The ftfw.Channel is touched only by the loop
// goroutine; during a bulk one more goroutine at a time sends the
// datagrams of the Channel's last Outbox while the loop encodes the next
// ones and handles what the peer sent meanwhile, and the loop waits for it
// before its next Outbox and before the bulk returns. A bulk starts only at
// the loop's top, never from the handling of a datagram. A link reader hands the loop each batch it read in a
// buffer of its own, which the loop gives back to the readers' pool once
// it has handled it: nothing the loop decodes keeps a datagram's bytes.
// Where the kernel granted each path's socket a receive buffer large
// enough to hold a peer's full resend window (the default, as root), the
// readers read only a few batches ahead of the loop and leave the rest in
// the kernel, where it already is.
// The caches are guarded by their own mutexes, the warm
// standby's dirty set by warmMu (never held across a kernel call); a warm
// write holds commitMu like a commit. Stats and Dump take snapshots. A Failover's late commits run on goroutines its Close
// ends and waits for.
package conntracksync
