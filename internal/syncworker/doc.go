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
// A commit, a pipeline whose writer waits in the kernel, runs with
// CommitProcs.
//
// It owns: the messages, their encoding (encoding/gob) and the matching of
// answers to calls, a call's deadline and cancellation carried to the
// worker, the worker's Ps while it commits, and the one call the worker
// makes back (the purge's question whether it is still wanted); the
// worker's process (Remote: its start with one P at vigild's original
// nice value, its socket, configuration and log, its end; WorkerMain: the
// worker's side of that, and the memory it gives back after its start
// and after a takeover). It must not hold replication policy (what a
// commit, a flush or a bulk does is conntracksync's), nor decide when a
// worker that died starts again (the daemon runs Remote.Run again, as it
// runs a replicator again).
package syncworker
