package vrrp

import "strconv"

// State is the state of one virtual router, RFC 5798 §6.4 plus keepalived's
// FAULT. The zero value is StateInit.
type State uint8

// The states. String gives the upper-case words keepalived logs and passes to
// notify scripts ("INIT", "BACKUP", "MASTER", "FAULT").
const (
	// StateInit is RFC 5798 §6.4.1 Initialize: not started, or shut down.
	StateInit State = iota
	// StateBackup is RFC 5798 §6.4.2: watching the master, Master_Down_Timer running.
	StateBackup
	// StateMaster is RFC 5798 §6.4.3: forwarding for the VIPs, Adver_Timer running.
	StateMaster
	// StateFault is keepalived's addition: a tracked interface or checker failed;
	// no adverts are sent and the VIPs are not held. No timer runs.
	StateFault
)

var stateNames = [...]string{
	StateInit:   "INIT",
	StateBackup: "BACKUP",
	StateMaster: "MASTER",
	StateFault:  "FAULT",
}

// String returns "INIT", "BACKUP", "MASTER" or "FAULT", or "State(n)" for a
// value outside the enumeration.
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}
