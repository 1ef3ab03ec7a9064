package ipvs

import (
	"fmt"
	"math"
	"net/netip"

	"github.com/vigil-ha/vigil/config"
)

// RealRef names a real server: VS indexes Spec.VirtualServers, RS indexes
// that virtual server's Real.
type RealRef struct{ VS, RS int }

// Health is one real server's result from its checkers, as the checker
// side reports it (all checkers of the real server ANDed).
type Health struct {
	Up bool
	// Weight, when HasWeight, replaces the configured weight: MISC_CHECK
	// with misc_dynamic reports an exit status 2..255 as weight status-2.
	Weight    int
	HasWeight bool
}

// Event is an input of the [Policy]: [HealthChanged], [VIPHeld] or [Stop].
type Event interface{ isEvent() }

// HealthChanged reports a real server's health. Reporting the same health
// again is harmless.
type HealthChanged struct {
	Ref    RealRef
	Health Health
}

// VIPHeld reports whether a local interface holds Addr (the daemon sends
// it when the VRRP instance owning the address gains or loses it). It
// matters only to virtual servers with ha_suspend.
type VIPHeld struct {
	Addr netip.Addr
	Held bool
}

// Stop is the daemon shutting down: every service goes, and with omega the
// stop notifications are emitted. ServicesOnly is lvs_flush_on_stop (VS
// or bare): the services are deleted whole, so omega notifies them only,
// not their real servers.
type Stop struct{ ServicesOnly bool }

func (HealthChanged) isEvent() {}
func (VIPHeld) isEvent()       {}
func (Stop) isEvent()          {}

// Kind says what an [Action] reports.
type Kind int

// The transitions the policy reports.
const (
	// RealUp: a real server became alive (notify_up).
	RealUp Kind = iota + 1
	// RealDown: a real server went down (notify_down); also an alpha real
	// server's first failed check, and at Stop with omega.
	RealDown
	// QuorumGained: the alive weight reached quorum+hysteresis (quorum_up).
	QuorumGained
	// QuorumLost: it fell below quorum-hysteresis (quorum_down), or the
	// start found it short with a sorry server configured, or Stop with
	// omega.
	QuorumLost
)

// String names the kind.
func (k Kind) String() string {
	switch k {
	case RealUp:
		return "real server up"
	case RealDown:
		return "real server down"
	case QuorumGained:
		return "quorum gained"
	case QuorumLost:
		return "quorum lost"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Cause is why an [Action] happened.
type Cause int

// Causes.
const (
	CauseCheck Cause = iota + 1 // a health report
	CauseStart                  // the initial evaluation
	CauseStop                   // shutdown (omega)
)

// Action is an output of the [Policy]: a transition to log and notify.
// Script, when non-nil, is the configured notify_up / notify_down /
// quorum_up / quorum_down command, to run with only its own arguments.
type Action struct {
	Kind   Kind
	Cause  Cause
	VS     int
	RS     int // -1 for quorum actions
	Script *config.Command
	// Msg is the log line, in keepalived's words.
	Msg string
	// Threshold and Weight, for quorum actions other than at Stop: the
	// threshold the alive weight was held against (quorum plus or minus
	// hysteresis) and that weight, as keepalived's quorum mail gives them.
	Threshold, Weight int64
}

type realState struct {
	alive, hasRun bool
	dyn           int
	hasDyn        bool
}

type vsState struct {
	quorumUp, sorryActive bool
	real                  []realState
}

// Policy is keepalived's IPVS policy as a pure core: it keeps every real
// server's alive state and every virtual server's quorum, and from them
// computes the desired table ([Policy.Table]) and the notifications
// ([Action]). It does no I/O and reads no clock; the daemon feeds it
// events and programs the table with a [Reconciler].
type Policy struct {
	spec    *Spec
	vs      []vsState
	held    map[netip.Addr]bool
	stopped bool
}

// New starts the policy: non-alpha real servers alive, alpha ones down,
// then each virtual server's quorum evaluated as keepalived does at start.
// The returned actions are the start-up transitions (quorum_up for every
// virtual server that has quorum; quorum_down only where a sorry server is
// configured).
func New(spec *Spec) (*Policy, []Action) {
	return NewCarried(spec, Carried{})
}

// Handle applies one event and returns the transitions it caused.
func (p *Policy) Handle(ev Event) []Action {
	if p.stopped {
		return nil
	}
	switch ev := ev.(type) {
	case HealthChanged:
		return p.health(ev)
	case VIPHeld:
		p.held[ev.Addr] = ev.Held
		return nil
	case Stop:
		return p.stop(ev.ServicesOnly)
	}
	panic(fmt.Sprintf("ipvs: unknown event %T", ev))
}

func (p *Policy) health(ev HealthChanged) []Action {
	if ev.Ref.VS < 0 || ev.Ref.VS >= len(p.vs) || ev.Ref.RS < 0 || ev.Ref.RS >= len(p.vs[ev.Ref.VS].real) {
		return nil
	}
	v := p.spec.VirtualServers[ev.Ref.VS]
	if v.HASuspend && !p.held[v.Addr] {
		// Suspended checkers: state frozen until the address is held.
		return nil
	}
	st := &p.vs[ev.Ref.VS]
	rs := &st.real[ev.Ref.RS]
	r := v.Real[ev.Ref.RS]
	first := !rs.hasRun
	rs.hasRun = true
	rs.dyn, rs.hasDyn = ev.Health.Weight, ev.Health.HasWeight
	var acts []Action
	name := func() string { return v.RealName(ev.Ref.RS) } // only for a change: a reload feeds every real server
	switch {
	case ev.Health.Up && !rs.alive:
		rs.alive = true
		verb := "Adding service %s to VS %s"
		if r.Inhibit {
			verb = "Enabling service %s of VS %s"
		}
		acts = append(acts, Action{Kind: RealUp, Cause: CauseCheck, VS: ev.Ref.VS, RS: ev.Ref.RS, Script: r.NotifyUp, Msg: fmt.Sprintf(verb, name(), v.Name)})
	case !ev.Health.Up && rs.alive:
		rs.alive = false
		verb := "Removing service %s from VS %s"
		if r.Inhibit {
			verb = "Disabling service %s of VS %s"
		}
		acts = append(acts, Action{Kind: RealDown, Cause: CauseCheck, VS: ev.Ref.VS, RS: ev.Ref.RS, Script: r.NotifyDown, Msg: fmt.Sprintf(verb, name(), v.Name)})
	case !ev.Health.Up && first:
		// An alpha real server's first result is a failure: it was never
		// added, but keepalived still runs notify_down once.
		acts = append(acts, Action{Kind: RealDown, Cause: CauseCheck, VS: ev.Ref.VS, RS: ev.Ref.RS, Script: r.NotifyDown, Msg: fmt.Sprintf("Service %s of VS %s starts down", name(), v.Name)})
	}
	return p.quorum(acts, ev.Ref.VS, CauseCheck)
}

// RealName is keepalived's name for v's real server i in its log lines
// and FIFO lines: "[198.51.100.11]:tcp:8080".
func (v *VirtualServer) RealName(i int) string {
	r := v.Real[i]
	return fmt.Sprintf("[%s]:%s:%d", r.Addr, v.protoName(), r.Port)
}

func (v *VirtualServer) protoName() string {
	if len(v.Services) == 0 {
		return "none"
	}
	return v.Services[0].Key.Protocol.String()
}

// aliveWeight is the sum of the alive real servers' effective weights.
func (p *Policy) aliveWeight(i int) int64 {
	var s int64
	for j, rs := range p.vs[i].real {
		if rs.alive {
			s += int64(p.weight(i, j))
		}
	}
	return s
}

// weight is a real server's effective weight, clamped to what the kernel
// takes.
func (p *Policy) weight(i, j int) uint32 {
	rs := p.vs[i].real[j]
	w := p.spec.VirtualServers[i].Real[j].Weight
	if rs.hasDyn {
		w = rs.dyn
	}
	return uint32(min(max(w, 0), math.MaxInt32))
}

// quorum re-evaluates virtual server i's quorum (keepalived's
// update_quorum_state) and appends the transition, if any.
func (p *Policy) quorum(acts []Action, i int, cause Cause) []Action {
	v := p.spec.VirtualServers[i]
	st := &p.vs[i]
	q, h := int64(v.Quorum), int64(v.Hysteresis)
	s := p.aliveWeight(i)
	if st.quorumUp {
		if s == 0 || s < q-h {
			st.quorumUp = false
			st.sorryActive = v.Sorry != nil
			acts = append(acts, Action{Kind: QuorumLost, Cause: cause, VS: i, RS: -1, Script: v.QuorumDown,
				Msg: fmt.Sprintf("Lost quorum %d-%d=%d > %d for VS %s", q, h, q-h, s, v.Name), Threshold: q - h, Weight: s})
		}
		return acts
	}
	if s >= q+h && s > 0 {
		st.quorumUp = true
		st.sorryActive = false
		return append(acts, Action{Kind: QuorumGained, Cause: cause, VS: i, RS: -1, Script: v.QuorumUp,
			Msg: fmt.Sprintf("Gained quorum %d+%d=%d <= %d for VS %s", q, h, q+h, s, v.Name), Threshold: q + h, Weight: s})
	}
	if cause == CauseStart && v.Sorry != nil {
		st.sorryActive = true
		return append(acts, Action{Kind: QuorumLost, Cause: cause, VS: i, RS: -1, Script: v.QuorumDown,
			Msg: fmt.Sprintf("Starting with quorum down %d+%d=%d > %d for VS %s", q, h, q+h, s, v.Name), Threshold: q + h, Weight: s})
	}
	return acts
}

func (p *Policy) stop(servicesOnly bool) []Action {
	p.stopped = true
	var acts []Action
	for i, v := range p.spec.VirtualServers {
		if !v.Omega {
			continue
		}
		for j, rs := range p.vs[i].real {
			if rs.alive && !servicesOnly {
				r := v.Real[j]
				acts = append(acts, Action{Kind: RealDown, Cause: CauseStop, VS: i, RS: j, Script: r.NotifyDown,
					Msg: fmt.Sprintf("Shutting down service %s from VS %s", v.RealName(j), v.Name)})
			}
		}
		if p.vs[i].quorumUp {
			acts = append(acts, Action{Kind: QuorumLost, Cause: CauseStop, VS: i, RS: -1, Script: v.QuorumDown,
				Msg: "Shutting down VS " + v.Name})
		}
	}
	return acts
}

// Alive reports whether the real server counts as up.
func (p *Policy) Alive(r RealRef) bool { return p.vs[r.VS].real[r.RS].alive }

// QuorumUp reports whether virtual server i has quorum.
func (p *Policy) QuorumUp(i int) bool { return p.vs[i].quorumUp }

// SorryActive reports whether virtual server i's sorry server replaces
// its real servers (quorum lost).
func (p *Policy) SorryActive(i int) bool { return p.vs[i].sorryActive }

// Suspended reports whether virtual server i has ha_suspend and no
// [VIPHeld] says its address is held: its health reports are ignored.
func (p *Policy) Suspended(i int) bool {
	v := p.spec.VirtualServers[i]
	return v.HASuspend && !p.held[v.Addr]
}

// Table computes the desired IPVS table: for every service of every
// virtual server, the alive real servers with their effective weight,
// failed ones with inhibit_on_failure at weight 0, and, while quorum is
// lost and a sorry server is configured, the sorry server (weight 1)
// instead of the real servers. After Stop it is empty.
func (p *Policy) Table() Table {
	t := Table{}
	if p.stopped {
		return t
	}
	for i, v := range p.spec.VirtualServers {
		st := &p.vs[i]
		for _, svc := range v.Services {
			s := svc.Clone()
			for j, r := range v.Real {
				rs := st.real[j]
				switch {
				case st.sorryActive && r.Inhibit, !st.sorryActive && !rs.alive && r.Inhibit:
					addDest(s, r, 0)
				case !st.sorryActive && rs.alive:
					addDest(s, r, p.weight(i, j))
				}
			}
			if so := v.Sorry; so != nil {
				switch {
				case st.sorryActive:
					addDest(s, *so, 1)
				case so.Inhibit:
					if _, shared := s.Dests[destFor(s.Key, *so, 0).Key()]; !shared {
						addDest(s, *so, 0)
					}
				}
			}
			t[s.Key] = s
		}
	}
	return t
}

// destFor is the destination r becomes in the service with key k: NAT
// keeps the real server's port; DR and TUN take the service's port (0 for
// a fwmark service), as the kernel forwards without changing it.
func destFor(k ServiceKey, r Real, weight uint32) Dest {
	d := Dest{Addr: r.Addr, Port: r.Port, Method: r.Method, Weight: weight, UThreshold: r.UThreshold, LThreshold: r.LThreshold,
		TunnelType: r.TunnelType, TunnelPort: r.TunnelPort, TunnelFlags: r.TunnelFlags}
	if r.Method != NAT {
		d.Port = k.Port
	}
	return d.Normalize()
}

// addDest adds r to s, unless their families differ and r is not
// tunnelled (Build has complained about it).
func addDest(s *Service, r Real, weight uint32) {
	if r.Method != TUN && familyOf(r.Addr) != s.Key.Family {
		return
	}
	d := destFor(s.Key, r, weight)
	s.Dests[d.Key()] = d
}
