package ipvs

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-ha/vigil/config"
)

// Spec is what a configuration asks of IPVS, before any health is known:
// the virtual servers in file order, each expanded into the services it
// programs. [Build] makes one; [New] runs keepalived's policy over it.
type Spec struct {
	// Flush is lvs_flush: empty the whole table (foreign services too)
	// once, at the first start.
	Flush bool
	// Timeouts is lvs_timeouts (all zero when absent): the daemon reads the
	// kernel's values first (to restore them at stop) and sets these.
	Timeouts       Timeouts
	VirtualServers []*VirtualServer
	// RSInitNotifies is rs_init_notifies: the real servers that start up
	// (not alpha) are notified (notify_up, FIFO RS UP) when the policy is
	// built, as keepalived does; without it only changes are.
	RSInitNotifies bool
}

// VirtualServer is one virtual_server block.
type VirtualServer struct {
	Pos config.Pos
	// Name is keepalived's name for it: "[192.0.2.1]:tcp:80", "FWM 3",
	// "[GROUP]:k" (k counts the virtual servers using that group).
	Name string
	// Services are the kernel services it programs, without destinations
	// (one per address of a virtual_server_group range, one per fwmark
	// entry, or just one), each with the scheduling parameters.
	Services []Service
	// Real are the real servers in file order; [RealRef.RS] indexes them.
	Real []Real
	// Sorry is the sorry_server, nil without one.
	Sorry *Real

	Quorum, Hysteresis   int
	QuorumUp, QuorumDown *config.Command
	Omega                bool
	// HASuspend freezes the real servers' health while no VIPHeld event
	// says the virtual address is held (see [VIPHeld]).
	HASuspend bool
	Addr      netip.Addr // the virtual address (ha_suspend); invalid for fwmark/group
}

// Real is a real_server (or the sorry_server) as the policy needs it.
type Real struct {
	// Source is the real_server block it came from (nil for the sorry
	// server).
	Source *config.RealServer
	Pos    config.Pos
	Addr   netip.Addr
	Port   uint16 // as configured; the port in the kernel depends on the method, see destFor
	Method Method
	// TunnelType, TunnelPort, TunnelFlags: see [Dest].
	TunnelType             TunnelType
	TunnelPort             uint16
	TunnelFlags            uint16
	Weight                 int // configured weight (the sorry server's is 1)
	UThreshold, LThreshold uint32
	Inhibit                bool // inhibit_on_failure (sorry_server_inhibit for the sorry server)
	Alpha                  bool // starts down until a check succeeds
	NotifyUp, NotifyDown   *config.Command
}

// Complaint is something config accepted that IPVS cannot be given as
// written; Fallback says what vigil does instead.
type Complaint struct {
	Pos      config.Pos
	Msg      string
	Fallback string
}

// Error returns "file:line:col: ipvs: msg (fallback)".
func (c Complaint) Error() string {
	return c.Pos.String() + ": ipvs: " + c.Msg + " (" + c.Fallback + ")"
}

// RefOf returns the [RealRef] of a real_server block of the configuration
// the Spec was built from: how the checker side names the real server it
// checks.
func (s *Spec) RefOf(r *config.RealServer) (RealRef, bool) {
	for i, v := range s.VirtualServers {
		for j := range v.Real {
			if v.Real[j].Source == r {
				return RealRef{VS: i, RS: j}, true
			}
		}
	}
	return RealRef{}, false
}

// Refs is RefOf for every real server at once: each real_server block of
// the configuration that Build kept, mapped to its [RealRef].
func (s *Spec) Refs() map[*config.RealServer]RealRef {
	n := 0
	for _, v := range s.VirtualServers {
		n += len(v.Real)
	}
	out := make(map[*config.RealServer]RealRef, n)
	for i, v := range s.VirtualServers {
		for j := range v.Real {
			if src := v.Real[j].Source; src != nil {
				if _, dup := out[src]; !dup { // the first, as RefOf
					out[src] = RealRef{VS: i, RS: j}
				}
			}
		}
	}
	return out
}

// maxGroupServices bounds the services one virtual_server_group may expand
// into, so that a typo in a range cannot make millions of services.
const maxGroupServices = 65536

// Build translates a resolved configuration into a Spec. It is pure. The
// complaints are about what config leaves to the IPVS layer (a
// persistence_granularity the kernel cannot take, a service that two
// virtual servers both claim, ...); everything config rejects (unknown
// scheduler or forwarding method) has already been reported by config.
func Build(c *config.Config) (*Spec, []Complaint) {
	b := &builder{seen: map[ServiceKey]string{}}
	t := c.Global.LVSTimeouts
	spec := &Spec{Flush: c.Global.LVSFlush, RSInitNotifies: c.Global.RSInitNotifies, Timeouts: Timeouts{TCP: uint32(t.TCP), TCPFin: uint32(t.TCPFin), UDP: uint32(t.UDP)}}
	groupUse := map[string]int{}
	for _, v := range c.VirtualServers {
		vs := b.virtualServer(c, v, groupUse)
		if vs != nil {
			spec.VirtualServers = append(spec.VirtualServers, vs)
		}
	}
	return spec, b.complaints
}

type builder struct {
	seen       map[ServiceKey]string // key -> name of the virtual server that has it
	complaints []Complaint
}

func (b *builder) complain(pos config.Pos, fallback, format string, args ...any) {
	b.complaints = append(b.complaints, Complaint{Pos: pos, Msg: fmt.Sprintf(format, args...), Fallback: fallback})
}

var protocols = map[string]Protocol{"TCP": TCP, "UDP": UDP, "SCTP": SCTP}
var methods = map[string]Method{"NAT": NAT, "DR": DR, "TUN": TUN}
var tunnelTypes = map[string]TunnelType{"": IPIP, "ipip": IPIP, "gue": GUE, "gre": GRE}
var tunnelCsums = map[string]uint16{"": TunnelNoCsum, "nocsum": TunnelNoCsum, "csum": TunnelCsum, "remcsum": TunnelRemCsum}
var schedFlags = map[string]uint32{"flag-1": FlagSched1, "sh-fallback": FlagSched1, "mh-fallback": FlagSched1,
	"flag-2": FlagSched2, "sh-port": FlagSched2, "mh-port": FlagSched2, "flag-3": FlagSched3}

func (b *builder) virtualServer(c *config.Config, v *config.VirtualServer, groupUse map[string]int) *VirtualServer {
	vs := &VirtualServer{Pos: v.Pos, Quorum: v.Quorum, Hysteresis: v.Hysteresis, QuorumUp: v.QuorumUp,
		QuorumDown: v.QuorumDown, Omega: v.Omega, HASuspend: v.HASuspend}
	proto := protocols[v.Protocol]
	persist := v.Persistence
	// The family of a fwmark service: from its first non-tunnelled real
	// server (or sorry server), else ip_family, else IPv4.
	markFamily := IPv4
	switch {
	case v.IPFamily == "inet6":
		markFamily = IPv6
	}
	for _, r := range append(append([]*config.RealServer(nil), v.RealServers...), v.SorryServer) {
		if r != nil && r.Method != "TUN" {
			markFamily = familyOf(r.Addr)
			break
		}
	}
	type entry struct {
		key  ServiceKey
		port uint16 // the port DR/TUN destinations get
	}
	var entries []entry
	switch {
	case v.IsFWMark:
		vs.Name = "FWM " + strconv.FormatUint(uint64(v.FWMark), 10)
		entries = append(entries, entry{key: ServiceKey{Family: markFamily, FWMark: v.FWMark}})
	case v.Group != "":
		g := c.VirtualServerGroups[v.Group]
		vs.Name = "[" + v.Group + "]:" + strconv.Itoa(groupUse[v.Group])
		groupUse[v.Group]++
		for _, e := range g.Entries {
			if e.IsFWMark {
				f := markFamily
				switch e.Family {
				case "inet":
					f = IPv4
				case "inet6":
					f = IPv6
				}
				entries = append(entries, entry{key: ServiceKey{Family: f, FWMark: e.FWMark}})
				continue
			}
			addrs, ok := expandRange(e)
			if !ok {
				b.complain(e.Pos, "entry skipped", "virtual_server_group %s: range %s-%x ends before it starts", g.Name, e.Addr, e.RangeEnd)
				continue
			}
			if len(entries)+len(addrs) > maxGroupServices {
				b.complain(e.Pos, "entry skipped", "virtual_server_group %s expands into more than %d services", g.Name, maxGroupServices)
				continue
			}
			if e.Port == 0 && persist == 0 {
				b.complain(e.Pos, "persistence_timeout 360", "virtual server %s: zero port only valid for persistent services", vs.Name)
				persist = 360 * time.Second
			}
			for _, a := range addrs {
				entries = append(entries, entry{key: ServiceKey{Family: familyOf(a), Protocol: proto, Addr: a, Port: uint16(e.Port)}, port: uint16(e.Port)})
			}
		}
	default:
		vs.Addr = v.Addr
		k := ServiceKey{Family: familyOf(v.Addr), Protocol: proto, Addr: v.Addr, Port: uint16(v.Port)}
		vs.Name = k.String()
		entries = append(entries, entry{key: k, port: uint16(v.Port)})
	}

	// Scheduling parameters, shared by every service of the virtual server.
	// persistence_engine is not programmed (config marks it not
	// implemented: github.com/cloudflare/ipvs has no IPVS_SVC_ATTR_PE_NAME).
	params := Service{Scheduler: v.Scheduler}
	for _, f := range v.SchedFlags {
		params.Flags |= schedFlags[f]
	}
	if v.Ops {
		params.Flags |= FlagOnePacket
	}
	var mask4, mask6 uint32 = DefaultNetmask(IPv4), DefaultNetmask(IPv6)
	if g := v.PersistenceGranularity; g != "" {
		m4, m6, ok := parseGranularity(g)
		if !ok {
			b.complain(v.Pos, "persistence_granularity ignored", "virtual server %s: persistence_granularity %q is neither an IPv4 netmask nor an IPv6 prefix length 1..128", vs.Name, g)
		} else {
			mask4, mask6 = m4, m6
			if persist == 0 {
				persist = 360 * time.Second
			}
		}
	}
	if persist > 0 {
		params.Flags |= FlagPersistent
		params.TimeoutSecs = uint32(persist / time.Second)
	}

	for _, e := range entries {
		if other, dup := b.seen[e.key]; dup {
			b.complain(v.Pos, "service skipped", "virtual server %s: service %s is already programmed by virtual server %s", vs.Name, e.key, other)
			continue
		}
		b.seen[e.key] = vs.Name
		s := params
		s.Key = e.key
		s.Netmask = mask4
		if e.key.Family == IPv6 {
			s.Netmask = mask6
		}
		vs.Services = append(vs.Services, s)
	}
	if len(vs.Services) == 0 {
		return nil
	}
	for _, r := range v.RealServers {
		vs.Real = append(vs.Real, b.real(vs, v, r, r.InhibitOnFailure, r.Alpha))
	}
	if s := v.SorryServer; s != nil {
		sr := b.real(vs, v, s, v.SorryServerInhibit, false)
		sr.Weight, sr.Source = 1, nil
		vs.Sorry = &sr
	}
	all := append([]Real(nil), vs.Real...)
	if vs.Sorry != nil {
		all = append(all, *vs.Sorry)
	}
	for _, r := range all {
		for _, svc := range vs.Services {
			if r.Method != TUN && familyOf(r.Addr) != svc.Key.Family {
				b.complain(r.Pos, "not added to "+svc.Key.String(), "virtual server %s: real server %s is %s, service %s is %s (only TUN may mix families)",
					vs.Name, r.Addr, familyOf(r.Addr), svc.Key, svc.Key.Family)
			}
		}
	}
	return vs
}

func (b *builder) real(vs *VirtualServer, v *config.VirtualServer, r *config.RealServer, inhibit, alpha bool) Real {
	out := Real{Source: r, Pos: r.Pos, Addr: r.Addr, Port: uint16(r.Port), Method: methods[r.Method], Weight: r.Weight,
		UThreshold: uint32(r.UThreshold), LThreshold: uint32(r.LThreshold), Inhibit: inhibit, Alpha: alpha,
		NotifyUp: r.NotifyUp, NotifyDown: r.NotifyDown}
	if out.Method == TUN {
		out.TunnelType = tunnelTypes[r.Tunnel.Type]
		out.TunnelPort = uint16(r.Tunnel.Port)
		out.TunnelFlags = tunnelCsums[r.Tunnel.Csum]
	}
	if out.Method != NAT && v.Group == "" && !v.IsFWMark && int(out.Port) != v.Port {
		b.complain(r.Pos, "port "+strconv.Itoa(v.Port), "virtual server %s: real server [%s]:%d is not NAT, so its port must be the virtual server's", vs.Name, r.Addr, r.Port)
		out.Port = uint16(v.Port)
	}
	return out
}

// expandRange lists the addresses of a group entry: one, or the range
// "a.b.c.d-e" over the last byte (IPv6: the last 16-bit group).
func expandRange(e config.VSGEntry) ([]netip.Addr, bool) {
	if e.RangeEnd == 0 {
		return []netip.Addr{e.Addr}, true
	}
	b := e.Addr.As16()
	start := int(b[14])<<8 | int(b[15])
	if e.Addr.Is4() {
		start = int(b[15])
	}
	if e.RangeEnd < start {
		return nil, false
	}
	out := make([]netip.Addr, 0, e.RangeEnd-start+1)
	for i := start; i <= e.RangeEnd; i++ {
		if e.Addr.Is4() {
			a := e.Addr.As4()
			a[3] = byte(i)
			out = append(out, netip.AddrFrom4(a))
			continue
		}
		b[14], b[15] = byte(i>>8), byte(i)
		out = append(out, netip.AddrFrom16(b).WithZone(e.Addr.Zone()))
	}
	return out, true
}

// parseGranularity reads persistence_granularity: an IPv4 dotted mask
// (non-contiguous allowed) or an IPv6 prefix length 1..128 (optionally
// written "/N"). It returns the netmask for IPv4 and IPv6 services.
func parseGranularity(s string) (uint32, uint32, bool) {
	if a, err := netip.ParseAddr(s); err == nil && a.Is4() {
		m := a.As4()
		return uint32(m[0])<<24 | uint32(m[1])<<16 | uint32(m[2])<<8 | uint32(m[3]), DefaultNetmask(IPv6), true
	}
	n, err := strconv.Atoi(strings.TrimPrefix(s, "/"))
	if err != nil || n < 1 || n > 128 {
		return 0, 0, false
	}
	return DefaultNetmask(IPv4), uint32(n), true
}
