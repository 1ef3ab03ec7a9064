package vrrp

import "strconv"

// Reason says why the Machine did something. Every Transition and every other
// Action carries one, and so do the events that come from outside (SetPriority,
// Fault, ForceBackup, ForceMaster). One value feeds the log line, the notify
// call, the metric label and `vigilctl status`.
//
// The zero value ReasonNone never appears on an Action the Machine returns.
type Reason uint8

// The reasons. String gives a short snake_case word, stable for metric labels.
const (
	// ReasonNone is the zero value: no reason given.
	ReasonNone Reason = iota
	// ReasonStartup: the Startup event (INIT -> BACKUP, or INIT -> FAULT).
	ReasonStartup
	// ReasonOwner: priority 255, the address owner, goes to MASTER at once
	// (RFC 5798 §6.4.1).
	ReasonOwner
	// ReasonMasterDown: Master_Down_Timer expired with no advert from a master
	// (RFC 5798 §6.4.2).
	ReasonMasterDown
	// ReasonPriorityZero: the master announced it is leaving with a priority-0
	// advert; a backup takes over after Skew_Time, a master answers with an
	// advert (RFC 5798 §6.4.2, §6.4.3).
	ReasonPriorityZero
	// ReasonHigherPriority: a master heard an advert with a higher priority and
	// steps down (RFC 5798 §6.4.3).
	ReasonHigherPriority
	// ReasonHigherAddress: a master heard an advert with its own priority from a
	// higher primary address and steps down (RFC 5798 §6.4.3).
	ReasonHigherAddress
	// ReasonPreempt: a backup discarded adverts from a lower-priority master and
	// its Master_Down_Timer expired (RFC 5798 §6.4.2, Preempt_Mode).
	ReasonPreempt
	// ReasonFault: entering FAULT for an unspecified cause (keepalived).
	ReasonFault
	// ReasonFaultCleared: leaving FAULT (keepalived).
	ReasonFaultCleared
	// ReasonShutdown: the Shutdown event (RFC 5798 §6.4.2, §6.4.3).
	ReasonShutdown
	// ReasonLowerPriorityAdvert: a master heard a lower-priority advert and
	// sends one of its own at once to end the other's mastership (keepalived,
	// unless lower_prio_no_advert).
	ReasonLowerPriorityAdvert
	// ReasonPreemptDelay: like ReasonPreempt, after keepalived's preempt_delay
	// had run out.
	ReasonPreemptDelay
	// ReasonForced: a vrrp_sync_group pulled this instance along (ForceBackup,
	// ForceMaster, or a Fault the daemon posts on behalf of the group).
	ReasonForced
	// ReasonAdvertTimer: the master's Adver_Timer expired (RFC 5798 §6.4.3).
	ReasonAdvertTimer
	// ReasonInterfaceDown: a tracked interface (or the instance's own) went down.
	ReasonInterfaceDown
	// ReasonTrackScript: a tracked script changed result.
	ReasonTrackScript
	// ReasonTrackFile: a tracked file changed value.
	ReasonTrackFile
	// ReasonTracking: the effective priority changed for a tracking cause not
	// listed above.
	ReasonTracking
	// ReasonReload: a configuration reload changed the instance.
	ReasonReload
	// ReasonVIPRemoved: a virtual address was removed from the host behind a
	// master's back (VIPRemoved): it released MASTER to take it back.
	ReasonVIPRemoved
	// ReasonDemote: an operator demoted the master (vigilctl demote): it
	// handed over with a priority-0 advert (Release).
	ReasonDemote
	// ReasonMaintenance: an operator put the instance in maintenance
	// (vigilctl maintenance on); a master handed over as on demote.
	ReasonMaintenance
	// ReasonPromote: an operator lifted a demotion or maintenance
	// (vigilctl promote, maintenance off).
	ReasonPromote
	// ReasonArbiter: the arbitration over the sync link (conntrack_sync's
	// heartbeat) asked a master to hand over (Release) because its peer's
	// segments are healthier, or that it is the loser of a split.
	ReasonArbiter
	numReasons
)

var reasonNames = [...]string{
	ReasonNone:                "none",
	ReasonStartup:             "startup",
	ReasonOwner:               "owner",
	ReasonMasterDown:          "master_down",
	ReasonPriorityZero:        "priority_zero",
	ReasonHigherPriority:      "higher_priority",
	ReasonHigherAddress:       "higher_address",
	ReasonPreempt:             "preempt",
	ReasonFault:               "fault",
	ReasonFaultCleared:        "fault_cleared",
	ReasonShutdown:            "shutdown",
	ReasonLowerPriorityAdvert: "lower_priority_advert",
	ReasonPreemptDelay:        "preempt_delay",
	ReasonForced:              "forced",
	ReasonAdvertTimer:         "advert_timer",
	ReasonInterfaceDown:       "interface_down",
	ReasonTrackScript:         "track_script",
	ReasonTrackFile:           "track_file",
	ReasonTracking:            "tracking",
	ReasonReload:              "reload",
	ReasonVIPRemoved:          "vip_removed",
	ReasonDemote:              "demote",
	ReasonMaintenance:         "maintenance",
	ReasonPromote:             "promote",
	ReasonArbiter:             "arbiter",
}

// String returns the reason's snake_case word, or "Reason(n)" for a value
// outside the enumeration.
func (r Reason) String() string {
	if r < numReasons {
		return reasonNames[r]
	}
	return "Reason(" + strconv.Itoa(int(r)) + ")"
}
