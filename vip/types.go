package vip

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Sentinel errors callers branch on. Errors returned by this package wrap
// them with the address or route and interface they concern.
var (
	// ErrNoDevice: the named interface does not exist (yet).
	ErrNoDevice = errors.New("no such interface")
	// ErrNoSource: a route's preferred source address is not (yet) a local
	// address; the kernel would refuse the route.
	ErrNoSource = errors.New("source address not present")
	// ErrConflict: the kernel holds an entry with the same identity but other
	// attributes (an IPv6 address with another prefix length, or a route
	// with the same destination, table and metric but another next hop).
	// vip never overwrites what it did not create.
	ErrConflict = errors.New("conflicting entry present")
	// ErrInvalid: the entry itself is malformed (bad scope, label too
	// long, mixed address families, ...).
	ErrInvalid = errors.New("invalid entry")
)

// Address is one virtual_ipaddress (or virtual_ipaddress_excluded) line.
// Defaults (a bare address meaning /32 or /128, the instance's interface as
// Dev) are the caller's job; vip takes every field literally.
type Address struct {
	// Prefix is the local address and its prefix length.
	Prefix netip.Prefix
	// Dev is the interface the address goes on.
	Dev string
	// Broadcast is an explicit IPv4 broadcast address ("brd A.B.C.D").
	Broadcast netip.Addr
	// BroadcastAuto computes the broadcast address from the prefix
	// ("brd +"); ignored for /31, /32 and IPv6. Without Broadcast or
	// BroadcastAuto no broadcast address is set, as in keepalived.
	BroadcastAuto bool
	// Scope is "global" (default), "site", "link", "host", "nowhere" or a
	// number 0-255.
	Scope string
	// Label is the IPv4 address label ("eth0:vip"); at most 15 bytes.
	Label string
	// Peer is the remote end of a point-to-point address; when set, its
	// prefix length is the address's prefix length (as with `ip addr add
	// A peer P/len`).
	Peer netip.Prefix
	// NoDAD is kept for configuration fidelity: IPv6 virtual addresses
	// always get IFA_F_NODAD, whatever this says.
	NoDAD bool
	// NoPrefixRoute sets IFA_F_NOPREFIXROUTE: the kernel adds no prefix
	// route for the address.
	NoPrefixRoute bool
	// Home sets IFA_F_HOMEADDRESS (`ip addr add ... home`): the address
	// is a Mobile IPv6 home address.
	Home bool
	// MngTmpAddr sets IFA_F_MANAGETEMPADDR (`mngtmpaddr`): the kernel
	// derives IPv6 privacy (temporary) addresses from the prefix.
	MngTmpAddr bool
	// AutoJoin sets IFA_F_MCAUTOJOIN (`autojoin`): for a multicast
	// address, the kernel joins the group on the interface.
	AutoJoin bool
	// PreferredLft, when set, is the preferred lifetime in seconds;
	// 0 marks the address deprecated so that it is never chosen as a
	// source address (keepalived's "preferred_lft 0"). The valid
	// lifetime stays forever.
	PreferredLft *int
}

// String renders the address the way `ip addr` would take it.
func (a Address) String() string {
	var b strings.Builder
	b.WriteString(a.Prefix.String())
	if a.Peer.IsValid() {
		b.WriteString(" peer " + a.Peer.String())
	}
	if a.Broadcast.IsValid() {
		b.WriteString(" brd " + a.Broadcast.String())
	} else if a.BroadcastAuto {
		b.WriteString(" brd +")
	}
	b.WriteString(" dev " + a.Dev)
	if a.Scope != "" {
		b.WriteString(" scope " + a.Scope)
	}
	if a.Label != "" {
		b.WriteString(" label " + a.Label)
	}
	return b.String()
}

// Relation is how the kernel sees two addresses on the same interface.
type Relation int

const (
	// Distinct addresses coexist.
	Distinct Relation = iota
	// Same is one address: adding the second while the first is present
	// is a no-op, removing it removes the first.
	Same
	// Conflict: the kernel keys both alike (an IPv6 address with two
	// prefix lengths; an IPv4 local address and prefix length with two
	// peers) but they differ; vip leaves the present one alone.
	Conflict
)

// Relate compares a and b by the kernel's identity of an address on one
// interface: IPv4 addresses are keyed by local address, prefix length and
// peer; IPv6 addresses by the address alone. Dev, label, scope, broadcast
// and flags are not part of the identity. Addresses on different
// interfaces are Distinct.
func Relate(a, b Address) Relation {
	if a.Dev != b.Dev || a.Prefix.Addr() != b.Prefix.Addr() {
		return Distinct
	}
	samePeer := a.Peer.Addr() == b.Peer.Addr()
	if a.Prefix.Addr().Is4() {
		switch {
		case a.prefixLen() != b.prefixLen():
			return Distinct // IPv4 holds one local address with several prefix lengths
		case !samePeer:
			return Conflict
		}
		return Same
	}
	if a.prefixLen() != b.prefixLen() || !samePeer {
		return Conflict
	}
	return Same
}

// prefixLen is the prefix length the kernel stores for a.
func (a Address) prefixLen() int {
	if a.Peer.IsValid() {
		return a.Peer.Bits()
	}
	return a.Prefix.Bits()
}

// broadcast returns the broadcast address to configure, if any.
func (a Address) broadcast() netip.Addr {
	if a.Broadcast.IsValid() {
		return a.Broadcast
	}
	if !a.BroadcastAuto || !a.Prefix.Addr().Is4() || a.prefixLen() >= 31 {
		return netip.Addr{}
	}
	b := a.Prefix.Addr().As4()
	bits := a.prefixLen()
	for i := range b {
		for j := 0; j < 8; j++ {
			if i*8+j >= bits {
				b[i] |= 0x80 >> j
			}
		}
	}
	return netip.AddrFrom4(b)
}

// Validate checks what the kernel would otherwise reject with a less
// helpful message (no kernel access: the config loader can call it to report
// bad lines early). Errors wrap ErrInvalid.
func (a Address) Validate() error { return a.validate() }

func (a Address) validate() error {
	if !a.Prefix.IsValid() {
		return fmt.Errorf("%w: no address", ErrInvalid)
	}
	if a.Dev == "" {
		return fmt.Errorf("%w: no interface", ErrInvalid)
	}
	ip := a.Prefix.Addr()
	if a.Peer.IsValid() && a.Peer.Addr().Is4() != ip.Is4() {
		return fmt.Errorf("%w: peer %s is another address family", ErrInvalid, a.Peer)
	}
	if a.Broadcast.IsValid() && (!ip.Is4() || !a.Broadcast.Is4()) {
		return fmt.Errorf("%w: broadcast %s needs IPv4", ErrInvalid, a.Broadcast)
	}
	if len(a.Label) > 15 {
		return fmt.Errorf("%w: label %q longer than 15 bytes", ErrInvalid, a.Label)
	}
	if a.Label != "" && !ip.Is4() {
		return fmt.Errorf("%w: label %q on an IPv6 address", ErrInvalid, a.Label)
	}
	if _, err := ParseScope(a.Scope); err != nil {
		return err
	}
	if a.PreferredLft != nil && *a.PreferredLft < 0 {
		return fmt.Errorf("%w: negative preferred_lft %d", ErrInvalid, *a.PreferredLft)
	}
	return nil
}

// Route is one virtual_routes line.
type Route struct {
	// Dst is the destination; 0.0.0.0/0 or ::/0 for a default route.
	Dst netip.Prefix
	// Src is the preferred source address (often a VIP), or invalid.
	Src netip.Addr
	// Via is the gateway, or invalid for a directly connected route.
	Via netip.Addr
	// Dev is the outgoing interface; optional when Via resolves it, and
	// empty for blackhole, unreachable, prohibit and throw.
	Dev string
	// Table is the routing table; 0 means main (254).
	Table int
	// Metric is the route priority; 0 means the kernel default (0 for
	// IPv4, 1024 for IPv6).
	Metric int
	// Scope is "global", "link", "host", ... (see [ParseScope]). Empty
	// means what `ip route add` picks: link for a unicast route without
	// Via, global otherwise.
	Scope string
	// Type is "unicast" (default), "blackhole", "unreachable",
	// "prohibit" or "throw".
	Type string
	// OnLink sets RTNH_F_ONLINK: the gateway is on the link even if no
	// prefix says so.
	OnLink bool
	// Protocol is the route's rtm_protocol (`proto`); 0 means 18
	// ("keepalived"), which vip tags its routes with by default.
	Protocol int
	// Tos is the TOS / DS field the route selects (`tos`, `dsfield`),
	// part of an IPv4 route's identity.
	Tos int
	// Realm is RTA_FLOW (`realms FROM/TO`): FROM<<16 | TO.
	Realm uint32
	// Metrics are the RTAX_* values (`mtu`, `advmss`, `rtt`, ...).
	Metrics RouteMetrics
	// NextHops, when set, make a multipath route (`nexthop via A dev I
	// weight W ...`); Via and Dev are then empty.
	NextHops []NextHop
}

// NextHop is one path of a multipath route.
type NextHop struct {
	Via    netip.Addr
	Dev    string
	Weight int // 1-256; 0 means 1
	OnLink bool
}

// RouteMetrics are a route's RTAX_* metrics, in the kernel's units: the
// values `ip route add` sends (RTT in 1/8 ms, RTTVar in 1/4 ms, RTOMin in
// ms when given with a unit). Zero means not set.
type RouteMetrics struct {
	MTU        int
	MTULock    bool // `mtu lock N`: path MTU discovery does not change it
	AdvMSS     int
	Window     int
	RTT        int
	RTTVar     int
	Ssthresh   int
	Cwnd       int
	Hoplimit   int
	Reordering int
	InitCwnd   int
	InitRwnd   int
	RTOMin     int
	RTOMinLock bool
	QuickACK   int
	// Features is RTAX_FEATURES; `features ecn` is 1.
	Features int
	// Congctl is the TCP congestion control algorithm (RTAX_CC_ALGO).
	Congctl          string
	FastOpenNoCookie int
}

// String renders the route the way `ip route` would take it.
func (r Route) String() string {
	var b strings.Builder
	if r.Type != "" && r.Type != "unicast" {
		b.WriteString(r.Type + " ")
	}
	b.WriteString(r.Dst.String())
	if r.Via.IsValid() {
		b.WriteString(" via " + r.Via.String())
	}
	if r.Dev != "" {
		b.WriteString(" dev " + r.Dev)
	}
	if r.Src.IsValid() {
		b.WriteString(" src " + r.Src.String())
	}
	if r.Table != 0 {
		b.WriteString(" table " + strconv.Itoa(r.Table))
	}
	if r.Metric != 0 {
		b.WriteString(" metric " + strconv.Itoa(r.Metric))
	}
	if r.Scope != "" {
		b.WriteString(" scope " + r.Scope)
	}
	if r.OnLink {
		b.WriteString(" onlink")
	}
	if r.Protocol != 0 {
		b.WriteString(" proto " + strconv.Itoa(r.Protocol))
	}
	if r.Tos != 0 {
		fmt.Fprintf(&b, " tos %#x", r.Tos)
	}
	for _, h := range r.NextHops {
		b.WriteString(" nexthop")
		if h.Via.IsValid() {
			b.WriteString(" via " + h.Via.String())
		}
		if h.Dev != "" {
			b.WriteString(" dev " + h.Dev)
		}
		if h.Weight > 1 {
			b.WriteString(" weight " + strconv.Itoa(h.Weight))
		}
		if h.OnLink {
			b.WriteString(" onlink")
		}
	}
	return b.String()
}

// Route types (rtm_type values, include/uapi/linux/rtnetlink.h).
const (
	rtnUnicast     = 1
	rtnBlackhole   = 6
	rtnUnreachable = 7
	rtnProhibit    = 8
	rtnThrow       = 9
)

// routeType maps a Route.Type to its rtm_type.
func routeType(s string) (int, error) {
	switch s {
	case "", "unicast":
		return rtnUnicast, nil
	case "blackhole":
		return rtnBlackhole, nil
	case "unreachable":
		return rtnUnreachable, nil
	case "prohibit":
		return rtnProhibit, nil
	case "throw":
		return rtnThrow, nil
	}
	return 0, fmt.Errorf("%w: route type %q", ErrInvalid, s)
}

// Validate checks the route without kernel access: family agreement,
// host bits, type and the via/dev rules of its type. Errors wrap ErrInvalid.
func (r Route) Validate() error {
	_, err := r.validate()
	return err
}

func (r Route) validate() (typ int, err error) {
	if !r.Dst.IsValid() {
		return 0, fmt.Errorf("%w: no destination", ErrInvalid)
	}
	if r.Dst != r.Dst.Masked() {
		return 0, fmt.Errorf("%w: destination %s has host bits set", ErrInvalid, r.Dst)
	}
	is4 := r.Dst.Addr().Is4()
	for _, a := range []netip.Addr{r.Src, r.Via} {
		if a.IsValid() && a.Is4() != is4 {
			return 0, fmt.Errorf("%w: %s is another address family than %s", ErrInvalid, a, r.Dst)
		}
	}
	if typ, err = routeType(r.Type); err != nil {
		return 0, err
	}
	if typ != rtnUnicast && (r.Via.IsValid() || r.Dev != "" || len(r.NextHops) > 0) {
		return 0, fmt.Errorf("%w: %s route takes no via, dev or nexthop", ErrInvalid, r.Type)
	}
	if len(r.NextHops) > 0 && (r.Via.IsValid() || r.Dev != "") {
		return 0, fmt.Errorf("%w: a multipath route takes via and dev in its nexthops only", ErrInvalid)
	}
	if typ == rtnUnicast && r.Dev == "" && !r.Via.IsValid() && len(r.NextHops) == 0 {
		return 0, fmt.Errorf("%w: unicast route needs via, dev or nexthop", ErrInvalid)
	}
	for _, h := range r.NextHops {
		if h.Via.IsValid() && h.Via.Is4() != is4 {
			return 0, fmt.Errorf("%w: nexthop %s is another address family than %s", ErrInvalid, h.Via, r.Dst)
		}
		if !h.Via.IsValid() && h.Dev == "" {
			return 0, fmt.Errorf("%w: nexthop needs via or dev", ErrInvalid)
		}
		if h.Weight < 0 || h.Weight > 256 {
			return 0, fmt.Errorf("%w: nexthop weight %d", ErrInvalid, h.Weight)
		}
	}
	if r.Protocol < 0 || r.Protocol > 255 || r.Tos < 0 || r.Tos > 255 {
		return 0, fmt.Errorf("%w: protocol %d or tos %d out of range", ErrInvalid, r.Protocol, r.Tos)
	}
	if r.Table < 0 || r.Metric < 0 {
		return 0, fmt.Errorf("%w: negative table or metric", ErrInvalid)
	}
	if _, err := ParseScope(r.Scope); err != nil {
		return 0, err
	}
	return typ, nil
}

// Scope values (rtm_scope / ifa_scope, include/uapi/linux/rtnetlink.h).
const (
	ScopeGlobal  = 0
	ScopeSite    = 200
	ScopeLink    = 253
	ScopeHost    = 254
	ScopeNowhere = 255
)

// ParseScope maps an iproute2 scope name ("global", "universe", "site",
// "link", "host", "nowhere") or a number 0-255 to its value. The empty
// string is global.
func ParseScope(s string) (int, error) {
	switch s {
	case "", "global", "universe":
		return ScopeGlobal, nil
	case "site":
		return ScopeSite, nil
	case "link":
		return ScopeLink, nil
	case "host":
		return ScopeHost, nil
	case "nowhere":
		return ScopeNowhere, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 255 {
		return 0, fmt.Errorf("%w: scope %q", ErrInvalid, s)
	}
	return n, nil
}

// FailedRoute is one route AddRoutes or RemoveRoutes could not apply.
type FailedRoute struct {
	Route Route
	// Retry is true when the route failed only because its interface,
	// its source address or its gateway's subnet is not there yet: the
	// caller should retry after the VIPs are in place.
	Retry bool
	Err   error
}

// RouteError lists the routes that failed; the others were applied.
type RouteError struct {
	Op     string // "add" or "remove"
	Failed []FailedRoute
}

func (e *RouteError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "vip: %d route(s) failed to %s:", len(e.Failed), e.Op)
	for _, f := range e.Failed {
		fmt.Fprintf(&b, " [%s: %v]", f.Route, f.Err)
	}
	return b.String()
}

// Unwrap returns each failed route's error, for errors.Is and errors.As.
func (e *RouteError) Unwrap() []error {
	errs := make([]error, len(e.Failed))
	for i, f := range e.Failed {
		errs[i] = f.Err
	}
	return errs
}

// Routes returns the routes that failed, in input order.
func (e *RouteError) Routes() []Route {
	rs := make([]Route, len(e.Failed))
	for i, f := range e.Failed {
		rs[i] = f.Route
	}
	return rs
}

// Retryable returns the failed routes whose Retry is set.
func (e *RouteError) Retryable() []Route {
	var rs []Route
	for _, f := range e.Failed {
		if f.Retry {
			rs = append(rs, f.Route)
		}
	}
	return rs
}
