package vrrp

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"hash"
	"net/netip"
)

// IP Authentication Header for VRRPv2 (RFC 3768 §5.3.6.2 and RFC 2338
// §10.3, with the header of RFC 2402 §2), as keepalived implements it:
// IPv4 only, HMAC-MD5-96 (RFC 2403) keyed by the instance's auth_pass.
//
// An AH-wrapped advert is one IPv4 datagram of IP protocol 51:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  IPv4 header, protocol 51 (20 bytes sent; options accepted)   |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	| Next Hdr = 112| Payload Len=4 |          Reserved = 0         |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|        Security Parameters Index = IPv4 source address        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                        Sequence Number                        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     Integrity Check Value: HMAC-MD5 truncated to 96 bits      |
//	|                           (12 bytes)                          |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  VRRPv2 advert, Auth Type 2, Authentication Data all zero     |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// The ICV is HMAC-MD5 (key: auth_pass, at most 8 bytes) over the whole
// datagram with the IPv4 header's mutable fields zeroed — type of
// service, flags and fragment offset, header checksum, and the TTL only
// for unicast instances (a multicast advert's TTL of 255 is covered) —
// and the ICV field itself zeroed. The identification field is covered,
// so a sender must choose it (it cannot be left to the kernel).
//
// Sequence numbers: one counter per instance serves sending and receiving
// (AHState). It starts at 0; each advert sent carries the counter plus
// one; a received advert is accepted only when its number exceeds the
// counter, which then takes it. A master that hears a lower-priority
// advert sets the counter past that advert's number, so that a restarted
// higher-priority router catches up with the group.

// Specification constants of the AH encapsulation.
const (
	// ProtoAH is the IP protocol number of the Authentication Header
	// (RFC 2402 §2).
	ProtoAH = 51
	// AHLen is the length of the AH header with a 96-bit ICV.
	AHLen = 24
	// AHICVLen is the length of HMAC-MD5-96's ICV (RFC 2403 §2).
	AHICVLen = 12
	// ahPayloadLen is the AH Payload Len field: the header's length in
	// 32-bit words minus 2 (RFC 2402 §2.2).
	ahPayloadLen = AHLen/4 - 2
	// AHKeyLen is the key length: keepalived's 8 bytes of auth_pass.
	AHKeyLen = 8
	// AHSeqMax is the highest sequence number sent; the counter stops
	// there (keepalived's limit, over 136 years of 1-second adverts).
	AHSeqMax = 0xfffffffe

	ipv4HeaderLen = 20
	ipv4TOSNetCtl = 0xc0 // the type of service keepalived sends: network control
)

// MaxAHDatagramLen is a receive buffer size that holds any AH-wrapped
// VRRPv2 advert (IPv4 header with options, AH, 255 addresses).
const MaxAHDatagramLen = 60 + AHLen + HeaderLen + 255*4 + AuthDataLen

// AH computes and checks the ICV of AH-wrapped adverts under one key. It
// keeps a keyed HMAC state and scratch space: it is not safe for
// concurrent use (the daemon loop owns one per instance).
type AH struct {
	mac hash.Hash
	sum [md5.Size]byte
	hdr [60 + AHLen]byte // the headers with their mutable fields zeroed
}

// NewAH returns the AH for auth_pass pass. Like keepalived, it uses at
// most the first AHKeyLen bytes.
func NewAH(pass string) *AH {
	key := []byte(pass)
	if len(key) > AHKeyLen {
		key = key[:AHKeyLen]
	}
	return &AH{mac: hmac.New(md5.New, key)}
}

// icv computes the ICV of datagram d whose IPv4 header is ihl bytes long,
// with the mutable fields and the ICV treated as zero, into a.sum.
func (a *AH) icv(d []byte, ihl int, unicast bool) []byte {
	hdr := a.hdr[:]
	n := copy(hdr, d[:ihl+AHLen])
	hdr[1] = 0              // type of service
	hdr[6], hdr[7] = 0, 0   // flags, fragment offset
	hdr[10], hdr[11] = 0, 0 // header checksum
	if unicast {
		hdr[8] = 0 // TTL
	}
	clear(hdr[ihl+12 : ihl+AHLen]) // the ICV itself
	a.mac.Reset()
	a.mac.Write(hdr[:n])
	a.mac.Write(d[ihl+AHLen:])
	return a.mac.Sum(a.sum[:0])[:AHICVLen]
}

// AHParams are the per-datagram values of an AH-wrapped advert.
type AHParams struct {
	Src, Dst netip.Addr // IPv4 source (also the SPI) and destination
	ID       uint16     // IPv4 identification; 0 lets the kernel choose and breaks the ICV, so never 0
	Seq      uint32     // AH sequence number
	Unicast  bool       // the instance has unicast peers: the TTL is left out of the ICV
	TTL      uint8      // IPv4 TTL (a unicast instance's unicast_ttl); 0 means TTL (255)
}

// Append appends to b the whole IPv4 datagram carrying p under AH: the
// IPv4 header (type of service 0xc0, TTL h.TTL or 255, protocol 51, its checksum
// filled in), the AH header with the ICV, and p encoded with its
// checksum. p must be a VRRPv2 advert with AuthType AuthAH.
func (a *AH) Append(b []byte, p *Packet, h AHParams) ([]byte, error) {
	if p.Version != 2 || p.AuthType != AuthAH || p.Is6() {
		return b, fmt.Errorf("%w: AH carries only VRRPv2 IPv4 adverts with auth type %d", ErrInvalid, AuthAH)
	}
	if !h.Src.Is4() || !h.Dst.Is4() {
		return b, fmt.Errorf("%w: AH needs IPv4 addresses, not %v → %v", ErrInvalid, h.Src, h.Dst)
	}
	if h.ID == 0 {
		return b, fmt.Errorf("%w: AH datagram with IPv4 identification 0", ErrInvalid)
	}
	start := len(b)
	ttl := h.TTL
	if ttl == 0 {
		ttl = TTL
	}
	src, dst := h.Src.As4(), h.Dst.As4()
	total := ipv4HeaderLen + AHLen + p.Len()
	b = append(b, 0x45, ipv4TOSNetCtl, byte(total>>8), byte(total), byte(h.ID>>8), byte(h.ID), 0, 0,
		ttl, ProtoAH, 0, 0)
	b = append(b, src[:]...)
	b = append(b, dst[:]...)
	b = append(b, IPProto, ahPayloadLen, 0, 0)
	b = append(b, src[:]...) // SPI: the sender's address, as keepalived chooses it
	b = binary.BigEndian.AppendUint32(b, h.Seq)
	b = append(b, make([]byte, AHICVLen)...)
	b, err := p.AppendChecksummed(b, h.Src, h.Dst)
	if err != nil {
		return b[:start], err
	}
	d := b[start:]
	binary.BigEndian.PutUint16(d[10:12], ^fold(sum(d[:ipv4HeaderLen], 0)))
	copy(d[ipv4HeaderLen+12:ipv4HeaderLen+AHLen], a.icv(d, ipv4HeaderLen, h.Unicast))
	return b, nil
}

// SplitAH returns the VRRP message carried by an AH-wrapped IPv4 datagram
// d, and the AH sequence number, checking only the syntax: an IPv4 header
// of protocol 51 with room for the AH header, whose next header is VRRP.
// It does not verify the ICV: use Open. ok is false for anything else.
func SplitAH(d []byte) (msg []byte, seq uint32, ok bool) {
	if len(d) < ipv4HeaderLen || d[0]>>4 != 4 || d[9] != ProtoAH {
		return nil, 0, false
	}
	ihl := int(d[0]&0x0f) * 4
	if ihl < ipv4HeaderLen || len(d) < ihl+AHLen {
		return nil, 0, false
	}
	ah := d[ihl:]
	if ah[0] != IPProto || ah[1] != ahPayloadLen {
		return nil, 0, false
	}
	return d[ihl+AHLen:], binary.BigEndian.Uint32(ah[8:12]), true
}

// Open checks AH-wrapped IPv4 datagram d (IPv4 header included, trailing
// bytes beyond the header's total length removed): its syntax (SplitAH;
// DropLength), its ICV under a's key, compared in constant time
// (DropAHICV), and that the SPI is the source address (DropAHSPI). It
// returns the VRRP message, the sequence number and DropNone. unicast
// says whether the TTL is left out of the ICV, as for the sender's
// instance. The replay check is AHState's. Open does not allocate.
func (a *AH) Open(d []byte, unicast bool) (msg []byte, seq uint32, r DropReason) {
	msg, seq, ok := SplitAH(d)
	if !ok {
		return nil, 0, DropLength
	}
	ihl := int(d[0]&0x0f) * 4
	if subtle.ConstantTimeCompare(a.icv(d, ihl, unicast), d[ihl+12:ihl+AHLen]) != 1 {
		return nil, 0, DropAHICV
	}
	if [4]byte(d[ihl+4:ihl+8]) != [4]byte(d[12:16]) {
		return nil, 0, DropAHSPI
	}
	return msg, seq, DropNone
}

// AHState is one instance's AH counters: the sequence number, shared by
// sending and the replay check as in keepalived, and the IPv4
// identification of the adverts it sends. The zero value is a fresh
// instance. It is a pure value: the daemon loop owns it.
type AHState struct {
	seq uint32
	id  uint16
}

// Next returns the sequence number and IPv4 identification of the next
// advert round (one number for all unicast peers of one round). The
// sequence number stops at AHSeqMax; the identification skips 0.
func (s *AHState) Next() (seq uint32, id uint16) {
	if s.seq < AHSeqMax {
		s.seq++
	}
	s.id++
	if s.id == 0 {
		s.id = 1
	}
	return s.seq, s.id
}

// Accept is the replay check of an authenticated advert: it accepts seq
// and remembers it when it is above the counter, and refuses it
// otherwise (the advert is DropAHReplay).
func (s *AHState) Accept(seq uint32) bool {
	if seq <= s.seq {
		return false
	}
	s.seq = seq
	return true
}

// HeardLower is called when, as master, the instance accepted an advert
// with sequence number seq that loses to ours: the counter moves past it
// (keepalived's "Syncing seq_num"), so our next adverts are above anything
// the other router sent and its replay check accepts them.
func (s *AHState) HeardLower(seq uint32) {
	if seq < AHSeqMax && seq+1 > s.seq {
		s.seq = seq + 1
	}
}

// Seq returns the counter: the number last sent or accepted.
func (s *AHState) Seq() uint32 { return s.seq }

// A receive buffer of MaxMessageLen holds any AH-wrapped advert.
var _ [MaxMessageLen - MaxAHDatagramLen]struct{}
