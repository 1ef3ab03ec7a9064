package vrrp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// Specification constants (RFC 5798 §5.1, §5.2; RFC 3768 §5.1, §5.3).
const (
	// IPProto is the IP protocol number of VRRP (RFC 5798 §5.1.1.4, §5.1.2.3).
	IPProto = 112
	// TTL is the IPv4 TTL / IPv6 hop limit every advert is sent with and
	// must arrive with (RFC 5798 §5.1.1.3, §5.1.2.2).
	TTL = 255
	// TypeAdvertisement is the only packet type VRRP defines (RFC 5798 §5.2.2).
	TypeAdvertisement = 1
	// HeaderLen is the length of the fixed VRRP header (RFC 5798 §5.1).
	HeaderLen = 8
	// AuthDataLen is the length of the v2 authentication data that follows
	// the addresses (RFC 3768 §5.3.10).
	AuthDataLen = 8
	// MaxAdvertCentisLimit is the largest v3 Max Advertise Interval: 12 bits
	// of centiseconds (RFC 5798 §5.2.7).
	MaxAdvertCentisLimit = 0x0fff
)

// VRRPv2 authentication types (RFC 3768 §5.3.6). Type 2 (IP AH) wraps the
// advert in an Authentication Header (ah.go).
const (
	AuthNone     = 0
	AuthPassword = 1
	AuthAH       = 2
)

// Multicast groups adverts are sent to (RFC 5798 §5.1.1.2, §5.1.2.2).
var (
	GroupIPv4 = netip.AddrFrom4([4]byte{224, 0, 0, 18})
	GroupIPv6 = netip.AddrFrom16([16]byte{0xff, 0x02, 15: 0x12})
)

// Errors returned by the codec. Decode errors wrap ErrLength or ErrVersion
// so that a receiver can count them by DropReason (see Accept).
var (
	// ErrLength: the buffer is shorter or longer than the header's address
	// count says.
	ErrLength = errors.New("vrrp: packet length does not match its address count")
	// ErrVersion: the version nibble is neither 2 nor 3, or v2 is used with
	// IPv6 (RFC 3768 defines VRRPv2 for IPv4 only).
	ErrVersion = errors.New("vrrp: unsupported version")
	// ErrInvalid: a Packet cannot be encoded (field out of range, mixed
	// address families, too many addresses).
	ErrInvalid = errors.New("vrrp: invalid packet")
)

// Packet is one VRRP advertisement, version 2 or 3. Units are in the field
// names. The field set is the union of both versions; fields of the other
// version are zero after decoding and ignored when encoding.
//
// VRRPv3 (RFC 5798 §5.1), IPv4 or IPv6; n addresses of 4 or 16 bytes each:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|Version| Type  |     VRID      |   Priority    |  Count IPvX   |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	| (rsvd)|   Max Adver Int (cs)  |           Checksum            |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    IPvX Address(es) ...                       |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// The v3 checksum covers an IP pseudo-header (IPv4: src, dst, zero,
// protocol 112, VRRP length; IPv6: src, dst, 32-bit length, 3 zero bytes,
// next header 112) followed by the VRRP message.
//
// VRRPv2 (RFC 3768 §5.1), IPv4 only; checksum over the VRRP message alone:
//
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|Version| Type  |     VRID      |   Priority    | Count IP Addrs|
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|   Auth Type   |  Adver Int (s)|           Checksum            |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    IPv4 Address(es) ...                       |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                 Authentication Data (8 bytes)                 |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
type Packet struct {
	Version  int   // 2 or 3 (high nibble of byte 0)
	Type     int   // low nibble of byte 0; 1 (advertisement) is the only valid type, checked by Check
	VRID     uint8 // virtual router identifier
	Priority uint8 // 255 = address owner, 0 = master is leaving

	MaxAdvertCentis  uint16 // v3: advertisement interval in centiseconds, 12 bits
	AdvertIntSeconds uint8  // v2: advertisement interval in whole seconds

	AuthType uint8   // v2: AuthNone, AuthPassword or AuthAH
	AuthData [8]byte // v2: for AuthPassword the password, zero padded

	// Addrs are the virtual addresses, all IPv4 or all IPv6, without zone.
	// Decoding reuses the slice's capacity.
	Addrs []netip.Addr

	// Checksum is the value on the wire. AppendBinary writes it as is;
	// AppendChecksummed ignores it and writes the computed one.
	Checksum uint16
}

// Len returns the encoded length of p in bytes.
func (p *Packet) Len() int {
	n := HeaderLen
	for _, a := range p.Addrs {
		if a.Is4() {
			n += 4
		} else {
			n += 16
		}
	}
	if p.Version == 2 {
		n += AuthDataLen
	}
	return n
}

// Is6 reports whether p carries IPv6 addresses. A packet without addresses
// reports false.
func (p *Packet) Is6() bool {
	return len(p.Addrs) > 0 && p.Addrs[0].Is6()
}

// UnmarshalBinary decodes b, a VRRP message without IP header, inferring
// the address family from the length (v2 is always IPv4; a v3 packet
// without addresses decodes as IPv4). Use UnmarshalFamily when the family
// is known from the socket, as a receiver always knows it.
func (p *Packet) UnmarshalBinary(b []byte) error {
	is6 := false
	if len(b) >= HeaderLen && b[0]>>4 == 3 {
		n := int(b[3])
		is6 = n > 0 && len(b) == HeaderLen+16*n
	}
	return p.UnmarshalFamily(b, is6)
}

// UnmarshalFamily decodes b, a VRRP message without IP header, whose
// addresses are IPv6 if is6. It checks syntax only: the version nibble is 2
// or 3 (2 only with IPv4), and the length is exactly the header plus the
// address count times the address size (plus 8 bytes of authentication
// data for v2). Semantics (type, checksum, VRID, ...) are Check's job.
// Errors wrap ErrLength or ErrVersion. Decoding does not allocate when
// p.Addrs has enough capacity.
func (p *Packet) UnmarshalFamily(b []byte, is6 bool) error {
	if len(b) < HeaderLen {
		return fmt.Errorf("%w: %d bytes, header needs %d", ErrLength, len(b), HeaderLen)
	}
	v := int(b[0] >> 4)
	if v != 2 && v != 3 || v == 2 && is6 {
		return fmt.Errorf("%w: version %d (ipv6=%t)", ErrVersion, v, is6)
	}
	alen := 4
	if is6 {
		alen = 16
	}
	n := int(b[3])
	want := HeaderLen + n*alen
	if v == 2 {
		want += AuthDataLen
	}
	if len(b) != want {
		return fmt.Errorf("%w: %d bytes, %d addresses need %d", ErrLength, len(b), n, want)
	}
	*p = Packet{
		Version:  v,
		Type:     int(b[0] & 0x0f),
		VRID:     b[1],
		Priority: b[2],
		Checksum: binary.BigEndian.Uint16(b[6:8]),
		Addrs:    p.Addrs[:0],
	}
	if v == 3 {
		p.MaxAdvertCentis = binary.BigEndian.Uint16(b[4:6]) & MaxAdvertCentisLimit
	} else {
		p.AuthType = b[4]
		p.AdvertIntSeconds = b[5]
		copy(p.AuthData[:], b[HeaderLen+n*4:])
	}
	for i := 0; i < n; i++ {
		off := HeaderLen + i*alen
		if is6 {
			a := netip.AddrFrom16([16]byte(b[off : off+16]))
			if a.Is4In6() {
				// AppendBinary refuses it too: a VRRP address list is
				// IPv4 or IPv6, never an IPv4 address in IPv6 clothing.
				return fmt.Errorf("%w: IPv4-mapped address %v in an IPv6 advert", ErrInvalid, a)
			}
			p.Addrs = append(p.Addrs, a)
		} else {
			p.Addrs = append(p.Addrs, netip.AddrFrom4([4]byte(b[off:off+4])))
		}
	}
	return nil
}

// AppendBinary appends the encoding of p to b, with p.Checksum written as
// is. It is the exact inverse of UnmarshalFamily: decoding a buffer and
// encoding the result gives the same bytes, except that the 4 reserved
// bits of a v3 packet are always written as zero. Errors wrap ErrInvalid.
func (p *Packet) AppendBinary(b []byte) ([]byte, error) {
	if err := p.validate(); err != nil {
		return b, err
	}
	b = append(b, byte(p.Version<<4|p.Type), p.VRID, p.Priority, byte(len(p.Addrs)))
	if p.Version == 3 {
		b = binary.BigEndian.AppendUint16(b, p.MaxAdvertCentis)
	} else {
		b = append(b, p.AuthType, p.AdvertIntSeconds)
	}
	b = binary.BigEndian.AppendUint16(b, p.Checksum)
	for _, a := range p.Addrs {
		b = append(b, a.AsSlice()...)
	}
	if p.Version == 2 {
		b = append(b, p.AuthData[:]...)
	}
	return b, nil
}

// AppendChecksummed appends the encoding of p to b like AppendBinary, but
// with the checksum computed for a packet sent from src to dst (v3: IP
// pseudo-header plus message; v2: message only, src and dst unused).
// p.Checksum is neither read nor changed.
func (p *Packet) AppendChecksummed(b []byte, src, dst netip.Addr) ([]byte, error) {
	start := len(b)
	b, err := p.AppendBinary(b)
	if err != nil {
		return b, err
	}
	msg := b[start:]
	msg[6], msg[7] = 0, 0
	c := checksum(msg, src, dst)
	binary.BigEndian.PutUint16(msg[6:8], c)
	return b, nil
}

// ComputeChecksum returns the checksum p must carry when sent from src to dst
// (v2 ignores src and dst). p.Checksum does not take part.
func (p *Packet) ComputeChecksum(src, dst netip.Addr) (uint16, error) {
	var buf [HeaderLen + 255*16 + AuthDataLen]byte
	b, err := p.AppendBinary(buf[:0])
	if err != nil {
		return 0, err
	}
	b[6], b[7] = 0, 0
	return checksum(b, src, dst), nil
}

func (p *Packet) validate() error {
	if p.Version != 2 && p.Version != 3 {
		return fmt.Errorf("%w: version %d", ErrInvalid, p.Version)
	}
	if p.Type < 0 || p.Type > 15 {
		return fmt.Errorf("%w: type %d does not fit 4 bits", ErrInvalid, p.Type)
	}
	if len(p.Addrs) > 255 {
		return fmt.Errorf("%w: %d addresses, at most 255", ErrInvalid, len(p.Addrs))
	}
	if p.Version == 3 && p.MaxAdvertCentis > MaxAdvertCentisLimit {
		return fmt.Errorf("%w: max advert interval %d cs does not fit 12 bits", ErrInvalid, p.MaxAdvertCentis)
	}
	is6 := p.Is6()
	for _, a := range p.Addrs {
		if !a.IsValid() || a.Is4In6() || a.Is6() != is6 || a.Zone() != "" {
			return fmt.Errorf("%w: address %v: all addresses must be IPv4, or all IPv6 without zone", ErrInvalid, a)
		}
	}
	if p.Version == 2 && is6 {
		return fmt.Errorf("%w: VRRPv2 carries IPv4 addresses only", ErrInvalid)
	}
	return nil
}

// VerifyChecksum reports whether raw, an encoded VRRP message received
// from src for dst, carries a correct checksum: for v3 (version nibble 3)
// with the IP pseudo-header of src and dst, for anything else over the
// message alone. It does not allocate.
func VerifyChecksum(raw []byte, src, dst netip.Addr) bool {
	if len(raw) < HeaderLen {
		return false
	}
	return fold(sum(raw, pseudoSum(raw, src, dst))) == 0xffff
}

// checksum computes the checksum of msg, whose checksum field is zero.
func checksum(msg []byte, src, dst netip.Addr) uint16 {
	return ^fold(sum(msg, pseudoSum(msg, src, dst)))
}

// pseudoSum returns the partial sum of the pseudo-header for a v3 message,
// or 0 for v2 (RFC 5798 §5.2.8; RFC 3768 §5.3.8).
func pseudoSum(msg []byte, src, dst netip.Addr) uint32 {
	if msg[0]>>4 != 3 {
		return 0
	}
	var s uint32
	if src.Is4() && dst.Is4() {
		a, d := src.As4(), dst.As4()
		s = sum(a[:], 0)
		s = sum(d[:], s)
	} else {
		a, d := src.As16(), dst.As16()
		s = sum(a[:], 0)
		s = sum(d[:], s)
	}
	// Length and protocol: the IPv4 (zero, proto, 16-bit length) and IPv6
	// (32-bit length, zeros, next header) layouts sum to the same value
	// for lengths below 65536.
	return s + uint32(len(msg)) + IPProto
}

// sum adds b as big-endian 16-bit words to s (RFC 1071).
func sum(b []byte, s uint32) uint32 {
	for len(b) >= 2 {
		s += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint32(b[0]) << 8
	}
	return s
}

func fold(s uint32) uint16 {
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return uint16(s)
}
