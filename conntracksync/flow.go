package conntracksync

import (
	"fmt"
	"net/netip"

	"github.com/vigil-ha/vigil/conntracksync/ftfw"
)

// IP protocol numbers used by the kernel's connection tracker; package ftfw
// defines them and these names are the same constants.
const (
	ProtoICMP    = ftfw.ProtoICMP
	ProtoTCP     = ftfw.ProtoTCP
	ProtoUDP     = ftfw.ProtoUDP
	ProtoDCCP    = ftfw.ProtoDCCP
	ProtoICMPv6  = ftfw.ProtoICMPv6
	ProtoSCTP    = ftfw.ProtoSCTP
	ProtoUDPLite = ftfw.ProtoUDPLite
)

// Status bits (enum ip_conntrack_status, linux/netfilter/nf_conntrack_common.h).
const (
	StatusExpected     = 1 << 0
	StatusSeenReply    = 1 << 1
	StatusAssured      = 1 << 2
	StatusConfirmed    = 1 << 3
	StatusSrcNAT       = 1 << 4
	StatusDstNAT       = 1 << 5
	StatusSeqAdjust    = 1 << 6
	StatusSrcNATDone   = 1 << 7
	StatusDstNATDone   = 1 << 8
	StatusDying        = 1 << 9
	StatusFixedTimeout = 1 << 10
	StatusTemplate     = 1 << 11
	StatusUntracked    = 1 << 12
	StatusHelper       = 1 << 13
	StatusOffload      = 1 << 14
	StatusHWOffload    = 1 << 15
)

// TCP conntrack states (enum tcp_conntrack, linux/netfilter/nf_conntrack_tcp.h).
const (
	TCPNone        = 0
	TCPSynSent     = 1
	TCPSynRecv     = 2
	TCPEstablished = 3
	TCPFinWait     = 4
	TCPCloseWait   = 5
	TCPLastAck     = 6
	TCPTimeWait    = 7
	TCPClose       = 8
	TCPSynSent2    = 9
)

// Tuple is one direction of a connection, as the kernel keys it.
// For ICMP and ICMPv6, ID holds the echo identifier and Type/Code the
// message type and code; the ports are zero.
type Tuple struct {
	Src, Dst         netip.Addr
	Proto            uint8
	SrcPort, DstPort uint16
	ICMPType         uint8
	ICMPCode         uint8
	ICMPID           uint16
}

// IsZero reports whether the tuple is unset (used for the master tuple of a
// flow that is not related to another one).
func (t Tuple) IsZero() bool { return !t.Src.IsValid() && t.Proto == 0 }

// Invert returns the tuple of the opposite direction without NAT.
func (t Tuple) Invert() Tuple {
	r := Tuple{Src: t.Dst, Dst: t.Src, Proto: t.Proto, SrcPort: t.DstPort, DstPort: t.SrcPort,
		ICMPCode: t.ICMPCode, ICMPID: t.ICMPID, ICMPType: t.ICMPType}
	if t.Proto == ProtoICMP || t.Proto == ProtoICMPv6 {
		r.ICMPType = invertICMPType(t.Proto, t.ICMPType)
	}
	return r
}

// invertICMPType maps a request type to its reply type, as the kernel's
// icmp_invert_tuple does for the types it tracks.
func invertICMPType(proto, typ uint8) uint8 {
	if proto == ProtoICMP {
		switch typ {
		case 8:
			return 0
		case 0:
			return 8
		case 13:
			return 14
		case 14:
			return 13
		case 15:
			return 16
		case 16:
			return 15
		case 17:
			return 18
		case 18:
			return 17
		}
		return typ
	}
	switch typ {
	case 128:
		return 129
	case 129:
		return 128
	case 139:
		return 140
	case 140:
		return 139
	}
	return typ
}

func (t Tuple) String() string {
	if t.Proto == ProtoICMP || t.Proto == ProtoICMPv6 {
		return fmt.Sprintf("proto=%d src=%s dst=%s type=%d code=%d id=%d", t.Proto, t.Src, t.Dst, t.ICMPType, t.ICMPCode, t.ICMPID)
	}
	return fmt.Sprintf("proto=%d src=%s dst=%s sport=%d dport=%d", t.Proto, t.Src, t.Dst, t.SrcPort, t.DstPort)
}

// Key identifies a flow in a cache: its original tuple and its zone.
type Key struct {
	Orig Tuple
	Zone uint16
}

// SeqAdj is one direction's TCP sequence adjustment (CTA_SEQ_ADJ_*).
type SeqAdj struct {
	CorrectionPos, OffsetBefore, OffsetAfter uint32
}

// Flow is one connection-tracking entry as replicated: everything
// conntrackd sends (its NTA_* attributes), in kernel terms. Reply is the
// full reply tuple; NAT is implied where Reply is not Orig.Invert().
type Flow struct {
	Orig, Reply Tuple
	// Master is the tuple of the master connection of a related flow
	// (FTP data, for example); zero otherwise.
	Master     Tuple
	Zone       uint16
	Status     uint32
	TimeoutSec uint32 // seconds left when read from the kernel; 0 = unknown
	Mark       uint32

	TCPState                    uint8
	TCPWScaleOrig, TCPWScaleRep uint8
	SCTPState                   uint8
	SCTPVTagOrig, SCTPVTagRep   uint32
	DCCPState, DCCPRole         uint8

	SeqAdjOrig, SeqAdjReply SeqAdj
	Helper                  string
	Labels                  string // connlabel bitmap (raw bytes); "" when no bit is set
}

// Key returns the cache key of f.
func (f *Flow) Key() Key { return Key{Orig: f.Orig, Zone: f.Zone} }

// Related reports whether f has a master connection.
func (f *Flow) Related() bool { return !f.Master.IsZero() }

// ensureReply fills Reply with the inverted original tuple when it is unset.
func (f *Flow) ensureReply() {
	if f.Reply.IsZero() {
		f.Reply = f.Orig.Invert()
	}
}

// SNAT reports whether the flow's source is translated, and to what.
func (f *Flow) SNAT() (addr netip.Addr, port uint16, ok bool) {
	r := f.Reply
	if r.IsZero() {
		return netip.Addr{}, 0, false
	}
	if r.Dst != f.Orig.Src || (HasPorts(r.Proto) && r.DstPort != f.Orig.SrcPort) {
		return r.Dst, r.DstPort, true
	}
	return netip.Addr{}, 0, false
}

// DNAT reports whether the flow's destination is translated, and to what.
func (f *Flow) DNAT() (addr netip.Addr, port uint16, ok bool) {
	r := f.Reply
	if r.IsZero() {
		return netip.Addr{}, 0, false
	}
	if r.Src != f.Orig.Dst || (HasPorts(r.Proto) && r.SrcPort != f.Orig.DstPort) {
		return r.Src, r.SrcPort, true
	}
	return netip.Addr{}, 0, false
}

// HasPorts reports whether the kernel keys flows of proto by port.
func HasPorts(proto uint8) bool {
	switch proto {
	case ProtoTCP, ProtoUDP, ProtoDCCP, ProtoSCTP, ProtoUDPLite:
		return true
	}
	return false
}

// Equal reports whether two flows carry the same replicated state,
// ignoring TimeoutSec (which changes every second in the kernel).
func (f *Flow) Equal(g *Flow) bool {
	a, b := *f, *g
	a.TimeoutSec, b.TimeoutSec = 0, 0
	return a == b
}

func (f *Flow) String() string {
	s := fmt.Sprintf("%s reply{%s} status=%#x timeout=%d mark=%d", f.Orig, f.Reply, f.Status, f.TimeoutSec, f.Mark)
	if f.Orig.Proto == ProtoTCP {
		s += " state=" + TCPStateName(f.TCPState)
	}
	if f.Zone != 0 {
		s += fmt.Sprintf(" zone=%d", f.Zone)
	}
	if f.Related() {
		s += " master{" + f.Master.String() + "}"
	}
	return s
}
