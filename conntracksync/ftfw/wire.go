package ftfw

import (
	"encoding/binary"
	"fmt"
)

// Specification constants (conntrack-tools 1.4.7, include/network.h).
const (
	// Version is the only message version conntrackd accepts (CONNTRACKD_PROTOCOL_VERSION).
	Version = 1
	// HeaderLen is the length of the common message header.
	HeaderLen = 8
	// ControlLen is the length of an ACK, NACK or RESYNC message (header plus from/to).
	ControlLen = 16
	// DefaultPort is conntrackd's default UDP port.
	DefaultPort = 3780
	// overheadIPv4 / overheadIPv6 are the IP and UDP headers subtracted from the MTU.
	overheadIPv4 = 20 + 8
	overheadIPv6 = 40 + 8
)

// Type is the 4-bit message type.
type Type uint8

// Message types (network.h NET_T_*).
const (
	TypeNew    Type = 0  // CT_NEW: conntrack entry created
	TypeUpd    Type = 1  // CT_UPD: conntrack entry updated
	TypeDel    Type = 2  // CT_DEL: conntrack entry destroyed (full entry)
	TypeExpNew Type = 3  // EXP_NEW: expectation created
	TypeExpUpd Type = 4  // EXP_UPD: expectation updated
	TypeExpDel Type = 5  // EXP_DEL: expectation destroyed
	TypeCtl    Type = 10 // control message, flags say which
)

func (t Type) String() string {
	switch t {
	case TypeNew:
		return "CT_NEW"
	case TypeUpd:
		return "CT_UPD"
	case TypeDel:
		return "CT_DEL"
	case TypeExpNew:
		return "EXP_NEW"
	case TypeExpUpd:
		return "EXP_UPD"
	case TypeExpDel:
		return "EXP_DEL"
	case TypeCtl:
		return "CTL"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// IsData reports whether t carries conntrack TLVs.
func (t Type) IsData() bool { return t <= TypeDel }

// IsExpect reports whether t carries expectation TLVs.
func (t Type) IsExpect() bool { return t >= TypeExpNew && t <= TypeExpDel }

// Flags is the header's flag byte.
type Flags uint8

// Flag bits (network.h NET_F_*).
const (
	FlagResync    Flags = 1 << 1 // CTL: send me your whole cache
	FlagNack      Flags = 1 << 2 // CTL: retransmit from..to
	FlagAck       Flags = 1 << 3 // CTL: I have from..to
	FlagAlive     Flags = 1 << 4 // CTL: keepalive / sequence probe
	FlagHello     Flags = 1 << 5 // any message: I am new, answer with HELLO_BACK
	FlagHelloBack Flags = 1 << 6 // any message: your HELLO was seen
)

// hasRange reports whether a CTL message with these flags carries from/to.
func (f Flags) hasRange() bool { return f&(FlagResync|FlagNack|FlagAck) != 0 }

// Message is one FTFW message. For data messages Flow is the entry; for expectation
// messages Exp is the expectation; for CTL messages with ACK, NACK or RESYNC, From and
// To are the inclusive sequence range.
type Message struct {
	Type  Type
	Flags Flags
	Seq   uint32
	From  uint32 // CTL with ACK, NACK or RESYNC
	To    uint32 // CTL with ACK, NACK or RESYNC
	Flow  Flow   // data messages
	Exp   Expect // expectation messages
}

// AppendBinary appends m's wire form to b. It is the exact inverse of UnmarshalBinary
// for every message this package can produce. It fails only for a data message whose
// Flow (or expectation message whose Exp) cannot be encoded, or one longer than 65535
// bytes.
func (m *Message) AppendBinary(b []byte) ([]byte, error) {
	start := len(b)
	b = append(b, Version<<4|byte(m.Type)&0x0f, byte(m.Flags), 0, 0, 0, 0, 0, 0)
	binary.BigEndian.PutUint32(b[start+4:], m.Seq)
	switch {
	case m.Type == TypeCtl && m.Flags.hasRange():
		b = binary.BigEndian.AppendUint32(b, m.From)
		b = binary.BigEndian.AppendUint32(b, m.To)
	case m.Type.IsData():
		var err error
		if b, err = m.Flow.appendTLVs(b); err != nil {
			return b[:start], err
		}
	case m.Type.IsExpect():
		var err error
		if b, err = m.Exp.appendTLVs(b); err != nil {
			return b[:start], err
		}
	}
	n := len(b) - start
	if n > 0xffff {
		return b[:start], fmt.Errorf("ftfw: message of %d bytes: %w", n, ErrTooLong)
	}
	binary.BigEndian.PutUint16(b[start+2:], uint16(n))
	return b, nil
}

// Len returns the encoded length of m without encoding it.
func (m *Message) Len() int {
	switch {
	case m.Type == TypeCtl && m.Flags.hasRange():
		return ControlLen
	case m.Type.IsData():
		return HeaderLen + m.Flow.tlvLen()
	case m.Type.IsExpect():
		return HeaderLen + m.Exp.tlvLen()
	}
	return HeaderLen
}

// UnmarshalBinary decodes one message. b must hold at least the message's len bytes
// (extra bytes are ignored, so a datagram's tail can be passed); Walk finds message
// boundaries. It checks syntax only (conntrackd's receive rules); a failure is an
// *Error carrying a DropReason.
func (m *Message) UnmarshalBinary(b []byte) error {
	if len(b) < HeaderLen {
		return dropf(DropShort, "message of %d bytes", len(b))
	}
	if v := b[0] >> 4; v != Version {
		return dropf(DropVersion, "version %d", v)
	}
	n := int(binary.BigEndian.Uint16(b[2:]))
	if n < HeaderLen || n > len(b) {
		return dropf(DropLength, "len %d with %d bytes", n, len(b))
	}
	b = b[:n]
	*m = Message{Type: Type(b[0] & 0x0f), Flags: Flags(b[1]), Seq: binary.BigEndian.Uint32(b[4:])}
	switch {
	case m.Type == TypeCtl:
		if m.Flags.hasRange() {
			if n < ControlLen {
				return dropf(DropLength, "control len %d", n)
			}
			m.From = binary.BigEndian.Uint32(b[8:])
			m.To = binary.BigEndian.Uint32(b[12:])
		}
	case m.Type.IsData():
		if m.Flags&^(FlagHello|FlagHelloBack) != 0 {
			return dropf(DropFlags, "flags %#02x on %v", uint8(m.Flags), m.Type)
		}
		return m.Flow.parseTLVs(b[HeaderLen:])
	case m.Type.IsExpect():
		if m.Flags&^(FlagHello|FlagHelloBack) != 0 {
			return dropf(DropFlags, "flags %#02x on %v", uint8(m.Flags), m.Type)
		}
		return m.Exp.parseTLVs(b[HeaderLen:])
	default:
		return dropf(DropType, "type %d", uint8(m.Type))
	}
	return nil
}

// Header reads the header fields of the message at the start of b without checking
// anything but its presence. ok is false if b is shorter than HeaderLen.
func Header(b []byte) (typ Type, flags Flags, length int, seq uint32, ok bool) {
	if len(b) < HeaderLen {
		return 0, 0, 0, 0, false
	}
	return Type(b[0] & 0x0f), Flags(b[1]), int(binary.BigEndian.Uint16(b[2:])), binary.BigEndian.Uint32(b[4:]), true
}
