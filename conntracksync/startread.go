package conntracksync

import (
	"time"

	"github.com/vigil-ha/vigil/conntracksync/ftfw"
)

// When the peer's table is in. FTFW marks no end of a bulk, and the
// peer's bulk gate (a second) can hold the bulk back behind a restart's
// first messages: the peer's table is taken to be in once the session
// has been established for peerTableMin and no update of the peer's came
// for peerTableQuiet (peerTableIn).
const (
	peerTableMin   = 1500 * time.Millisecond // longer than the peer's bulk gate
	peerTableQuiet = 300 * time.Millisecond
)

// peerTableIn reports whether the peer's table is taken to be in at now,
// and notes when the loop first saw the session established; loop
// goroutine only.
func (r *Replicator) peerTableIn(ch *ftfw.Channel, now time.Time) bool {
	if !ch.Established() {
		return false
	}
	if r.establishedAt.IsZero() {
		r.establishedAt = now
	}
	return now.Sub(r.establishedAt) >= peerTableMin &&
		(r.peerDataAt.IsZero() || now.Sub(r.peerDataAt) >= peerTableQuiet)
}

// The start-up read. A node that starts without MASTER reads its
// kernel's table (Table.ReadAfter) once the peer's table is in, or
// startReadMax after Run began (the peer away, or never quiet), or when
// it takes MASTER. What a takeover needs is the peer's table, and the
// read walks the kernel's whole conntrack hash in the node's process, on
// the CPUs the peer's bulk is received on. The read also tells a warm
// standby's kernel apart: with the peer's table in the external cache,
// the peer's connections that an earlier run wrote into the kernel are
// left out of the internal cache as the read finds them (isWarm), not
// taken back afterwards (the hold). Meanwhile the kernel's events wait
// in the event socket. The node's own connections reach the peer when
// the read finds them, as changes, not with its first bulk: a node
// without MASTER carries few of its own.
const (
	startReadMax = 3 * time.Second
	// startTick is how often the loop looks while the start-up read or
	// the warm standby's hold waits.
	startTick = 50 * time.Millisecond
)

// startReadDue reports whether the kernel's table may be read at now;
// loop goroutine only.
func (r *Replicator) startReadDue(ch *ftfw.Channel, now time.Time) bool {
	return r.master.Load() || now.Sub(r.runAt) >= startReadMax || r.peerTableIn(ch, now)
}
