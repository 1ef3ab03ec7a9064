package conntracksync

import (
	"time"

	"github.com/vigil-ha/vigil/conntracksync/ftfw"
)

// Stats is a snapshot of the replicator for the daemon's state dump and
// metrics.
type Stats struct {
	Internal, External int  // cache sizes
	Established        bool // the peer answered our HELLO
	// Backlog counts our updates queued or sent but not yet acknowledged;
	// Lag is how long the backlog has been non-empty (0 when empty).
	Backlog int
	Lag     time.Duration
	// Retransmits counts data re-sent after a NACK or inferred loss.
	Retransmits uint64
	// ResyncsSent counts RESYNC requests sent to the peer, Bulks the
	// full-cache sends we made (for a peer's RESYNC or new session).
	ResyncsSent, ResyncsReceived, Bulks uint64
	PeerSessions, PeerRestarts          uint64
	Commits                             uint64
	LastCommit                          CommitStats
	// Authenticated is true when the sync channel is keyed (AuthKeyFile).
	Authenticated bool
	// AuthDrops counts datagrams from the peer's address that the keyed
	// channel refused: not sealed with our key (auth_malformed,
	// auth_failed), replayed (auth_replayed) or from a replaced peer session
	// (auth_stale_session). Drops has them by reason, and also
	// auth_unconfirmed: authentic datagrams sent before the peer had heard
	// from this run of ours (the first of each handshake), or replayed from
	// before a restart; those are not in AuthDrops.
	AuthDrops uint64
	// Drops counts discarded items by reason: filter_*, send_error,
	// foreign_source, auth_* and the channel's receive-side reasons
	// (bad-length, stale-seq, ...).
	Drops    map[string]uint64
	Listener ListenerStats
	Channel  ftfw.Stats
}

// ListenerStats counts the listener's work.
type ListenerStats struct {
	Events       uint64 // kernel events received
	OwnEvents    uint64 // events caused by our own commits (applied, not announced)
	Dumps        uint64 // full dumps, the initial one included
	Redumps      uint64 // dumps after a receive error (ENOBUFS and others)
	RecvErrors   uint64
	LastError    string
	Filtered     [numDropReasons]uint64
	DecodeErrors uint64
}
