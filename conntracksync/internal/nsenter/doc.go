// Package nsenter runs a function on a thread switched into another
// network namespace, so that the sockets it opens live there: the sync
// link's UDP socket (package conntracksync) and the ctnetlink sockets
// (package ctnetlink) of a replicator that follows another namespace's
// table. It owns nothing else.
package nsenter
