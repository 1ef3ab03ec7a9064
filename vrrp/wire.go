package vrrp

import (
	"net/netip"
	"time"
)

// Ranges and units of the fields a configuration sets (RFC 5798 §5.2.3,
// §5.2.4, §5.2.7; RFC 3768 §5.3.3, §5.3.4, §5.3.7). config checks its
// keywords against these and the daemon converts intervals with the helpers
// below, so each fact is written once.
const (
	// MinVRID and MaxVRID bound the Virtual Rtr ID field (RFC 5798 §5.2.3).
	MinVRID = 1
	MaxVRID = 255
	// PriorityStop is the priority of the advert a master sends when it
	// stops (RFC 5798 §5.2.4); a configured priority starts at MinPriority.
	PriorityStop = 0
	MinPriority  = 1
	// PriorityOwner is the priority of the router that owns the virtual
	// addresses (RFC 5798 §5.2.4).
	PriorityOwner = 255
	// Centisecond is the unit of the VRRPv3 Max Adver Int field
	// (RFC 5798 §5.2.7).
	Centisecond = 10 * time.Millisecond
	// MinAdvertIntervalV3 and MaxAdvertIntervalV3 bound a VRRPv3 advert
	// interval: 12 bits of centiseconds, zero excluded (RFC 5798 §5.2.7).
	MinAdvertIntervalV3 = Centisecond
	MaxAdvertIntervalV3 = MaxAdvertCentisLimit * Centisecond
	// MinAdvertIntervalV2 and MaxAdvertIntervalV2 bound a VRRPv2 advert
	// interval: 8 bits of whole seconds, zero excluded (RFC 3768 §5.3.7).
	MinAdvertIntervalV2 = time.Second
	MaxAdvertIntervalV2 = 255 * time.Second
)

// DefaultGroup returns the multicast group adverts go to when no other
// destination is configured (RFC 5798 §5.1.1.2, §5.1.2.2).
func DefaultGroup(ipv6 bool) netip.Addr {
	if ipv6 {
		return GroupIPv6
	}
	return GroupIPv4
}

// PeekVRID returns the Virtual Rtr ID of a received advert without decoding
// or checking anything else, so that a receiver shared by several virtual
// routers can pick the one whose checks (Accept) the packet must pass. ok is
// false when b is too short to hold the field.
func PeekVRID(b []byte) (vrid uint8, ok bool) {
	if len(b) < 2 {
		return 0, false
	}
	return b[1], true
}

// AdvertInterval returns the advert interval p carries: Max Adver Int in
// centiseconds for VRRPv3, Adver Int in seconds for VRRPv2.
func (p *Packet) AdvertInterval() time.Duration {
	if p.Version == 2 {
		return time.Duration(p.AdvertIntSeconds) * time.Second
	}
	return time.Duration(p.MaxAdvertCentis) * Centisecond
}

// SetAdvertInterval sets the interval field of p's version from d: whole
// seconds clamped to 1..255 for VRRPv2, centiseconds (truncated, at most
// MaxAdvertCentisLimit) for VRRPv3. The other version's field is zeroed.
func (p *Packet) SetAdvertInterval(d time.Duration) {
	p.AdvertIntSeconds, p.MaxAdvertCentis = 0, 0
	if p.Version == 2 {
		p.AdvertIntSeconds = uint8(max(MinAdvertIntervalV2, min(MaxAdvertIntervalV2, d)) / time.Second)
		return
	}
	p.MaxAdvertCentis = uint16(max(0, min(MaxAdvertIntervalV3, d)) / Centisecond)
}
