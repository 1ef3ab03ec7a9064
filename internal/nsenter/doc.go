// Package nsenter runs a function on a thread switched into another
// network namespace, so that the sockets it opens live there: the sync
// link's UDP socket (package conntracksync) and the ctnetlink sockets
// (package ctnetlink) of a replicator that follows another namespace's
// table, the address socket of a vip.Manager made for another namespace,
// and the bare sockets of ct-bench's floors. The namespace is named by
// its path (Do) or by an open handle (DoAt). The thread leaves the
// namespace again before it is unlocked: a thread left in another
// namespace could be the process's main thread, which the runtime never
// discards, and the process would then count as that namespace's
// (ip netns pids) for whoever cleans it up. It owns nothing else.
package nsenter
