package ipvs

import (
	"fmt"
	"net/netip"
)

// Carried is the state of a running [Policy] that a reload keeps, by
// identity rather than by index (the indexes change with the file):
// each virtual server's quorum (by its name and family, as keepalived
// pairs virtual servers), each real server's alive state, whether it has
// been checked and its reported weight (by its virtual server and its
// address and port), and the addresses [VIPHeld] reported.
type Carried struct {
	quorum map[string]bool
	real   map[string]realState
	held   map[netip.Addr]bool
}

// identity names a virtual server across reloads: keepalived's name
// ("[192.0.2.1]:tcp:80", "FWM 3", "[GROUP]:k") and the address family.
func (v *VirtualServer) identity() string {
	if len(v.Services) == 0 {
		return v.Name
	}
	return v.Name + " " + v.Services[0].Key.Family.String()
}

func realIdentity(v *VirtualServer, r Real) string {
	return v.identity() + " " + netip.AddrPortFrom(r.Addr, r.Port).String()
}

// Carry returns the state a reload keeps. After Stop there is none.
func (p *Policy) Carry() Carried {
	c := Carried{quorum: map[string]bool{}, real: map[string]realState{}, held: map[netip.Addr]bool{}}
	if p.stopped {
		return c
	}
	for i, v := range p.spec.VirtualServers {
		c.quorum[v.identity()] = p.vs[i].quorumUp
		for j, r := range v.Real {
			c.real[realIdentity(v, r)] = p.vs[i].real[j]
		}
	}
	for a, h := range p.held {
		c.held[a] = h
	}
	return c
}

// NewCarried is [New] for a reload, as keepalived reloads: a virtual
// server that was running keeps its quorum state and its real servers
// their alive state, check history and reported weight, so nothing is
// notified again; its quorum is then evaluated once, and a change (a new
// quorum or weight, a real server added or gone) is reported as any
// change is. A virtual server new in spec starts as in New. Addresses
// reported held stay held.
func NewCarried(spec *Spec, c Carried) (*Policy, []Action) {
	p := &Policy{spec: spec, vs: make([]vsState, len(spec.VirtualServers)), held: map[netip.Addr]bool{}}
	for a, h := range c.held {
		p.held[a] = h
	}
	var acts []Action
	for i, v := range spec.VirtualServers {
		st := &p.vs[i]
		st.real = make([]realState, len(v.Real))
		for j, r := range v.Real {
			st.real[j].alive = !r.Alpha
			if rs, ok := c.real[realIdentity(v, r)]; ok {
				st.real[j] = rs
			} else if spec.RSInitNotifies && !r.Alpha {
				acts = append(acts, Action{Kind: RealUp, Cause: CauseStart, VS: i, RS: j, Script: r.NotifyUp,
					Msg: fmt.Sprintf("Service %s of VS %s starts up", v.RealName(j), v.Name)})
			}
		}
		up, ok := c.quorum[v.identity()]
		if !ok {
			acts = p.quorum(acts, i, CauseStart)
			continue
		}
		st.quorumUp = up
		st.sorryActive = !up && v.Sorry != nil
		acts = p.quorum(acts, i, CauseCheck)
	}
	return p, acts
}
