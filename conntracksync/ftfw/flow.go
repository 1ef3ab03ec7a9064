package ftfw

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// NTA attribute numbers (network.h enum nta_attr, 1.4.7 plus NTA_ZONE).
const (
	attrIPv4          = 0
	attrIPv6          = 1
	attrL4Proto       = 2
	attrPort          = 3
	attrTCPState      = 4
	attrStatus        = 5
	attrTimeout       = 6
	attrMark          = 7
	attrMasterIPv4    = 8
	attrMasterIPv6    = 9
	attrMasterL4Proto = 10
	attrMasterPort    = 11
	attrSNATIPv4      = 12
	attrDNATIPv4      = 13
	attrSPATPort      = 14
	attrDPATPort      = 15
	attrNATSeqAdj     = 16
	attrSCTPState     = 17
	attrSCTPVtagOrig  = 18
	attrSCTPVtagRepl  = 19
	attrDCCPState     = 20
	attrDCCPRole      = 21
	attrICMPType      = 22
	attrICMPCode      = 23
	attrICMPID        = 24
	attrWScaleOrig    = 25
	attrWScaleRepl    = 26
	attrHelperName    = 27
	attrLabels        = 28
	attrSNATIPv6      = 29
	attrDNATIPv6      = 30
	attrSynproxy      = 31
	attrZone          = 32
	ntaMax            = 33 // attribute numbers >= ntaMax make conntrackd drop the message
	ntaExpMax         = 21 // expectation attribute numbers

	helperNameMax = 16       // NFCT_HELPER_NAME_MAX: max nta_len of HELPER_NAME
	labelsMax     = 4 + 1024 // max nta_len of LABELS
)

// attrLen is the exact nta_len of each fixed-size attribute; 0 marks a variable one.
var attrLen = [ntaMax]uint16{
	attrIPv4: 12, attrIPv6: 36, attrL4Proto: 5, attrPort: 8, attrTCPState: 5, attrStatus: 8,
	attrTimeout: 8, attrMark: 8, attrMasterIPv4: 12, attrMasterIPv6: 36, attrMasterL4Proto: 5,
	attrMasterPort: 8, attrSNATIPv4: 8, attrDNATIPv4: 8, attrSPATPort: 6, attrDPATPort: 6,
	attrNATSeqAdj: 28, attrSCTPState: 5, attrSCTPVtagOrig: 8, attrSCTPVtagRepl: 8,
	attrDCCPState: 5, attrDCCPRole: 5, attrICMPType: 5, attrICMPCode: 5, attrICMPID: 6,
	attrWScaleOrig: 5, attrWScaleRepl: 5, attrHelperName: 0, attrLabels: 0, attrSNATIPv6: 20,
	attrDNATIPv6: 20, attrSynproxy: 16, attrZone: 6,
}

// IP protocol numbers the codec treats specially.
const (
	ProtoICMP    = 1
	ProtoTCP     = 6
	ProtoUDP     = 17
	ProtoDCCP    = 33
	ProtoICMPv6  = 58
	ProtoSCTP    = 132
	ProtoUDPLite = 136
)

// SeqAdj is the NAT sequence adjustment of both directions (NTA_NAT_SEQ_ADJ).
type SeqAdj struct {
	OrigCorrectionPos, OrigOffsetBefore, OrigOffsetAfter uint32
	ReplCorrectionPos, ReplOffsetBefore, ReplOffsetAfter uint32
}

// Synproxy is the SYNPROXY extension (NTA_SYNPROXY), in wire order.
type Synproxy struct {
	ITS, ISN, TSOff uint32
}

// Flow is one conntrack entry as FTFW carries it: the original-direction tuple plus the
// state needed to rebuild the entry (the reply tuple follows from the NAT fields). It is
// neutral: conntracksync converts it to and from ti-mo/conntrack's Flow.
//
// Which optional attributes are encoded is decided by the Has* fields and by validity of
// the addresses, so that a decoded conntrackd message re-encodes byte for byte.
type Flow struct {
	Src, Dst netip.Addr // original tuple; both IPv4 or both IPv6 (NTA_IPV4 / NTA_IPV6)
	Proto    uint8      // IP protocol (NTA_L4PROTO)
	// SrcPort, DstPort: original ports for TCP, UDP, UDP-Lite, SCTP and DCCP (NTA_PORT).
	SrcPort, DstPort uint16
	Status           uint32 // IPS_* bits (NTA_STATUS)

	TCPState                    uint8 // TCP (NTA_TCP_STATE); TCP without state is not encodable
	HasTCPWScale                bool  // encode TCP window scales (TCPWindowTracking)
	TCPWScaleOrig, TCPWScaleRep uint8
	SCTPState                   uint8
	SCTPVTagOrig, SCTPVTagRepl  uint32
	DCCPState, DCCPRole         uint8
	ICMPType, ICMPCode          uint8  // ICMP and ICMPv6
	ICMPID                      uint16 // host value; little-endian on the wire (conntrackd quirk)
	// SCTPVTagOrig/Repl are host values; little-endian on the wire (conntrackd quirk).

	HasTimeout  bool
	TimeoutSecs uint32 // seconds left (NTA_TIMEOUT)
	HasMark     bool
	Mark        uint32

	// Master tuple of a related flow; MasterSrc.IsValid() says it is present.
	MasterSrc, MasterDst netip.Addr
	MasterProto          uint8
	HasMasterPort        bool
	MasterSrcPort        uint16
	MasterDstPort        uint16

	// SNAT is the reply-direction destination address when the entry is source-NATed,
	// DNAT the reply-direction source address when destination-NATed (same family as Src).
	SNAT, DNAT netip.Addr
	// SNATPort / DNATPort: reply destination / source port when the port is mangled.
	HasSNATPort, HasDNATPort bool
	SNATPort, DNATPort       uint16 // host values; little-endian on the wire (conntrackd quirk)

	HasSeqAdj   bool
	SeqAdj      SeqAdj
	Helper      string   // helper name, at most 11 bytes; "" = none
	Labels      []uint32 // connlabel bitmap: bit b of word i is label 32*i+b; all zero = none
	HasSynproxy bool
	Synproxy    Synproxy
	HasZone     bool
	Zone        uint16
}

// Key identifies a flow for collapsing updates: the original tuple and zone.
type Key struct {
	Src, Dst         netip.Addr
	Proto            uint8
	SrcPort, DstPort uint16
	ICMPType         uint8
	ICMPCode         uint8
	ICMPID           uint16
	Zone             uint16
}

// mapKey is a Key without pointers, for the Channel's maps of flows in flight: 44
// bytes instead of 64, nothing in a map of a hundred thousand of them for the garbage
// collector to scan, and bytes to hash (Channel.hashKey). An address is its 16 bytes
// and its family (an IPv6 zone is dropped, as the wire drops it).
type mapKey [44]byte

func (k *Key) mapKey() mapKey {
	var m mapKey
	s, d := k.Src.As16(), k.Dst.As16()
	copy(m[0:16], s[:])
	copy(m[16:32], d[:])
	binary.BigEndian.PutUint16(m[32:], k.SrcPort)
	binary.BigEndian.PutUint16(m[34:], k.DstPort)
	binary.BigEndian.PutUint16(m[36:], k.ICMPID)
	binary.BigEndian.PutUint16(m[38:], k.Zone)
	m[40], m[41], m[42] = k.Proto, k.ICMPType, k.ICMPCode
	var fam byte
	if k.Src.Is4() {
		fam |= 1
	}
	if k.Dst.Is4() {
		fam |= 2
	}
	if k.Src.IsValid() {
		fam |= 4
	}
	if k.Dst.IsValid() {
		fam |= 8
	}
	m[43] = fam
	return m
}

// Key returns f's identity.
func (f *Flow) Key() Key {
	k := Key{Src: f.Src, Dst: f.Dst, Proto: f.Proto, SrcPort: f.SrcPort, DstPort: f.DstPort}
	if f.Proto == ProtoICMP || f.Proto == ProtoICMPv6 {
		k.ICMPType, k.ICMPCode, k.ICMPID = f.ICMPType, f.ICMPCode, f.ICMPID
	}
	if f.HasZone {
		k.Zone = f.Zone
	}
	return k
}

func labelsSet(l []uint32) bool {
	for _, w := range l {
		if w != 0 {
			return true
		}
	}
	return false
}

// tlvLen is the encoded size of f's attributes.
func (f *Flow) tlvLen() int {
	n := 8 + 8 // STATUS + L4PROTO
	if f.Src.Is4() {
		n += 12
	} else if f.Src.IsValid() {
		n += 36
	}
	switch f.Proto {
	case ProtoTCP:
		n += 8 + 8
		if f.HasTCPWScale {
			n += 16
		}
	case ProtoSCTP:
		n += 8 + 8 + 8 + 8
	case ProtoDCCP:
		n += 8 + 8 + 8
	case ProtoICMP, ProtoICMPv6:
		n += 8 + 8 + 8
	case ProtoUDP, ProtoUDPLite:
		n += 8
	}
	if f.HasTimeout {
		n += 8
	}
	if f.HasMark {
		n += 8
	}
	if f.MasterSrc.IsValid() {
		if f.MasterSrc.Is4() {
			n += 12
		} else {
			n += 36
		}
		n += 8
		if f.HasMasterPort {
			n += 8
		}
	}
	if f.SNAT.IsValid() {
		n += 8
		if !f.SNAT.Is4() {
			n += 12
		}
	}
	if f.DNAT.IsValid() {
		n += 8
		if !f.DNAT.Is4() {
			n += 12
		}
	}
	if f.HasSNATPort {
		n += 8
	}
	if f.HasDNATPort {
		n += 8
	}
	if f.HasSeqAdj {
		n += 28
	}
	if f.Helper != "" {
		n += (4 + len(f.Helper) + 1 + 3) &^ 3
	}
	if labelsSet(f.Labels) {
		n += 4 + 4*len(f.Labels)
	}
	if f.HasSynproxy {
		n += 16
	}
	if f.HasZone {
		n += 8
	}
	return n
}

func putHdr(b []byte, attr, payload int) []byte {
	return append(b, byte((4+payload)>>8), byte(4+payload), byte(attr>>8), byte(attr))
}

func appendU8(b []byte, attr int, v uint8) []byte {
	return append(putHdr(b, attr, 1), v, 0, 0, 0)
}

func appendU16(b []byte, attr int, v uint16) []byte {
	return append(putHdr(b, attr, 2), byte(v>>8), byte(v), 0, 0)
}

// appendU16LE writes v little-endian: conntrackd's double conversion on x86.
func appendU16LE(b []byte, attr int, v uint16) []byte {
	return append(putHdr(b, attr, 2), byte(v), byte(v>>8), 0, 0)
}

func appendU32(b []byte, attr int, v uint32) []byte {
	return binary.BigEndian.AppendUint32(putHdr(b, attr, 4), v)
}

func appendPorts(b []byte, attr int, s, d uint16) []byte {
	b = putHdr(b, attr, 4)
	b = binary.BigEndian.AppendUint16(b, s)
	return binary.BigEndian.AppendUint16(b, d)
}

func appendU32LE(b []byte, attr int, v uint32) []byte {
	return binary.LittleEndian.AppendUint32(putHdr(b, attr, 4), v)
}

// appendTLVs writes f's attributes in conntrackd's order (build.c ct2msg).
func (f *Flow) appendTLVs(b []byte) ([]byte, error) {
	switch {
	case f.Src.Is4() && f.Dst.Is4():
		b = putHdr(b, attrIPv4, 8)
		s, d := f.Src.As4(), f.Dst.As4()
		b = append(append(b, s[:]...), d[:]...)
	case f.Src.Is6() && f.Dst.Is6() && !f.Src.Is4In6() && !f.Dst.Is4In6():
		b = putHdr(b, attrIPv6, 32)
		s, d := f.Src.As16(), f.Dst.As16()
		b = append(append(b, s[:]...), d[:]...)
	default:
		return b, fmt.Errorf("ftfw: flow %v -> %v: addresses must be both IPv4 or both IPv6", f.Src, f.Dst)
	}
	b = appendU32(b, attrStatus, f.Status)
	b = appendU8(b, attrL4Proto, f.Proto)
	switch f.Proto {
	case ProtoTCP:
		b = appendPorts(b, attrPort, f.SrcPort, f.DstPort)
		b = appendU8(b, attrTCPState, f.TCPState)
		if f.HasTCPWScale {
			b = appendU8(b, attrWScaleOrig, f.TCPWScaleOrig)
			b = appendU8(b, attrWScaleRepl, f.TCPWScaleRep)
		}
	case ProtoSCTP:
		b = appendPorts(b, attrPort, f.SrcPort, f.DstPort)
		b = appendU8(b, attrSCTPState, f.SCTPState)
		b = appendU32LE(b, attrSCTPVtagOrig, f.SCTPVTagOrig)
		b = appendU32LE(b, attrSCTPVtagRepl, f.SCTPVTagRepl)
	case ProtoDCCP:
		b = appendPorts(b, attrPort, f.SrcPort, f.DstPort)
		b = appendU8(b, attrDCCPState, f.DCCPState)
		b = appendU8(b, attrDCCPRole, f.DCCPRole)
	case ProtoICMP, ProtoICMPv6:
		b = appendU8(b, attrICMPType, f.ICMPType)
		b = appendU8(b, attrICMPCode, f.ICMPCode)
		b = appendU16LE(b, attrICMPID, f.ICMPID)
	case ProtoUDP, ProtoUDPLite:
		b = appendPorts(b, attrPort, f.SrcPort, f.DstPort)
	}
	if f.HasTimeout {
		b = appendU32(b, attrTimeout, f.TimeoutSecs)
	}
	if f.HasMark {
		b = appendU32(b, attrMark, f.Mark)
	}
	if f.MasterSrc.IsValid() {
		switch {
		case f.MasterSrc.Is4() && f.MasterDst.Is4():
			b = putHdr(b, attrMasterIPv4, 8)
			s, d := f.MasterSrc.As4(), f.MasterDst.As4()
			b = append(append(b, s[:]...), d[:]...)
		case f.MasterSrc.Is6() && f.MasterDst.Is6():
			b = putHdr(b, attrMasterIPv6, 32)
			s, d := f.MasterSrc.As16(), f.MasterDst.As16()
			b = append(append(b, s[:]...), d[:]...)
		default:
			return b, fmt.Errorf("ftfw: master %v -> %v: mixed or missing address family", f.MasterSrc, f.MasterDst)
		}
		b = appendU8(b, attrMasterL4Proto, f.MasterProto)
		if f.HasMasterPort {
			b = appendPorts(b, attrMasterPort, f.MasterSrcPort, f.MasterDstPort)
		}
	}
	for _, nat := range [2]struct {
		a      netip.Addr
		v4, v6 int
	}{{f.SNAT, attrSNATIPv4, attrSNATIPv6}, {f.DNAT, attrDNATIPv4, attrDNATIPv6}} {
		switch {
		case !nat.a.IsValid():
		case nat.a.Is4() && f.Src.Is4():
			v := nat.a.As4()
			b = append(putHdr(b, nat.v4, 4), v[:]...)
		case nat.a.Is6() && !f.Src.Is4():
			v := nat.a.As16()
			b = append(putHdr(b, nat.v6, 16), v[:]...)
		default:
			return b, fmt.Errorf("ftfw: NAT address %v does not match the flow's family", nat.a)
		}
	}
	if f.HasSNATPort {
		b = appendU16LE(b, attrSPATPort, f.SNATPort)
	}
	if f.HasDNATPort {
		b = appendU16LE(b, attrDPATPort, f.DNATPort)
	}
	if f.HasSeqAdj {
		b = putHdr(b, attrNATSeqAdj, 24)
		for _, v := range [6]uint32{f.SeqAdj.OrigCorrectionPos, f.SeqAdj.OrigOffsetBefore, f.SeqAdj.OrigOffsetAfter,
			f.SeqAdj.ReplCorrectionPos, f.SeqAdj.ReplOffsetBefore, f.SeqAdj.ReplOffsetAfter} {
			b = binary.BigEndian.AppendUint32(b, v)
		}
	}
	if f.Helper != "" {
		n := len(f.Helper) + 1
		if 4+n > helperNameMax {
			return b, fmt.Errorf("ftfw: helper name %q longer than %d bytes", f.Helper, helperNameMax-5)
		}
		for i := 0; i < len(f.Helper); i++ {
			if f.Helper[i] == 0 {
				return b, fmt.Errorf("ftfw: helper name %q contains NUL", f.Helper)
			}
		}
		b = append(putHdr(b, attrHelperName, n), f.Helper...)
		b = append(b, 0)
		for n%4 != 0 {
			b = append(b, 0)
			n++
		}
	}
	if labelsSet(f.Labels) {
		if 4+4*len(f.Labels) > labelsMax {
			return b, fmt.Errorf("ftfw: %d label words, at most %d", len(f.Labels), (labelsMax-4)/4)
		}
		b = putHdr(b, attrLabels, 4*len(f.Labels))
		for _, w := range f.Labels {
			b = binary.BigEndian.AppendUint32(b, w)
		}
	}
	if f.HasSynproxy {
		b = putHdr(b, attrSynproxy, 12)
		b = binary.BigEndian.AppendUint32(b, f.Synproxy.ITS)
		b = binary.BigEndian.AppendUint32(b, f.Synproxy.ISN)
		b = binary.BigEndian.AppendUint32(b, f.Synproxy.TSOff)
	}
	if f.HasZone {
		b = appendU16(b, attrZone, f.Zone)
	}
	return b, nil
}

// walkTLVs applies conntrackd's TLV checks (parse.c msg2ct) to p and calls fn for each
// attribute with its payload (nta_len - 4 bytes). Like conntrackd it stops when 4 or
// fewer bytes are left.
func walkTLVs(p []byte, max int, fn func(attr int, v []byte) error) error {
	for len(p) > 4 {
		n := int(binary.BigEndian.Uint16(p))
		attr := int(binary.BigEndian.Uint16(p[2:]))
		if n > len(p) {
			return dropf(DropPayload, "attribute %d: nta_len %d with %d bytes left", attr, n, len(p))
		}
		if n < 4 {
			return dropf(DropPayload, "attribute %d: nta_len %d", attr, n)
		}
		if attr >= max {
			return dropf(DropPayload, "unknown attribute %d", attr)
		}
		if fn != nil {
			if err := fn(attr, p[4:n]); err != nil {
				return err
			}
		}
		next := (n + 3) &^ 3
		if next > len(p) {
			next = len(p)
		}
		p = p[next:]
	}
	return nil
}

func addr4(v []byte) netip.Addr { return netip.AddrFrom4([4]byte(v[:4])) }

func addr16(v []byte) netip.Addr { return netip.AddrFrom16([16]byte(v[:16])) }

// parseTLVs decodes conntrack attributes into f (f must be zero), with the same
// checks as walkTLVs (inlined here: this is the receiver's hot path).
func (f *Flow) parseTLVs(p []byte) error {
	for len(p) > 4 {
		n := int(binary.BigEndian.Uint16(p))
		attr := int(binary.BigEndian.Uint16(p[2:]))
		if n > len(p) {
			return dropf(DropPayload, "attribute %d: nta_len %d with %d bytes left", attr, n, len(p))
		}
		if n < 4 {
			return dropf(DropPayload, "attribute %d: nta_len %d", attr, n)
		}
		if attr >= ntaMax {
			return dropf(DropPayload, "unknown attribute %d", attr)
		}
		if err := f.parseAttr(attr, p[4:n]); err != nil {
			return err
		}
		next := (n + 3) &^ 3
		if next > len(p) {
			next = len(p)
		}
		p = p[next:]
	}
	return nil
}

func (f *Flow) parseAttr(attr int, v []byte) error {
	if want := attrLen[attr]; want != 0 && len(v)+4 != int(want) {
		return dropf(DropPayload, "attribute %d: nta_len %d, want %d", attr, len(v)+4, want)
	}
	be16 := binary.BigEndian.Uint16
	be32 := binary.BigEndian.Uint32
	le16 := binary.LittleEndian.Uint16
	switch attr {
	case attrIPv4:
		f.Src, f.Dst = addr4(v), addr4(v[4:])
	case attrIPv6:
		f.Src, f.Dst = addr16(v), addr16(v[16:])
	case attrL4Proto:
		f.Proto = v[0]
	case attrPort:
		f.SrcPort, f.DstPort = be16(v), be16(v[2:])
	case attrTCPState:
		f.TCPState = v[0]
	case attrStatus:
		f.Status = be32(v)
	case attrTimeout:
		f.HasTimeout, f.TimeoutSecs = true, be32(v)
	case attrMark:
		f.HasMark, f.Mark = true, be32(v)
	case attrMasterIPv4:
		f.MasterSrc, f.MasterDst = addr4(v), addr4(v[4:])
	case attrMasterIPv6:
		f.MasterSrc, f.MasterDst = addr16(v), addr16(v[16:])
	case attrMasterL4Proto:
		f.MasterProto = v[0]
	case attrMasterPort:
		f.HasMasterPort, f.MasterSrcPort, f.MasterDstPort = true, be16(v), be16(v[2:])
	case attrSNATIPv4:
		f.SNAT = addr4(v)
	case attrDNATIPv4:
		f.DNAT = addr4(v)
	case attrSPATPort:
		f.HasSNATPort, f.SNATPort = true, le16(v)
	case attrDPATPort:
		f.HasDNATPort, f.DNATPort = true, le16(v)
	case attrNATSeqAdj:
		f.HasSeqAdj = true
		f.SeqAdj = SeqAdj{be32(v), be32(v[4:]), be32(v[8:]), be32(v[12:]), be32(v[16:]), be32(v[20:])}
	case attrSCTPState:
		f.SCTPState = v[0]
	case attrSCTPVtagOrig:
		f.SCTPVTagOrig = binary.LittleEndian.Uint32(v)
	case attrSCTPVtagRepl:
		f.SCTPVTagRepl = binary.LittleEndian.Uint32(v)
	case attrDCCPState:
		f.DCCPState = v[0]
	case attrDCCPRole:
		f.DCCPRole = v[0]
	case attrICMPType:
		f.ICMPType = v[0]
	case attrICMPCode:
		f.ICMPCode = v[0]
	case attrICMPID:
		f.ICMPID = le16(v)
	case attrWScaleOrig:
		f.HasTCPWScale, f.TCPWScaleOrig = true, v[0]
	case attrWScaleRepl:
		f.HasTCPWScale, f.TCPWScaleRep = true, v[0]
	case attrHelperName:
		if len(v)+4 > helperNameMax {
			return dropf(DropPayload, "helper name: nta_len %d", len(v)+4)
		}
		name := v
		for i, c := range v {
			if c == 0 {
				name = v[:i]
				break
			}
		}
		f.Helper = string(name)
	case attrLabels:
		if len(v)+4 > labelsMax {
			return dropf(DropPayload, "labels: nta_len %d", len(v)+4)
		}
		f.Labels = make([]uint32, len(v)/4)
		for i := range f.Labels {
			f.Labels[i] = be32(v[4*i:])
		}
		if !labelsSet(f.Labels) {
			f.Labels = nil // the encoder leaves an empty bitmap out
		}
	case attrSNATIPv6:
		f.SNAT = addr16(v)
	case attrDNATIPv6:
		f.DNAT = addr16(v)
	case attrSynproxy:
		f.HasSynproxy = true
		f.Synproxy = Synproxy{be32(v), be32(v[4:]), be32(v[8:])}
	case attrZone:
		f.HasZone, f.Zone = true, be16(v)
	}
	return nil
}
