package vrrp

import (
	"crypto/subtle"
	"errors"
	"net/netip"
)

// DropReason says why a received advert is not handed to the state machine
// (RFC 5798 §7.1, RFC 3768 §7.1, plus keepalived's checks). The daemon
// counts every received packet by reason; drops are data, not errors.
// DropNone and WarnAddrList are not drops (see Drops).
type DropReason uint8

// Receive verdicts, in the order Accept and Check test them. The DropAH*
// verdicts come from AH.Open and AHState, which the receiver of an
// AH-wrapped advert applies before Accept (keepalived's order).
const (
	DropNone         DropReason = iota // accepted (named "ok" in counters and metrics)
	DropTTL                            // IPv4 TTL / IPv6 hop limit is not 255 (§7.1: proves the sender is on-link), or outside a unicast peer's min_ttl..max_ttl
	DropVersion                        // version nibble is not 2 or 3, or not the instance's version
	DropLength                         // length does not match the address count (§7.1: incomplete packet)
	DropType                           // type is not 1 (advertisement)
	DropChecksum                       // checksum wrong (v3: with the IP pseudo-header)
	DropOwnPacket                      // source is our own address (a looped copy of our advert)
	DropUnknownVRID                    // no instance with this VRID on this interface and family
	DropDstMismatch                    // multicast advert for a unicast instance, or unicast for a multicast one
	DropNotPeer                        // unicast instance: source is not a configured unicast peer
	DropAuthType                       // v2: authentication type differs from ours
	DropAuthMismatch                   // v2: simple password differs from ours
	DropAHICV                          // v2 AH: the integrity check value is wrong (another key, or a forgery)
	DropAHSPI                          // v2 AH: the SPI is not the sender's address
	DropAHReplay                       // v2 AH: sequence number not above the last one sent or accepted (a replay)
	DropInterval                       // v2: advert interval differs from ours; v3: interval 0
	DropAddrList                       // address list differs from ours and the instance is strict
	WarnAddrList                       // address list differs from ours: counted and logged, packet accepted
	numDropReasons
)

var dropNames = [numDropReasons]string{
	DropNone:         "ok",
	DropTTL:          "ttl",
	DropVersion:      "version",
	DropLength:       "length",
	DropType:         "type",
	DropChecksum:     "checksum",
	DropOwnPacket:    "own_packet",
	DropUnknownVRID:  "unknown_vrid",
	DropDstMismatch:  "dst_mismatch",
	DropNotPeer:      "not_peer",
	DropAuthType:     "auth_type",
	DropAuthMismatch: "auth_mismatch",
	DropAHICV:        "ah_icv",
	DropAHSPI:        "ah_spi",
	DropAHReplay:     "ah_replay",
	DropInterval:     "interval",
	DropAddrList:     "addr_list",
	WarnAddrList:     "addr_list_warning",
}

// String returns a short snake_case name fit for a metric label.
func (r DropReason) String() string {
	if r < numDropReasons {
		return dropNames[r]
	}
	return "unknown"
}

// Drops reports whether a packet with this verdict must be discarded.
// DropNone and WarnAddrList keep the packet.
func (r DropReason) Drops() bool {
	return r != DropNone && r != WarnAddrList
}

// DropReasons returns every reason, for pre-registering metric labels.
func DropReasons() []DropReason {
	rs := make([]DropReason, numDropReasons)
	for i := range rs {
		rs[i] = DropReason(i)
	}
	return rs
}

// CheckConfig is what one VRRP instance expects of the adverts it receives.
// The daemon builds it once per instance (and again on reload).
type CheckConfig struct {
	Version int   // 2 or 3
	VRID    uint8 // the instance's virtual router ID

	// AdvertIntSeconds is the v2 advert interval, which received adverts
	// must match (RFC 3768 §7.1). v3 adverts may carry any interval but 0.
	AdvertIntSeconds uint8

	AuthType uint8   // v2: AuthNone, AuthPassword or AuthAH (the ICV is AH.Open's)
	AuthData [8]byte // v2 with AuthPassword: the password, zero padded

	// Addrs are the instance's virtual addresses (those it advertises).
	// A received list with other addresses yields WarnAddrList, or
	// DropAddrList when StrictAddrs is set (keepalived's strict mode).
	Addrs       []netip.Addr
	StrictAddrs bool

	// Peers are the unicast peers; empty means multicast. A unicast
	// instance accepts adverts only from its peers, sent to a unicast
	// address; a multicast instance only adverts sent to a multicast
	// group. As in keepalived, the TTL of a unicast advert is not held
	// to 255, as its peers may be routed, only to PeerTTLs.
	Peers []netip.Addr
	// PeerTTLs, when not empty, holds for each of Peers (same index) the
	// TTL / hop limit range its adverts must arrive with (keepalived's
	// unicast_peer min_ttl and max_ttl); others are DropTTL.
	PeerTTLs []TTLRange

	// Self is the source address our own adverts carry; adverts from it
	// are DropOwnPacket. The zero Addr disables this check.
	Self netip.Addr
}

// Accept decodes raw (a VRRP message received with meta m, IP header
// removed) into p and checks it against want: the TTL first, then syntax
// (DropVersion, DropLength), then Check. It reuses p.Addrs and does not
// allocate. On a drop before Check p's contents are unspecified.
func Accept(p *Packet, raw []byte, m RecvMeta, want CheckConfig) DropReason {
	if len(want.Peers) == 0 && m.TTL != TTL {
		return DropTTL
	}
	if err := p.UnmarshalFamily(raw, m.Src.Is6()); err != nil {
		if errors.Is(err, ErrVersion) {
			return DropVersion
		}
		return DropLength
	}
	return Check(p, raw, m, want)
}

// Check applies the receive checks of RFC 5798 §7.1 (and RFC 3768 §7.1 for
// v2) to p, decoded from raw, received with meta m, against an instance's
// expectations, and returns the first failing reason, or WarnAddrList
// when only the address list differs, or DropNone. It is cheap: no
// allocation, one pass over raw for the checksum.
//
// For a v3 IPv4 unicast advert whose checksum is only right when computed
// with the multicast group as destination (what older keepalived versions
// sent, and keepalived's unicast checksum compatibility mode still does)
// the packet is accepted.
func Check(p *Packet, raw []byte, m RecvMeta, want CheckConfig) DropReason {
	unicast := len(want.Peers) > 0
	if !unicast && m.TTL != TTL {
		return DropTTL
	}
	if p.Version != want.Version {
		return DropVersion
	}
	if p.Type != TypeAdvertisement {
		return DropType
	}
	if !VerifyChecksum(raw, m.Src, m.Dst) &&
		!(unicast && p.Version == 3 && m.Src.Is4() && VerifyChecksum(raw, m.Src, GroupIPv4)) {
		return DropChecksum
	}
	if want.Self.IsValid() && m.Src.WithZone("") == want.Self.WithZone("") {
		return DropOwnPacket
	}
	if p.VRID != want.VRID {
		return DropUnknownVRID
	}
	if m.Dst.IsMulticast() == unicast {
		return DropDstMismatch
	}
	if unicast {
		i := index(want.Peers, m.Src)
		if i < 0 {
			return DropNotPeer
		}
		if i < len(want.PeerTTLs) && (m.TTL < want.PeerTTLs[i].Min || m.TTL > want.PeerTTLs[i].Max) {
			return DropTTL
		}
	}
	if p.Version == 2 {
		if p.AuthType != want.AuthType {
			return DropAuthType
		}
		if p.AuthType == AuthPassword && subtle.ConstantTimeCompare(p.AuthData[:], want.AuthData[:]) != 1 {
			return DropAuthMismatch
		}
		if p.AdvertIntSeconds != want.AdvertIntSeconds {
			return DropInterval
		}
	} else if p.MaxAdvertCentis == 0 {
		return DropInterval
	}
	if !sameAddrs(p.Addrs, want.Addrs) {
		if want.StrictAddrs {
			return DropAddrList
		}
		return WarnAddrList
	}
	return DropNone
}

// TTLRange is an inclusive range of IPv4 TTLs or IPv6 hop limits.
type TTLRange struct{ Min, Max int }

func contains(list []netip.Addr, a netip.Addr) bool { return index(list, a) >= 0 }

// index returns the position of a in list, ignoring zones, or -1.
func index(list []netip.Addr, a netip.Addr) int {
	a = a.WithZone("")
	for i, b := range list {
		if b.WithZone("") == a {
			return i
		}
	}
	return -1
}

// sameAddrs reports whether got and want hold the same addresses in any
// order. Addresses of one instance are distinct, so equal counts and every
// wanted address present mean equal sets.
func sameAddrs(got, want []netip.Addr) bool {
	if len(got) != len(want) {
		return false
	}
	for _, w := range want {
		if !contains(got, w) {
			return false
		}
	}
	return true
}
