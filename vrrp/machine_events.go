package vrrp

import (
	"net/netip"
	"time"
)

// Event is an input to Machine.Handle. The set is closed: only the types in
// this file implement it.
type Event interface{ isEvent() }

// Startup starts the virtual router (RFC 5798 §6.4.1 "Startup event").
// Ignored unless the Machine is in StateInit.
type Startup struct{}

// Shutdown stops the virtual router (RFC 5798 §6.4.2, §6.4.3 "Shutdown event").
// A master sends a priority-0 advert and releases the VIPs. The Machine goes to
// StateInit and may be started again.
type Shutdown struct{}

// Timeout tells the Machine that the time it gave in Deadline has come. A
// Timeout before the deadline, or when there is none, does nothing, so the loop
// may deliver it spuriously.
type Timeout struct{}

// AdvertReceived is an ADVERTISEMENT that passed the receive checks of RFC 5798
// §7.1 (the codec's job) for this VRID. The Machine never sees packets.
type AdvertReceived struct {
	// Priority is the advert's priority field; 0 means the master is leaving.
	Priority uint8
	// MaxAdvertInterval is the advert's Max Adver Int (VRRPv3), already
	// converted from centiseconds. Ignored for VRRPv2, whose backups use their
	// own configured interval (RFC 3768 §6.1). A v3 value of 0 (which the codec
	// should have dropped) leaves the learned interval unchanged.
	MaxAdvertInterval time.Duration
	// Src is the advert's IP source address, the sender's primary address,
	// used for the equal-priority tiebreak (RFC 5798 §6.4.3).
	Src netip.Addr
}

// SetPriority sets the effective priority after priority tracking (weights of
// tracked scripts, interfaces, files). It is clamped to 1..254 as keepalived
// does; an address owner (configured priority 255) ignores it. It never causes
// a transition by itself: a backup's running Master_Down_Timer moves by the
// change in Skew_Time (as keepalived does), and a master's next advert carries
// the new priority.
type SetPriority struct {
	Priority uint8
	Reason   Reason
}

// Fault enters StateFault (keepalived): a master sends a priority-0 advert and
// releases its VIPs; no adverts are sent and no timer runs until FaultCleared.
// Fault is a level, not a count: the daemon aggregates its fault sources and
// posts Fault when the first one appears and FaultCleared when the last one
// goes. A Fault before Startup makes Startup go straight to StateFault.
// Reason ReasonNone is reported as ReasonFault.
type Fault struct {
	Reason Reason
}

// FaultCleared leaves StateFault: to StateMaster at once for an address owner
// (priority 255), otherwise to StateBackup with the configured advert interval
// and a full Master_Down_Interval, as keepalived does.
type FaultCleared struct{}

// ForceBackup is a vrrp_sync_group pull (keepalived's vrrp_sync_backup): a
// master releases its VIPs and goes to StateBackup without a priority-0 advert,
// with a full Master_Down_Timer. In any other state it does nothing: a backup
// already is one, and a faulty instance stays in FAULT.
// Reason ReasonNone is reported as ReasonForced.
type ForceBackup struct {
	Reason Reason
}

// ForceMaster is a vrrp_sync_group pull (keepalived's vrrp_sync_master): a
// backup becomes master at once, exactly as if its Master_Down_Timer had
// fired. In any other state it does nothing (a faulty instance never becomes
// master). Reason ReasonNone is reported as ReasonForced.
type ForceMaster struct {
	Reason Reason
}

// VIPRemoved tells a master that one of its virtual addresses was removed
// from the host by someone else (`ip addr del`, a network manager), as
// keepalived 2.2.7 reacts to a tracked VIP or eVIP going away while MASTER:
// the master sends a priority-0 advert, releases its VIPs and goes to
// StateBackup with Master_Down_Timer = Skew_Time, so that it takes over again
// (adding every VIP back) after Skew_Time unless a router of higher priority,
// whose Skew_Time is shorter, speaks first. In any other state it does
// nothing. Reason ReasonNone is reported as ReasonVIPRemoved.
type VIPRemoved struct {
	Reason Reason
}

// Release is an operator's hand-over (vigilctl demote, maintenance on): a
// master sends a priority-0 advert, as on Shutdown, releases its VIPs and
// goes to StateBackup with a full Master_Down_Interval, so that a backup
// (which answers the priority-0 advert after its Skew_Time) takes over and
// this router becomes master again only if no master speaks for
// Master_Down_Interval. In any other state it does nothing. Reason
// ReasonNone is reported as ReasonDemote.
type Release struct {
	Reason Reason
}

// LocalAddrChanged gives the Machine this router's new primary address on
// the interface (Config.LocalAddr): the socket was reopened on a recreated
// interface, or one that did not exist at start, or the address changed.
// It is the equal-priority tiebreak's side from now on (RFC 5798 §6.4.3);
// it causes no transition and no advert.
type LocalAddrChanged struct {
	Addr netip.Addr
}

// Hold is the arbiter's veto over takeovers (conntrack_sync's heartbeat
// says the peer is alive and should stay, or become, master). With Silence,
// a BACKUP whose Master_Down_Timer expires with no advert heard since it
// was armed does not become master (nor, in a sync group, ask to: no
// RequestMaster); it restarts the timer with Master_Down_Interval, and
// Starved reports true until it accepts a master's advert. With Preempt,
// a takeover over a lower-priority master it hears (preemption) is held
// back the same way. An address owner's Startup or FaultCleared and a sync
// group's ForceMaster are never held. Hold never causes a transition by
// itself; lifting Silence after a held-back expiry makes the timer due at
// once, so the takeover the hold delayed happens at the next Timeout. A
// master is not affected: the arbiter asks a master to go with Release.
type Hold struct {
	Silence bool
	Preempt bool
}

func (LocalAddrChanged) isEvent() {}
func (Hold) isEvent()             {}

func (Startup) isEvent()        {}
func (Shutdown) isEvent()       {}
func (Timeout) isEvent()        {}
func (AdvertReceived) isEvent() {}
func (SetPriority) isEvent()    {}
func (Fault) isEvent()          {}
func (FaultCleared) isEvent()   {}
func (ForceBackup) isEvent()    {}
func (ForceMaster) isEvent()    {}
func (VIPRemoved) isEvent()     {}
func (Release) isEvent()        {}

// Action is an output of Machine.Handle, for the daemon loop to carry out in
// the order given. The set is closed: only the types in this file implement it.
type Action interface{ isAction() }

// SendAdvert: send one ADVERTISEMENT now with this priority and the configured
// advert interval (0 when the master is leaving: Shutdown or Fault).
type SendAdvert struct {
	Priority uint8
	Reason   Reason
}

// Transition: the state changed. The daemon logs it ("(VI_1) Entering MASTER
// STATE"), runs notify scripts and counts it. It is always the last action of
// the Handle call that returns it, after the adverts and VIP changes that make
// the new state true.
type Transition struct {
	From, To State
	Reason   Reason
}

// AddVIPs: install the virtual addresses (and virtual routes/rules). Returned
// on becoming master, after the first advert has been sent so that the old
// master drops its copies first (keepalived's order).
type AddVIPs struct {
	Reason Reason
}

// RemoveVIPs: remove the virtual addresses (and routes/rules). Returned on
// leaving master, after any priority-0 advert.
type RemoveVIPs struct {
	Reason Reason
}

// Announce: start the gratuitous ARP / unsolicited NA burst for the VIPs
// (RFC 5798 §6.4.1, §6.4.2). garp_master_delay, _repeat and _refresh are the
// daemon's business. Always right after AddVIPs.
type Announce struct {
	Reason Reason
}

// RequestMaster: a sync-group member's Master_Down_Timer expired
// (Config.SyncGroup). It stays BACKUP and WantsMaster reports true until it
// accepts a master's advert; its timer restarts with Master_Down_Interval, so
// it asks again. The daemon sends ForceMaster to all members once every member
// WantsMaster (keepalived's vrrp_sync_can_goto_master).
type RequestMaster struct {
	Reason Reason
}

func (SendAdvert) isAction()    {}
func (Transition) isAction()    {}
func (AddVIPs) isAction()       {}
func (RemoveVIPs) isAction()    {}
func (Announce) isAction()      {}
func (RequestMaster) isAction() {}
