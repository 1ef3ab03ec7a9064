// Package syncworker carries the daemon's calls on the conntrack replicator
// to a replicator that runs in another process, and their answers back:
// the worker's side (Serve) and the daemon's (Client), over one connected
// stream socket (a Unix socket pair).
//
// Why a process of its own: the replicator's goroutines hand work to each
// other all the time (the event socket to the loop, the sync link's reader
// to the loop, a bulk's sends), and with two or more Ps each hand-over may
// wake another thread. Run with one P, a sync node does the same work with
// about a fifth less CPU per replicated entry; the VRRP loop beside it
// needs two Ps at a takeover, so the two cannot share a runtime that way.
//
// It owns: the messages, their encoding (encoding/gob) and the matching of
// answers to calls, a call's deadline and cancellation carried to the
// worker, and the one call the worker makes back (the purge's question
// whether it is still wanted). It must not hold replication policy (what a
// commit, a flush or a bulk does is conntracksync's), nor start, watch or
// stop processes: its caller gives it a connected socket.
package syncworker
