package conntracksync

import (
	"context"
	"time"
)

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

// WarmReceive puts flows into r's external cache and its warm standby's
// dirty set, as the receive path does, without Run.
func WarmReceive(r *Replicator, flows []Flow, now time.Time) {
	r.external.Apply(flows, make([]bool, len(flows)), now)
	r.warmChanged(flows, now)
}

// WarmWrite is one batch of the warm standby's background writer.
func WarmWrite(r *Replicator, ctx context.Context) error { return r.warmWrite(ctx) }

// ExternalPut puts flows into r's external cache, as the receive path
// does, without Run.
func ExternalPut(r *Replicator, flows []Flow, now time.Time) {
	r.external.Apply(flows, make([]bool, len(flows)), now)
}

// InternalRoom is the most flows r's internal cache's maps have held or
// were made room for (Cache.peak).
func InternalRoom(r *Replicator) int {
	r.internal.mu.Lock()
	defer r.internal.mu.Unlock()
	return r.internal.peak
}
