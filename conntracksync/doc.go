// Package conntracksync replicates the connection-tracking table between the
// two nodes of a firewall pair, wire compatible with conntrackd 1.4.7's FTFW
// mode. This package is the kernel side and the shell around the pure
// channel of package ftfw:
//
//   - the internal cache: the local kernel table, fed by a ctnetlink dump and
//     by new/update/destroy events (Listener, kernel_linux.go), filtered like
//     conntrackd's Filter section (Filter);
//   - the external cache: the peer's table as received over the sync link;
//   - Commit: the external cache written into the kernel with batched
//     IPCTNL_MSG_CT_NEW requests, hundreds per sendmsg, on several sockets
//     in parallel (Committer, commit_linux.go, nlmsg.go);
//   - the UDP transport of the sync link (udp_linux.go), sendmmsg/recvmmsg;
//   - the authenticated envelope of that link between two vigil nodes
//     (auth.go, a pure core: XChaCha20-Poly1305 seal/open, replay window,
//     session challenges) and its key file (ReadAuthKeyFile, which refuses
//     a file anyone but root could read or replace);
//   - the Replicator, which owns all of the above plus the ftfw.Channel, and
//     the small API the daemon calls: New, Run, Commit, FlushExternal,
//     RequestResync, Stats, Dump.
//
// It parses no configuration: keepalived.conf's conntrack_sync block and the
// conntrackd.conf its conntrackd_config names are read and checked by
// package config, and vigild hands the result over as a Config.
//
// It owns no VRRP logic: it never decides when to fail over. The daemon
// calls Commit (before adding VIPs), FlushExternal and RequestResync on
// state transitions. It must not touch package ftfw (the FTFW codec and
// sans-I/O reliable channel, another owner), which it only uses, nor any
// other package.
//
// # Data flow
//
//	kernel ──events/dump──▶ Listener ──▶ internal Cache ──OnUpdate──▶ loop ──Send──▶ ftfw.Channel ──▶ UDP ──▶ peer
//	peer ──▶ UDP ──▶ loop ──Receive──▶ ftfw.Channel ──Updates──▶ external Cache ──Commit──▶ Committer ──▶ kernel
//
// # Kernel interface
//
// Netlink ctnetlink (linux/netfilter/nfnetlink_conntrack.h). Events and
// dumps are read on our own NETLINK_NETFILTER socket (a reused buffer,
// SO_RCVBUFFORCE up to 64 MiB) and decoded without allocation by
// decodeFlow; the tests check that decoder against ti-mo/conntrack's.
// Create requests are encoded here too, because ti-mo issues one request
// per round trip: a batch is acknowledged only on its last message, since
// netlink reports every failure even without NLM_F_ACK and handles a
// datagram's messages in order. EEXIST is retried as an update (no NAT or
// master attributes, which the kernel refuses to change); a refused update
// as delete + create. Flows without a master go first, then related ones.
// Timeouts are conntrackd's: CommitTimeout if set, else the TIMEOUT the
// peer sent minus the seconds since the entry was last updated.
//
// Our own commits are recognised in the event stream by netlink port id:
// the kernel stamps an event caused by a ctnetlink request with the port id
// of the requesting socket (nlmsg_pid), and 0 for events caused by packets.
// The listener skips such events before decoding them; Replicator.Commit
// puts what it wrote into the internal cache itself (after a takeover the
// new master can resync its peer from it) and never announces it. The
// Replicator keeps its commit sockets open while it runs (and a closed
// committer's ids stay known for pidGrace), so events still queued after a
// commit are known too. During a Replicator commit the event socket even
// leaves the NEW and UPDATE groups (Listener.quiet): staying in the DESTROY
// group keeps the kernel attaching the event extension to the new flows,
// while nobody in the NEW group spares it building one event per committed
// flow, which halves the commit's CPU time; a dump afterwards catches up
// with what traffic changed meanwhile.
//
// When the event socket overflows (ENOBUFS) or any receive error occurs,
// the listener subscribes a new socket, closes the old one, and dumps the
// table again, at most once per second, forever, counting each time. The
// new socket is joined before the old one closes: with the default
// net.netfilter.nf_conntrack_events=2 the kernel gives a new flow its
// event extension only while some socket listens, and a flow created in a
// gap without listeners would never report its destruction.
//
// # Concurrency
//
// The Replicator's Run owns every goroutine of the package (the loop, the
// UDP reader, the Listener) and waits for them when its context ends. The
// ftfw.Channel is touched only by the loop goroutine. The caches are
// guarded by their own mutexes; Stats and Dump take snapshots.
package conntracksync
