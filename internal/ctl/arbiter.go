package ctl

import "time"

// ArbiterStatus is the arbitration over the sync link (conntrack_sync's
// heartbeat), present when it runs (conntrack_sync with auth_key_file).
type ArbiterStatus struct {
	// Mode is "waiting" (no heartbeat from the peer yet), "agreed",
	// "split" (the views disagree: both claim MASTER, or adverts are lost
	// while both are alive) or "heartbeat_lost".
	Mode string `json:"mode"`
	// Split is Mode == "split".
	Split bool `json:"split"`
	// Rule is the row of the decision table that decided ("none", "fault",
	// "health", "incumbent", "priority", "address"); Win whether this node
	// should be the master by it.
	Rule string `json:"rule"`
	Win  bool   `json:"win"`
	// Held: our tracked instances are kept from taking over.
	Held bool `json:"held"`
	// PeerAge is how long ago the peer's last heartbeat came (0 when none).
	PeerAge time.Duration `json:"peer_age"`
	// Local and Peer are the two views.
	Local []ArbiterMember `json:"local"`
	Peer  []ArbiterMember `json:"peer,omitempty"`
	// Witnesses are this node's witness probes.
	Witnesses []WitnessStatus `json:"witnesses,omitempty"`

	Splits         uint64 `json:"splits"`          // splits that began
	Yields         uint64 `json:"yields"`          // hand-overs the arbiter asked of our masters
	HeartbeatLosts uint64 `json:"heartbeat_losts"` // times the peer's heartbeat was lost
	Reannounces    uint64 `json:"reannounces"`     // GARP/NA rounds sent when a split healed
	Sent           uint64 `json:"sent"`            // heartbeats sent
	SendErrors     uint64 `json:"send_errors"`
	Received       uint64 `json:"received"` // authentic heartbeats received
	Malformed      uint64 `json:"malformed"`
	Foreign        uint64 `json:"foreign"` // from an address that is not the peer's
	// Drops are the heartbeats the envelope refused, by reason.
	Drops map[string]uint64 `json:"drops,omitempty"`
}

// ArbiterMember is one tracked instance in a node's view.
type ArbiterMember struct {
	Name      string `json:"name"`
	State     string `json:"state"`
	Priority  int    `json:"priority"`
	Starved   bool   `json:"starved"`
	Monitored int    `json:"monitored"`
	Down      int    `json:"down"`
}

// WitnessStatus is one witness address and its last verdict.
type WitnessStatus struct {
	Instance string `json:"instance"`
	Address  string `json:"address"`
	Up       bool   `json:"up"`
	Probes   uint64 `json:"probes"`
	Failures uint64 `json:"failures"`
}
