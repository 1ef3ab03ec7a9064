package conntracksync

import (
	"context"
	"time"
)

// UpdateKind says what happened to a flow of the internal cache.
type UpdateKind uint8

// What happened to a flow of the internal cache.
const (
	UpdateNew UpdateKind = iota
	UpdateChange
	UpdateDelete
)

func (k UpdateKind) String() string {
	switch k {
	case UpdateNew:
		return "new"
	case UpdateChange:
		return "update"
	}
	return "delete"
}

// Table is where a Kernel's Follow keeps the local connection table: the
// cache it writes, the filter a flow must pass first, and the function
// told of every change of the cache that its own Commit did not cause
// (called from Follow's goroutine; the Flow is valid during the call only).
type Table struct {
	Cache    *Cache
	Filter   *Filter
	OnUpdate func(UpdateKind, *Flow)
	// Warm, when set (a warm standby, Config.WarmStandby), tells the
	// peer's flows that this node keeps in its kernel apart from its
	// own: a flow for which it returns true is not put into Cache (by an
	// event or a dump) nor reported to OnUpdate, and when the kernel
	// destroys it by itself (an event not caused by our own requests: an
	// expiry) WarmGone is told (and it leaves Cache quietly if it was
	// there). Both are called from Follow's goroutine.
	Warm     func(k *Key) bool
	WarmGone func(k *Key)
	// ReadAfter, when set, holds Follow's first read of the table back
	// until it is closed (or ctx ends): Follow subscribes to the events at
	// once, and those that come meanwhile wait for the read. The
	// Replicator closes it once the peer's table is in (startread.go).
	ReadAfter <-chan struct{}
}

// AwaitRead waits until readAfter (a Table's or an ExpectTable's
// ReadAfter) is closed, and returns at once when it is nil; it returns
// ctx's error if ctx ends first. For Kernel and ExpectKernel
// implementations, before their first read of the table.
func AwaitRead(ctx context.Context, readAfter <-chan struct{}) error {
	if readAfter == nil {
		return nil
	}
	select {
	case <-readAfter:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// CommitChunk is one chunk of a CommitStream, written: OK[i] says whether
// Entries[i] is in the kernel now.
type CommitChunk struct {
	Entries []Entry
	OK      []bool
}

// Kernel is the local connection-tracking table as the Replicator uses it:
// package ctnetlink's Kernel on Linux, an in-memory twin in tests
// (package twin).
type Kernel interface {
	// Follow keeps t.Cache equal to the kernel table (a dump, then
	// events) until ctx ends; it returns ctx's error, or a setup error.
	// The Replicator calls it with the same Table each time.
	Follow(ctx context.Context, t Table) error
	// CommitStream writes entries into the kernel table, with the
	// timeouts of CommitTimeoutSec, in chunks: each chunk received on in,
	// in order, then sends it on out with which of its entries are there
	// now, until in is closed. Every flow that is not related comes
	// before any related one (Cache.Chunks), so a related flow's master
	// is written first; the sender reuses a chunk's memory once it is
	// back on out. A per-entry refusal is counted in the stats; the error
	// is for the kernel side failing and ctx's end: it stops there (with
	// what in still holds left there), and a chunk that the error kept
	// from writing anything is not sent on out. The changes it causes are
	// not reported to OnUpdate.
	CommitStream(ctx context.Context, in <-chan []Entry, out chan<- CommitChunk, now time.Time, commitTimeout time.Duration) (st CommitStats, err error)
	// SetTimeouts sets the timeout of each of flows that is still in the
	// kernel table to timeoutSec seconds (a flow no longer there is
	// skipped) and reports how many it set and how many the kernel
	// refused; the error is for the kernel side failing and ctx's end.
	// The changes are not reported to OnUpdate (a timeout is no
	// replicated state).
	SetTimeouts(ctx context.Context, flows []Flow, timeoutSec uint32) (set, failed int, err error)
	// Release frees what Commit keeps open between commits; the
	// Replicator calls it when its Run ends, never during a Commit.
	Release()
	// Stats returns the kernel side's counters.
	Stats() ListenerStats
}

// Datagram is one slot of Link.Receive: a buffer to read into, and what
// was read.
type Datagram struct {
	Buf      []byte
	N        int  // bytes read into Buf
	FromPeer bool // sent from the configured peer address
}

// Link is the sync link's datagram transport: UDP on Linux (OpenUDP), an
// in-memory twin in tests (package twin). Send is called by one goroutine
// and Receive by another.
type Link interface {
	// Send sends datagrams to the peer in order and returns how many
	// could not be sent, with the last error.
	Send(dgrams [][]byte) (failed int, err error)
	// Receive blocks until at least one datagram arrives, fills the
	// first n slots, and returns n; after Close it returns an error
	// matching net.ErrClosed.
	Receive(ds []Datagram) (n int, err error)
	Close() error
}

// LinkOpener opens the sync link for cfg; each Replicator.Run opens one
// and closes it when it ends.
type LinkOpener func(cfg *Config) (Link, error)
