package conntracksync

import (
	"time"

	"github.com/vigil-ha/vigil/conntracksync/ftfw"
)

// Stats is a snapshot of the replicator for the daemon's state dump and
// metrics.
type Stats struct {
	Internal    int  `json:"internal"`    // internal cache size (our connections)
	External    int  `json:"external"`    // external cache size (the peer's)
	Established bool `json:"established"` // the peer answered our HELLO
	// Backlog counts our updates queued or sent but not yet acknowledged;
	// Lag is how long the backlog has been non-empty (0 when empty).
	Backlog int           `json:"backlog"`
	Lag     time.Duration `json:"lag"`
	// Retransmits counts data re-sent after a NACK or inferred loss.
	Retransmits uint64 `json:"retransmits"`
	// ResyncsSent counts RESYNC requests sent to the peer (one lost and
	// sent again counts twice), Bulks the
	// full-cache sends we made (for a peer's RESYNC or new session).
	ResyncsSent     uint64      `json:"resyncs_sent"`
	ResyncsReceived uint64      `json:"resyncs_received"`
	Bulks           uint64      `json:"bulks"`
	PeerSessions    uint64      `json:"peer_sessions"`
	PeerRestarts    uint64      `json:"peer_restarts"`
	Commits         uint64      `json:"commits"`
	LastCommit      CommitStats `json:"last_commit"`
	// Authenticated is true when the sync channel is keyed (AuthKeyFile).
	Authenticated bool `json:"authenticated"`
	// AuthDrops counts datagrams from the peer's address that the keyed
	// channel refused: not sealed with our key (auth_malformed,
	// auth_failed), replayed (auth_replayed) or from a replaced peer session
	// (auth_stale_session). Drops has them by reason, and also
	// auth_unconfirmed: authentic datagrams sent before the peer had heard
	// from this run of ours (the first of each handshake), or replayed from
	// before a restart; those are not in AuthDrops.
	AuthDrops uint64 `json:"auth_drops"`
	// Drops counts discarded items by reason: filter_*, send_error,
	// foreign_source, auth_* and the channel's receive-side reasons
	// (bad_length, stale_seq, ...).
	Drops map[string]uint64 `json:"drops"`
	// Paths are the sync paths in order of preference, PathSwitches how
	// often the active one changed.
	Paths        []PathStats `json:"paths"`
	PathSwitches uint64      `json:"path_switches"`
	// Expect counts the expectations' caches and commits (ExpectationSync).
	Expect ExpectStats `json:"expectations"`
	// Warm counts the warm standby's work (zero without WarmStandby).
	Warm     WarmStats     `json:"warm"`
	Listener ListenerStats `json:"listener"`
	Channel  ftfw.Stats    `json:"channel"`
}

// ListenerStats counts the listener's work.
type ListenerStats struct {
	// Events counts the kernel events received. The events of our own
	// commits and warm writes are dropped in the kernel by the event
	// socket's filter, which the kernel does not count: they are not in
	// Events.
	Events uint64 `json:"events"`
	// OwnEvents counts events of our own commits that the kernel filter
	// let through (skipped: applied, not announced); normally 0.
	OwnEvents uint64 `json:"own_events"`
	// WarmEvents counts events of the peer's flows that a warm standby
	// keeps in the kernel (not ours: neither cached nor announced).
	WarmEvents   uint64                 `json:"warm_events"`
	Dumps        uint64                 `json:"dumps"`   // full dumps, the initial one included
	Redumps      uint64                 `json:"redumps"` // dumps after a receive error (ENOBUFS and others)
	RecvErrors   uint64                 `json:"recv_errors"`
	LastError    string                 `json:"last_error"`
	Filtered     [NumDropReasons]uint64 `json:"filtered"` // by DropReason (index)
	DecodeErrors uint64                 `json:"decode_errors"`
}
