package ftfw

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
)

// Expectation attribute numbers (network.h enum nta_exp_attr, a namespace of their
// own). Their payloads: the three tuples (master, expected, mask) as an address pair, a
// protocol byte and a port pair, all in network order (conntrackd copies
// libnetfilter_conntrack's groups raw); TIMEOUT, FLAGS, CLASS and NAT_DIR as u32 BE;
// HELPER_NAME and FN as NUL-terminated strings of at most NFCT_HELPER_NAME_MAX bytes
// including the attribute header.
const (
	expMasterIPv4    = 0
	expMasterIPv6    = 1
	expMasterL4Proto = 2
	expMasterPort    = 3
	expExpectIPv4    = 4
	expExpectIPv6    = 5
	expExpectL4Proto = 6
	expExpectPort    = 7
	expMaskIPv4      = 8
	expMaskIPv6      = 9
	expMaskL4Proto   = 10
	expMaskPort      = 11
	expTimeout       = 12
	expFlags         = 13
	expClass         = 14
	expNATIPv4       = 15
	expNATPort       = 16
	expNATL4Proto    = 17
	expNATDir        = 18
	expHelperName    = 19
	expFn            = 20
)

// expAttrLen is the exact nta_len of each fixed-size expectation attribute (parse.c
// exp_h); 0 marks the two strings, which have only a maximum (helperNameMax).
var expAttrLen = [ntaExpMax]uint16{
	expMasterIPv4: 12, expMasterIPv6: 36, expMasterL4Proto: 5, expMasterPort: 8,
	expExpectIPv4: 12, expExpectIPv6: 36, expExpectL4Proto: 5, expExpectPort: 8,
	expMaskIPv4: 12, expMaskIPv6: 36, expMaskL4Proto: 5, expMaskPort: 8,
	expTimeout: 8, expFlags: 8, expClass: 8, expNATIPv4: 12, expNATPort: 8,
	expNATL4Proto: 5, expNATDir: 8,
}

// ExpTuple is one tuple of an expectation: addresses, protocol and ports, in original
// direction. In a mask, a set bit means the bit must match.
type ExpTuple struct {
	Src, Dst         netip.Addr
	Proto            uint8
	HasPorts         bool // the port pair is on the wire (conntrackd: TCP, UDP, SCTP, DCCP masters)
	SrcPort, DstPort uint16
}

// Expect is one conntrack expectation as FTFW carries it (EXP_NEW / EXP_UPD / EXP_DEL):
// the master connection's original tuple, the expected connection's tuple and mask, and
// the expectation's own properties. Optional attributes are encoded when their Has*
// field is set (or, for the strings, when not empty), so that a decoded conntrackd
// message re-encodes byte for byte.
type Expect struct {
	Master, Tuple, Mask ExpTuple

	HasTimeout  bool
	TimeoutSecs uint32 // seconds left (left out by a sender with CommitTimeout)
	HasFlags    bool   // conntrackd always sends FLAGS
	Flags       uint32 // NF_CT_EXPECT_* bits (PERMANENT, INACTIVE, USERSPACE)
	HasClass    bool
	Class       uint32

	// NAT of the expected connection (IPv4 only in conntrackd 1.4.7): NATTuple's Src
	// and Dst hold the saved address pair, its ports the saved port pair.
	HasNAT   bool
	NATTuple ExpTuple
	NATDir   uint32

	Helper string // helper name ("ftp", "sip", ...), at most 11 bytes
	Fn     string // expectfn name ("nat-follow-master", ...), at most 11 bytes
}

// ExpNameMax is the longest helper or expectfn name an expectation message carries:
// conntrackd drops a message whose name attribute is longer than NFCT_HELPER_NAME_MAX
// (16) bytes with its header and NUL.
const ExpNameMax = helperNameMax - 5

// ExpKey identifies an expectation for collapsing updates: the expected tuple and the
// master's tuple (two masters may expect the same wildcard tuple).
type ExpKey struct {
	Src, Dst                     netip.Addr
	Proto                        uint8
	SrcPort, DstPort             uint16
	MasterSrc, MasterDst         netip.Addr
	MasterSrcPort, MasterDstPort uint16
}

// Key returns e's identity.
func (e *Expect) Key() ExpKey {
	return ExpKey{Src: e.Tuple.Src, Dst: e.Tuple.Dst, Proto: e.Tuple.Proto,
		SrcPort: e.Tuple.SrcPort, DstPort: e.Tuple.DstPort,
		MasterSrc: e.Master.Src, MasterDst: e.Master.Dst,
		MasterSrcPort: e.Master.SrcPort, MasterDstPort: e.Master.DstPort}
}

// ExpHasPorts reports whether conntrackd puts the port pairs of an expectation whose
// master has protocol proto on the wire (build.c exp_l4proto_fcn).
func ExpHasPorts(proto uint8) bool {
	return proto == ProtoTCP || proto == ProtoUDP || proto == ProtoSCTP || proto == ProtoDCCP
}

func (t *ExpTuple) tlvLen() int {
	n := 8 // L4PROTO
	if t.Src.Is4() {
		n += 12
	} else if t.Src.IsValid() {
		n += 36
	}
	if t.HasPorts {
		n += 8
	}
	return n
}

func strLen(s string) int {
	if s == "" {
		return 0
	}
	return (4 + len(s) + 1 + 3) &^ 3
}

// tlvLen is the encoded size of e's attributes.
func (e *Expect) tlvLen() int {
	n := e.Master.tlvLen() + e.Tuple.tlvLen() + e.Mask.tlvLen()
	for _, has := range [3]bool{e.HasTimeout, e.HasFlags, e.HasClass} {
		if has {
			n += 8
		}
	}
	if e.HasNAT {
		n += 12 + 8 + 8 // NAT_IPV4, NAT_L4PROTO, NAT_DIR
		if e.NATTuple.HasPorts {
			n += 8
		}
	}
	return n + strLen(e.Helper) + strLen(e.Fn)
}

// appendTuple appends one tuple as conntrackd's exp2msg does: addresses, protocol,
// ports. base is the tuple's IPV4 attribute number (IPV6, L4PROTO and PORT follow).
func (t *ExpTuple) appendTLVs(b []byte, base int) []byte {
	switch {
	case t.Src.Is4():
		b = putHdr(b, base, 8)
		b = append(b, t.Src.AsSlice()...)
		b = append(b, t.Dst.AsSlice()...)
	case t.Src.IsValid():
		b = putHdr(b, base+1, 32)
		b = append(b, t.Src.AsSlice()...)
		b = append(b, t.Dst.AsSlice()...)
	}
	b = appendU8(b, base+2, t.Proto)
	if t.HasPorts {
		b = appendPorts(b, base+3, t.SrcPort, t.DstPort)
	}
	return b
}

func appendStr(b []byte, attr int, s string) []byte {
	b = putHdr(b, attr, len(s)+1)
	b = append(b, s...)
	b = append(b, 0)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// appendTLVs appends e's attributes in conntrackd's order (build.c exp2msg).
func (e *Expect) appendTLVs(b []byte) ([]byte, error) {
	if err := e.validate(); err != nil {
		return b, err
	}
	b = e.Master.appendTLVs(b, expMasterIPv4)
	b = e.Tuple.appendTLVs(b, expExpectIPv4)
	b = e.Mask.appendTLVs(b, expMaskIPv4)
	if e.HasTimeout {
		b = appendU32(b, expTimeout, e.TimeoutSecs)
	}
	if e.HasFlags {
		b = appendU32(b, expFlags, e.Flags)
	}
	if e.HasClass {
		b = appendU32(b, expClass, e.Class)
	}
	if e.HasNAT {
		b = putHdr(b, expNATIPv4, 8)
		b = append(b, e.NATTuple.Src.AsSlice()...)
		b = append(b, e.NATTuple.Dst.AsSlice()...)
		b = appendU8(b, expNATL4Proto, e.NATTuple.Proto)
		if e.NATTuple.HasPorts {
			b = appendPorts(b, expNATPort, e.NATTuple.SrcPort, e.NATTuple.DstPort)
		}
		b = appendU32(b, expNATDir, e.NATDir)
	}
	if e.Helper != "" {
		b = appendStr(b, expHelperName, e.Helper)
	}
	if e.Fn != "" {
		b = appendStr(b, expFn, e.Fn)
	}
	return b, nil
}

func (t *ExpTuple) validate(what string) error {
	if !t.Src.IsValid() && !t.Dst.IsValid() {
		return nil
	}
	if !(t.Src.Is4() && t.Dst.Is4()) && !(t.Src.Is6() && t.Dst.Is6() && !t.Src.Is4In6() && !t.Dst.Is4In6()) {
		return fmt.Errorf("ftfw: expectation %s %v -> %v: addresses must be both IPv4 or both IPv6", what, t.Src, t.Dst)
	}
	return nil
}

// validate reports whether e can be encoded, without encoding it.
func (e *Expect) validate() error {
	if !e.Master.Src.IsValid() || !e.Tuple.Src.IsValid() {
		return fmt.Errorf("ftfw: expectation without master or expected addresses")
	}
	for _, t := range [...]struct {
		t    *ExpTuple
		what string
	}{{&e.Master, "master"}, {&e.Tuple, "tuple"}, {&e.Mask, "mask"}} {
		if err := t.t.validate(t.what); err != nil {
			return err
		}
	}
	if e.HasNAT && !(e.NATTuple.Src.Is4() && e.NATTuple.Dst.Is4()) {
		return fmt.Errorf("ftfw: expectation NAT %v -> %v: IPv4 only", e.NATTuple.Src, e.NATTuple.Dst)
	}
	for _, s := range [2]string{e.Helper, e.Fn} {
		if len(s)+5 > helperNameMax || strings.IndexByte(s, 0) >= 0 {
			return fmt.Errorf("ftfw: expectation name %q: at most %d bytes, no NUL", s, helperNameMax-5)
		}
	}
	return nil
}

// parseTLVs decodes expectation attributes into e (e must be zero) with conntrackd's
// checks (parse.c msg2exp): exact lengths, the strings' maximum, known numbers.
func (e *Expect) parseTLVs(p []byte) error {
	err := walkTLVs(p, ntaExpMax, e.parseAttr)
	if err != nil {
		return err
	}
	if !e.Master.Src.IsValid() || !e.Tuple.Src.IsValid() {
		return dropf(DropFlow, "expectation without master or expected addresses")
	}
	return nil
}

func cstr(v []byte) string {
	for i, c := range v {
		if c == 0 {
			return string(v[:i])
		}
	}
	return string(v)
}

func (e *Expect) parseAttr(attr int, v []byte) error {
	if want := expAttrLen[attr]; want != 0 && len(v)+4 != int(want) {
		return dropf(DropPayload, "expectation attribute %d: nta_len %d, want %d", attr, len(v)+4, want)
	}
	be16 := binary.BigEndian.Uint16
	be32 := binary.BigEndian.Uint32
	tuple := func(t *ExpTuple, off int) {
		switch attr - off {
		case 0:
			t.Src, t.Dst = addr4(v), addr4(v[4:])
		case 1:
			t.Src, t.Dst = addr16(v), addr16(v[16:])
		case 2:
			t.Proto = v[0]
		case 3:
			t.HasPorts, t.SrcPort, t.DstPort = true, be16(v), be16(v[2:])
		}
	}
	switch {
	case attr <= expMasterPort:
		tuple(&e.Master, expMasterIPv4)
	case attr <= expExpectPort:
		tuple(&e.Tuple, expExpectIPv4)
	case attr <= expMaskPort:
		tuple(&e.Mask, expMaskIPv4)
	}
	switch attr {
	case expTimeout:
		e.HasTimeout, e.TimeoutSecs = true, be32(v)
	case expFlags:
		e.HasFlags, e.Flags = true, be32(v)
	case expClass:
		e.HasClass, e.Class = true, be32(v)
	case expNATIPv4:
		e.HasNAT = true
		e.NATTuple.Src, e.NATTuple.Dst = addr4(v), addr4(v[4:])
	case expNATL4Proto:
		e.HasNAT = true
		e.NATTuple.Proto = v[0]
	case expNATPort:
		e.HasNAT = true
		e.NATTuple.HasPorts, e.NATTuple.SrcPort, e.NATTuple.DstPort = true, be16(v), be16(v[2:])
	case expNATDir:
		e.HasNAT = true
		e.NATDir = be32(v)
	case expHelperName, expFn:
		if len(v)+4 > helperNameMax {
			return dropf(DropPayload, "expectation name: nta_len %d", len(v)+4)
		}
		if attr == expHelperName {
			e.Helper = cstr(v)
		} else {
			e.Fn = cstr(v)
		}
	}
	return nil
}
