package check

import (
	"slices"
	"strings"
	"time"
)

// ParamMatch is how a vrrp_track_process compares process arguments.
type ParamMatch uint8

// Argument matching modes (keepalived's param_match). With no parameters
// and ParamMatchNone only the name is compared; parameters given with
// ParamMatchNone mean ParamMatchExact.
const (
	ParamMatchNone    ParamMatch = iota
	ParamMatchExact              // the arguments are exactly Params (none, if Params is empty)
	ParamMatchPartial            // the first len(Params) arguments are exactly Params
	ParamMatchInitial            // as partial, but the last of Params may be a prefix of its argument
)

// ProcessSpec is the matching and quorum part of a vrrp_track_process.
type ProcessSpec struct {
	Process     string   // comm (the Name: in /proc/PID/status), or argv[0] with FullCommand
	Params      []string // arguments to match
	ParamMatch  ParamMatch
	FullCommand bool // match argv[0] of the command line rather than comm; implied by Params or ParamMatch

	Quorum         int           // fewest matching processes for quorum; < 1 means 1, unless QuorumMax is 0
	QuorumMax      int           // most matching processes for quorum; negative means no maximum; 0 means "must not run": the quorum is that none matches (keepalived's quorum_max 0, which sets quorum 0)
	ForkDelay      time.Duration // quorum gained must hold this long before it counts
	TerminateDelay time.Duration // quorum lost must hold this long before it counts
}

// Proc is one process as read from /proc.
type Proc struct {
	PID     int
	Comm    string   // /proc/PID/stat's second field
	Cmdline []string // /proc/PID/cmdline split at NULs
}

// Match reports whether p is one of the processes the spec counts.
func (s *ProcessSpec) Match(p Proc) bool {
	mode := s.ParamMatch
	if mode == ParamMatchNone && len(s.Params) > 0 {
		mode = ParamMatchExact
	}
	full := s.FullCommand || mode != ParamMatchNone
	name := p.Comm
	if full {
		if len(p.Cmdline) == 0 {
			return false // kernel threads and zombies have no command line
		}
		name = p.Cmdline[0]
	}
	if name != s.Process {
		return false
	}
	var args []string
	if len(p.Cmdline) > 0 {
		args = p.Cmdline[1:]
	}
	switch mode {
	case ParamMatchExact:
		return slices.Equal(args, s.Params)
	case ParamMatchPartial:
		return len(args) >= len(s.Params) && slices.Equal(args[:len(s.Params)], s.Params)
	case ParamMatchInitial:
		n := len(s.Params)
		if n == 0 {
			return true
		}
		return len(args) >= n && slices.Equal(args[:n-1], s.Params[:n-1]) && strings.HasPrefix(args[n-1], s.Params[n-1])
	}
	return true
}

// Count is the number of processes in ps that Match.
func (s *ProcessSpec) Count(ps []Proc) int {
	n := 0
	for _, p := range ps {
		if s.Match(p) {
			n++
		}
	}
	return n
}

// HasQuorum reports whether count processes make a quorum.
func (s *ProcessSpec) HasQuorum(count int) bool {
	if s.QuorumMax == 0 {
		return count == 0
	}
	return count >= max(s.Quorum, 1) && (s.QuorumMax < 0 || count <= s.QuorumMax)
}

// ProcessTracker debounces a process quorum with fork_delay and
// terminate_delay. Pure: the caller passes each count it observes and now.
// The first observation sets the state at once (as keepalived does at
// start); later gains and losses wait for their delay and are dropped if
// the count flips back before it expires.
type ProcessTracker struct {
	spec       ProcessSpec
	state      State
	count      int
	pending    bool
	pendingTo  State
	pendingEnd time.Time
}

// NewProcessTracker returns a tracker in StateInit.
func NewProcessTracker(spec ProcessSpec) *ProcessTracker {
	return &ProcessTracker{spec: spec}
}

// State is StateOK with quorum, StateFailed without, StateInit before the
// first observation.
func (p *ProcessTracker) State() State { return p.state }

// Count is the last observed number of matching processes.
func (p *ProcessTracker) Count() int { return p.count }

// Deadline is when a pending delay expires; false when nothing is pending.
func (p *ProcessTracker) Deadline() (time.Time, bool) { return p.pendingEnd, p.pending }

// Observe feeds the current count of matching processes.
func (p *ProcessTracker) Observe(count int, now time.Time) (Change, bool) {
	p.count = count
	want := StateFailed
	if p.spec.HasQuorum(count) {
		want = StateOK
	}
	if p.state == StateInit {
		return p.set(want, now)
	}
	if want == p.state {
		p.pending = false
		return Change{}, false
	}
	delay := p.spec.ForkDelay
	if want == StateFailed {
		delay = p.spec.TerminateDelay
	}
	if delay <= 0 {
		return p.set(want, now)
	}
	if !p.pending || p.pendingTo != want {
		p.pending, p.pendingTo, p.pendingEnd = true, want, now.Add(delay)
	}
	return p.Tick(now)
}

// Tick applies a pending change whose delay has expired by now.
func (p *ProcessTracker) Tick(now time.Time) (Change, bool) {
	if !p.pending || now.Before(p.pendingEnd) {
		return Change{}, false
	}
	return p.set(p.pendingTo, now)
}

func (p *ProcessTracker) set(s State, now time.Time) (Change, bool) {
	p.pending = false
	from := p.state
	p.state = s
	if from == s {
		return Change{}, false
	}
	return Change{From: from, To: s, Time: now}, true
}
