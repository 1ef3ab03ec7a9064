package check

import "fmt"

// Priority bounds (RFC 5798 §5.2.4): 255 is the address owner's and is
// never changed by tracking; a tracked (non-owner) router stays in 1..254.
const (
	PriorityOwner = 255
	PriorityMax   = 254 // highest priority a non-owner can reach
	PriorityMin   = 1   // lowest priority tracking can push a router to
)

// Kind names what a Ref tracks.
type Kind uint8

// Tracked object kinds.
const (
	KindScript Kind = iota + 1
	KindInterface
	KindFile
	KindProcess
	// KindCondition is a condition the daemon checks itself, not a
	// tracker the configuration names: unicast_fault_no_peer without
	// peers, a track_src_ip address missing. A Ref of this kind with
	// StateFailed and weight 0 holds the instance in FAULT; its Name is
	// the cause, in words.
	KindCondition
)

func (k Kind) String() string {
	switch k {
	case KindScript:
		return "script"
	case KindInterface:
		return "interface"
	case KindFile:
		return "track file"
	case KindProcess:
		return "process"
	case KindCondition:
		return "condition"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Ref is one tracked object as an instance (or its sync group) sees it:
// the instance's weight for it and the object's current state.
type Ref struct {
	Kind    Kind
	Name    string
	Weight  int  // keepalived's weight; 0 means "failure puts the instance in FAULT"
	Reverse bool // keepalived's reverse: the sense of the weight (or of the fault for weight 0) is inverted

	// State of a script (StateInit until its first decisive result);
	// for interfaces and processes StateOK means up / quorum held and
	// StateFailed means down / quorum lost. Unused for KindFile.
	State State
	// Value is the integer last read from a track file (KindFile only).
	Value int64
}

// ReasonCode is the typed cause of an effective priority or fault.
type ReasonCode uint8

// Reason codes.
const (
	ReasonNone      ReasonCode = iota // base priority, nothing tracked changes it
	ReasonOwner                       // priority 255: tracking never changes it
	ReasonWeight                      // a weighted tracker moved the priority
	ReasonDown                        // a weight-0 tracker is down (or up, with reverse): FAULT
	ReasonInit                        // a weight-0 script has not reported yet: FAULT until it does (the daemon tells no one of that FAULT, as keepalived)
	ReasonFileFault                   // a track file's weighted value reached -254 or less: FAULT
)

// Reason says why Priority returned what it did. Its String is the text for
// the log line, the notify event and vigilctl status.
type Reason struct {
	Code    ReasonCode
	Kind    Kind   // the tracker responsible (zero for ReasonNone/ReasonOwner)
	Name    string // its name
	Delta   int    // the weight it contributed (ReasonWeight)
	Value   int64  // the file value (KindFile)
	Reverse bool
	Others  int // further trackers that also contribute (ReasonWeight) or also fault (ReasonDown…)
}

func (r Reason) String() string {
	var s string
	switch r.Code {
	case ReasonNone:
		return "base priority"
	case ReasonOwner:
		return "address owner"
	case ReasonWeight:
		s = fmt.Sprintf("%s %s %s (%+d)", r.Kind, r.Name, r.stateWord(), r.Delta)
	case ReasonDown:
		if r.Kind == KindCondition {
			s = r.Name
			break
		}
		s = fmt.Sprintf("%s %s %s", r.Kind, r.Name, r.stateWord())
	case ReasonInit:
		s = fmt.Sprintf("%s %s has not reported yet", r.Kind, r.Name)
	case ReasonFileFault:
		s = fmt.Sprintf("track file %s value %d", r.Name, r.Value)
	default:
		return fmt.Sprintf("ReasonCode(%d)", uint8(r.Code))
	}
	if r.Others > 0 {
		s += fmt.Sprintf(" and %d more", r.Others)
	}
	return s
}

func (r Reason) stateWord() string {
	var w []string
	switch r.Kind {
	case KindInterface:
		w = []string{"up", "down"}
	case KindProcess:
		w = []string{"has quorum", "lost quorum"}
	case KindFile:
		return fmt.Sprintf("value %d", r.Value)
	default:
		w = []string{"succeeded", "failed"}
	}
	// Delta > 0 under no reverse means "up"; reverse flips the sense.
	up := r.Delta > 0
	if r.Code == ReasonDown {
		up = r.Reverse
	} else if r.Reverse {
		up = !up
	}
	if up {
		return w[0]
	}
	return w[1]
}

// Priority is keepalived's effective-priority arithmetic (vrrp_track.c):
//
//   - weight 0: a failed tracker (an up one with reverse) puts the instance
//     in FAULT; a script still in init holds it in FAULT until it reports;
//   - weight > 0: added when the tracker is up (subtracted, with reverse);
//   - weight < 0: added when the tracker is down (its magnitude added back,
//     with reverse);
//   - track file: value × weight (× -1 with reverse), capped at 253; -254 or
//     below is FAULT; with weight 0 a non-zero value (zero, with reverse) is
//     FAULT;
//   - the sum with base is clamped to 1..254; base 255 (owner) is returned
//     unchanged, though a weight-0 failure still faults it.
//
// reason names the first faulting tracker when fault is true, otherwise the
// first tracker that moved the priority (ReasonNone when none did).
func Priority(base uint8, refs []Ref) (effective uint8, fault bool, reason Reason) {
	total := int64(base)
	var faultR, weightR Reason
	nFault, nWeight := 0, 0
	for _, r := range refs {
		delta, code := contribution(r)
		switch code {
		case ReasonDown, ReasonInit, ReasonFileFault:
			if nFault == 0 {
				faultR = Reason{Code: code, Kind: r.Kind, Name: r.Name, Value: r.Value, Reverse: r.Reverse}
			}
			nFault++
		case ReasonWeight:
			total += delta
			if nWeight == 0 {
				weightR = Reason{Code: ReasonWeight, Kind: r.Kind, Name: r.Name, Delta: int(delta), Value: r.Value, Reverse: r.Reverse}
			}
			nWeight++
		}
	}
	switch {
	case base == PriorityOwner:
		effective = PriorityOwner
	case total < PriorityMin:
		effective = PriorityMin
	case total > PriorityMax:
		effective = PriorityMax
	default:
		effective = uint8(total)
	}
	switch {
	case nFault > 0:
		faultR.Others = nFault - 1
		return effective, true, faultR
	case base == PriorityOwner:
		return effective, false, Reason{Code: ReasonOwner}
	case nWeight > 0:
		weightR.Others = nWeight - 1
		return effective, false, weightR
	}
	return effective, false, Reason{Code: ReasonNone}
}

// contribution is one tracker's share: a priority delta (ReasonWeight), a
// fault code, or nothing (ReasonNone).
func contribution(r Ref) (int64, ReasonCode) {
	mult := int64(1)
	if r.Reverse {
		mult = -1
	}
	w := int64(r.Weight)
	if r.Kind == KindFile {
		if w == 0 {
			if (r.Value != 0) == !r.Reverse {
				return 0, ReasonFileFault
			}
			return 0, ReasonNone
		}
		s := satMul(satMul(r.Value, w), mult)
		if s <= -254 {
			return 0, ReasonFileFault
		}
		s = min(s, 253)
		if s == 0 {
			return 0, ReasonNone
		}
		return s, ReasonWeight
	}
	if w == 0 {
		switch {
		case r.State == StateInit && r.Kind == KindScript:
			return 0, ReasonInit
		case (r.State == StateOK) != !r.Reverse:
			return 0, ReasonDown
		}
		return 0, ReasonNone
	}
	up := r.State == StateOK
	switch {
	case r.State == StateInit:
		return 0, ReasonNone // no result yet: no adjustment either way
	case w > 0 && up, w < 0 && !up:
		return w * mult, ReasonWeight
	}
	return 0, ReasonNone
}

// satMul multiplies without wrapping, saturating at the int64 bounds.
func satMul(a, b int64) int64 {
	if a == 0 || b == 0 {
		return 0
	}
	p := a * b
	if p/b != a || (a == -1 && b == -1<<63) || (b == -1 && a == -1<<63) {
		if (a < 0) != (b < 0) {
			return -1 << 63
		}
		return 1<<63 - 1
	}
	return p
}
