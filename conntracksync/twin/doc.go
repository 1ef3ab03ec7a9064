// Package twin holds in-memory twins of the Replicator's I/O, so that
// Replicators (two of them, replicating over a lossy link, taking over)
// run in a testing/synctest bubble without root:
//
//   - Kernel, a connection-tracking table that follows the
//     conntracksync.Kernel contract: Follow dumps it into the cache and
//     then reports the changes that "traffic" (Put, Delete: an expiry)
//     makes; Commit, Write (conntracksync.WarmKernel, a warm standby's
//     writes and deletions) and SetTimeouts write entries and report
//     nothing, as the kernel side recognises its own commits; Follow
//     keeps the flows Table.Warm names out of the cache and tells
//     Table.WarmGone when they are deleted; and its expectation table
//     (conntracksync.ExpectKernel), whose CommitExpect links each
//     expectation to a master flow that must be in the table;
//   - Wire, a datagram link between two ends (conntracksync.Link), which
//     drops datagrams at a seeded random rate, and whose ends can be
//     reopened as a restarted Replicator does.
//
// Tests only; it owns nothing at run time. The real parts are package
// ctnetlink and conntracksync.OpenUDP, proven in network namespaces by
// the root tests.
package twin
