package conntracksync

// Internals for the external tests (package conntracksync_test), which
// run the Replicator on package ctnetlink and so cannot be internal tests.
var (
	FromWire = fromWire
	AuthA    = authA
	AuthB    = authB

	RxKernelRoom = rxKernelRoom
	RxQueue      = rxQueue
	RxQueueDeep  = rxQueueDeep
	RxQueueLen   = rxQueueLen
)
