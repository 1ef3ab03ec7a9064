// Package conntracksync replicates the connection-tracking table between the
// two nodes of a firewall pair, wire compatible with conntrackd 1.4.7's FTFW
// mode. This package is the kernel side and the shell around the pure channel:
//
//   - the internal cache: the local kernel table, fed by a ctnetlink dump and
//     by new/update/destroy events (kernel_linux.go), filtered like
//     conntrackd's Filter section (filter.go);
//   - the external cache: the peer's table as received over the sync link;
//   - Commit: the external cache written into the kernel with batched
//     IPCTNL_MSG_CT_NEW requests, many per sendmsg, on several sockets
//     (commit_linux.go, nlmsg.go);
//   - the UDP transport of the sync link (udp_linux.go);
//   - the Replicator, which owns all of the above plus the reliable channel of
//     package ftfw, and the small API the daemon calls.
//
// It owns no VRRP logic: it never decides when to fail over. The daemon calls
// Commit, FlushExternal and RequestResync on state transitions. It must not
// touch package ftfw (the FTFW codec and sans-I/O reliable channel), which it
// only uses.
//
// # Kernel interface
//
// Netlink ctnetlink (linux/netfilter/nfnetlink_conntrack.h): the dump and
// events are decoded with github.com/ti-mo/conntrack; create requests are
// encoded here, because ti-mo issues one request per round trip.
//
// Our own commits are recognised in the event stream by netlink port id:
// the kernel stamps an event caused by a ctnetlink request with the portid
// of the requesting socket (nlmsg_pid), and 0 for events caused by packets.
// Every commit socket registers its port id with the internal cache's
// listener, which applies such events to the internal cache (so that after a
// takeover the new master can resync its peer) but never announces them to
// the peer.
//
// When the event socket overflows (ENOBUFS) or any receive error occurs, the
// listener re-dials and re-dumps the kernel table, at most once per
// Config.ResyncInterval, and counts it; it never stops silently.
//
// # Concurrency
//
// The Replicator's Run owns every goroutine of the package and waits for
// them when its context ends. The caches are guarded by their own mutexes
// (snapshots for Dump and Stats); the channel is touched only by the
// Replicator's loop goroutine.
package conntracksync
