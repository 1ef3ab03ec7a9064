// Package ctnetlink is the kernel side of conntracksync's Replicator on
// Linux: it follows the local connection-tracking table into the internal
// cache and writes the external cache into it, over netlink ctnetlink
// (linux/netfilter/nfnetlink_conntrack.h). Kernel is the
// conntracksync.Kernel the Replicator uses (ForReplicator); Listener and
// Committer are its two halves, also usable alone (ct-bench, tests).
//
// # Following the table
//
// Events and dumps are read on our own NETLINK_NETFILTER socket (a reused
// buffer, recvmmsg for events, SO_RCVBUFFORCE up to 64 MiB; non-blocking,
// its reads waiting in the network poller) and decoded
// without allocation by decodeFlow; the tests check that decoder against
// ti-mo/conntrack's. When the event socket overflows (ENOBUFS) or any
// receive error occurs, the listener subscribes a new socket, closes the
// old one, and dumps the table again, at most once per second, forever,
// counting each time. The new socket is joined before the old one closes:
// with the default net.netfilter.nf_conntrack_events=2 the kernel gives a
// new flow its event extension only while some socket listens, and a flow
// created in a gap without listeners would never report its destruction.
//
// # Writing the table
//
// Create requests are encoded here too, because a request per round trip
// (ti-mo/conntrack's Create; BenchmarkCommit shows both) is far slower: a
// batch is acknowledged only on its last message, since netlink reports
// every failure even without NLM_F_ACK and handles a datagram's messages
// in order. EEXIST is retried as an update (no NAT or master attributes,
// which the kernel refuses to change); a refused update as delete +
// create. Flows without a master go first, then related ones, spread over
// several sockets. EncodeCreates gives the same create requests as bytes,
// so that ct-bench can send them with the smallest possible sender and
// measure the kernel's own insert floor beside the Committer.
//
// Sockets are raw and messages parsed here: mdlayher/netlink's Conn stops
// reading a datagram at its first error message, which would lose the
// per-request replies of a batch, and its Receive allocates a buffer per
// call, which the event path cannot afford. No netlink library is used.
//
// Our own commits are recognised in the event stream by netlink port id:
// the kernel stamps an event caused by a ctnetlink request with the port id
// of the requesting socket (nlmsg_pid), and 0 for events caused by packets.
// The event socket carries a classic BPF filter (evfilter.go, rebuilt
// whenever the set of our port ids changes) that drops those events in the
// kernel, before they are queued: ctnetlink sends one event per skb, and
// the filter drops only an skb that holds a single message. The listener
// still skips, before decoding, any event of ours that the filter let
// through (a datagram of several messages, an attach that failed), so they
// never reach OnUpdate. The kernel counts nothing a socket filter drops:
// ListenerStats.Events and OwnEvents count only what passed it. Kernel
// keeps its commit sockets open until Release (and a closed committer's
// ids stay known, and filtered, for pidGrace), so events still queued
// after a commit are known too. During a Kernel commit the event socket
// even leaves the NEW and UPDATE groups (Listener.quiet): staying in the
// DESTROY group keeps the kernel attaching the event extension to the new
// flows, while nobody in the NEW group spares it building one event per
// committed flow, which halves the commit's CPU time; a dump afterwards
// catches up with what traffic changed meanwhile. Any dump that starts
// after the commit serves as that catch-up: a commit made before the
// listener's start-up read is caught up by that read alone.
//
// A warm standby's writes (Kernel.Write: the peer's flows as they arrive,
// creates and deletions in small batches) leave the event socket in its
// groups: a dump after each batch would cost more than the events it
// spares, and the kernel filter on the port ids drops those events. The
// listener also skips every event and dumped entry of a flow that the
// Table's Warm names (the peer's, not ours), and tells WarmGone of such a
// flow's destruction by anyone else (the kernel's expiry).
//
// # Expectations
//
// Kernel is also the Replicator's ExpectKernel (expect.go, expect_linux.go):
// the expectation subsystem (NFNL_SUBSYS_CTNETLINK_EXP) is dumped and
// followed (NEW and DESTROY groups) on a socket of its own, and a commit
// creates expectations with IPCTNL_MSG_EXP_NEW naming the master's
// original tuple, so that the kernel links each to its master and helper
// (ENOENT: no master). Because the kernel sends no event when a NAT helper
// changes a flow's sequence adjustment, the master of every new
// expectation is read again (Listener.refresh) into the flows' cache.
//
// # Concurrency
//
// Follow (Listener.Run) runs on its caller's goroutine and writes the
// cache given in the Table; Commit and SetTimeouts (the purge's update of
// timeouts, on the committer's first socket) run on their caller's, one
// at a time, Commit with one goroutine per socket that it waits for. The
// event socket's filter is rebuilt by whichever goroutine changes the port
// ids (the caller that opens a committer, the timer that ends a closed
// one's grace), under the listener's socket lock. It must not touch the
// sync link, the ftfw channel or any VRRP state.
package ctnetlink
