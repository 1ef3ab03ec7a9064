package ipvs

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
)

// Family is an address family, with the kernel's numbers (AF_INET,
// AF_INET6).
type Family uint16

// The two address families IPVS knows.
const (
	IPv4 Family = 2
	IPv6 Family = 10
)

// String returns "inet" or "inet6".
func (f Family) String() string {
	switch f {
	case IPv4:
		return "inet"
	case IPv6:
		return "inet6"
	}
	return "Family(" + strconv.Itoa(int(f)) + ")"
}

func familyOf(a netip.Addr) Family {
	if a.Is4() {
		return IPv4
	}
	return IPv6
}

// Protocol is an IP protocol number; 0 for a fwmark service.
type Protocol uint16

// The protocols an address service can have.
const (
	TCP  Protocol = 6
	UDP  Protocol = 17
	SCTP Protocol = 132
)

// String returns keepalived's spelling: "tcp", "udp", "sctp", "none".
func (p Protocol) String() string {
	switch p {
	case TCP:
		return "tcp"
	case UDP:
		return "udp"
	case SCTP:
		return "sctp"
	case 0:
		return "none"
	}
	return strconv.Itoa(int(p))
}

// Service flags (IP_VS_SVC_F_* in linux/ip_vs.h). The kernel also reports
// IP_VS_SVC_F_HASHED (0x0002), which is its own bookkeeping: [Client]
// implementations drop it when they read.
const (
	FlagPersistent = 0x0001
	FlagOnePacket  = 0x0004
	FlagSched1     = 0x0008 // flag-1, sh-fallback, mh-fallback
	FlagSched2     = 0x0010 // flag-2, sh-port, mh-port
	FlagSched3     = 0x0020 // flag-3
)

// ServiceKey is the kernel's identity of a virtual service: family and
// fwmark, or family, protocol, address and port.
type ServiceKey struct {
	Family   Family
	Protocol Protocol   // 0 for a fwmark service
	Addr     netip.Addr // invalid for a fwmark service
	Port     uint16
	FWMark   uint32 // non-zero only for a fwmark service
}

// IsFWMark reports whether k names a fwmark service.
func (k ServiceKey) IsFWMark() bool { return !k.Addr.IsValid() }

// String formats k as keepalived does in its logs: "[192.0.2.1]:tcp:80",
// "FWM 3" (fwmark services of family inet6 get " inet6").
func (k ServiceKey) String() string {
	if k.IsFWMark() {
		s := "FWM " + strconv.FormatUint(uint64(k.FWMark), 10)
		if k.Family == IPv6 {
			s += " inet6"
		}
		return s
	}
	return "[" + k.Addr.String() + "]:" + k.Protocol.String() + ":" + strconv.Itoa(int(k.Port))
}

// Compare orders keys: family, fwmark services first, then address,
// protocol, port.
func (k ServiceKey) Compare(o ServiceKey) int {
	switch {
	case k.Family != o.Family:
		return int(k.Family) - int(o.Family)
	case k.IsFWMark() != o.IsFWMark():
		if k.IsFWMark() {
			return -1
		}
		return 1
	case k.FWMark != o.FWMark:
		if k.FWMark < o.FWMark {
			return -1
		}
		return 1
	}
	if c := k.Addr.Compare(o.Addr); c != 0 {
		return c
	}
	if k.Protocol != o.Protocol {
		return int(k.Protocol) - int(o.Protocol)
	}
	return int(k.Port) - int(o.Port)
}

// Service is a virtual service with its scheduling parameters and its
// destinations.
type Service struct {
	Key       ServiceKey
	Scheduler string // rr, wrr, wlc, sh, mh, ...
	Flags     uint32 // Flag*; FlagPersistent exactly when TimeoutSecs > 0
	// TimeoutSecs is the persistence timeout, 0 when not persistent.
	TimeoutSecs uint32
	// Netmask is the persistence granularity as the kernel takes it: the
	// IPv4 mask as a number (0xffffff00 for /24; non-contiguous masks are
	// allowed) or the IPv6 prefix length (0..128).
	Netmask uint32
	// Dests are the destinations, keyed by address and port.
	Dests map[DestKey]Dest
}

// DefaultNetmask is the netmask of a service without granularity.
func DefaultNetmask(f Family) uint32 {
	if f == IPv6 {
		return 128
	}
	return 0xffffffff
}

// SameParams reports whether s and o agree on everything but their
// destinations (and so need no IPVS_CMD_SET_SERVICE).
func (s *Service) SameParams(o *Service) bool {
	return s.Key == o.Key && s.Scheduler == o.Scheduler && s.Flags == o.Flags && s.TimeoutSecs == o.TimeoutSecs &&
		s.Netmask == o.Netmask
}

// Clone returns a deep copy of s.
func (s *Service) Clone() *Service {
	c := *s
	c.Dests = maps.Clone(s.Dests)
	if c.Dests == nil {
		c.Dests = map[DestKey]Dest{}
	}
	return &c
}

// Method is a forwarding method, with the kernel's numbers
// (IP_VS_CONN_F_MASQ, _TUNNEL, _DROUTE).
type Method uint32

// The forwarding methods keepalived configures.
const (
	NAT Method = 0
	TUN Method = 2
	DR  Method = 3
)

// String returns "NAT", "TUN" or "DR".
func (m Method) String() string {
	switch m {
	case NAT:
		return "NAT"
	case TUN:
		return "TUN"
	case DR:
		return "DR"
	}
	return "Method(" + strconv.Itoa(int(m)) + ")"
}

// TunnelType is IPVS_DEST_ATTR_TUN_TYPE.
type TunnelType uint8

// Tunnel types.
const (
	IPIP TunnelType = 0
	GUE  TunnelType = 1
	GRE  TunnelType = 2
)

// Tunnel checksum flags (IPVS_DEST_ATTR_TUN_FLAGS).
const (
	TunnelNoCsum  = 0
	TunnelCsum    = 1
	TunnelRemCsum = 2
)

// DestKey is the kernel's identity of a destination within a service.
type DestKey = netip.AddrPort

// Dest is one destination (real server or sorry server) of a service.
type Dest struct {
	Addr   netip.Addr
	Port   uint16
	Method Method
	Weight uint32 // 0..2147483647
	// UThreshold and LThreshold are the connection thresholds (0 = none).
	UThreshold, LThreshold uint32
	// Tunnel options, meaningful only with TUN: TunnelPort only for GUE,
	// TunnelFlags only for GUE and GRE.
	TunnelType  TunnelType
	TunnelPort  uint16
	TunnelFlags uint16
}

// Key returns d's identity.
func (d Dest) Key() DestKey { return netip.AddrPortFrom(d.Addr, d.Port) }

// String formats d as "[198.51.100.1]:80 NAT w1".
func (d Dest) String() string {
	s := fmt.Sprintf("[%s]:%d %s w%d", d.Addr, d.Port, d.Method, d.Weight)
	if d.Method == TUN {
		s += fmt.Sprintf(" tun%d/%d/%d", d.TunnelType, d.TunnelPort, d.TunnelFlags)
	}
	if d.UThreshold != 0 || d.LThreshold != 0 {
		s += fmt.Sprintf(" thresh %d-%d", d.LThreshold, d.UThreshold)
	}
	return s
}

// Normalize clears the tunnel fields a method or tunnel type does not use,
// so that two Dests the kernel cannot tell apart compare equal.
func (d Dest) Normalize() Dest {
	if d.Method != TUN {
		d.TunnelType, d.TunnelPort, d.TunnelFlags = 0, 0, 0
	}
	if d.TunnelType != GUE {
		d.TunnelPort = 0
	}
	if d.TunnelType == IPIP {
		d.TunnelFlags = 0
	}
	return d
}

// Table is a set of services keyed by identity: the desired table the
// policy computes, or what a [Client] reads from the kernel.
type Table map[ServiceKey]*Service

// Keys returns the keys of t in [ServiceKey.Compare] order.
func (t Table) Keys() []ServiceKey {
	return slices.SortedFunc(maps.Keys(t), ServiceKey.Compare)
}

// Clone returns a deep copy of t.
func (t Table) Clone() Table {
	c := make(Table, len(t))
	for k, s := range t {
		c[k] = s.Clone()
	}
	return c
}

// String prints t one service per line, destinations sorted, for test
// failures and debugging.
func (t Table) String() string {
	var b []byte
	for _, k := range t.Keys() {
		s := t[k]
		b = fmt.Appendf(b, "%s %s flags=%#x timeout=%d mask=%#x\n", k, s.Scheduler, s.Flags, s.TimeoutSecs, s.Netmask)
		keys := slices.SortedFunc(maps.Keys(s.Dests), DestKey.Compare)
		for _, dk := range keys {
			b = fmt.Appendf(b, "  -> %s\n", s.Dests[dk])
		}
	}
	return string(b)
}

// Timeouts are the IPVS connection timeouts of lvs_timeouts, in seconds;
// 0 means "leave as is" when setting.
type Timeouts struct{ TCP, TCPFin, UDP uint32 }
