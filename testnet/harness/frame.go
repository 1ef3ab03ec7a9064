package harness

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"time"

	"github.com/vigil-ha/vigil/testnet"
)

// FrameKind is what a captured frame is, as far as the failover
// measurements care.
type FrameKind int

// Kinds of frame.
const (
	FrameOther  FrameKind = iota
	FrameAdvert           // VRRP advertisement (IPv4 or IPv6)
	FrameGARP             // gratuitous ARP: sender IP == target IP
	FrameNA               // unsolicited neighbour advertisement (S flag clear)
)

// Frame is the failover measurements' view of one captured Ethernet frame.
type Frame struct {
	At     time.Time // kernel capture timestamp
	Kind   FrameKind
	V6     bool // an IPv6 frame (advert or NA)
	SrcMAC net.HardwareAddr
	VRID   int        // adverts
	Prio   int        // adverts
	Addr   netip.Addr // GARP: sender IP; NA: target address
}

// Ethernet types and IP protocol numbers used below.
const (
	etherIPv4   = 0x0800
	etherARP    = 0x0806
	etherIPv6   = 0x86dd
	protoVRRP   = 112 // RFC 5798 §5.1.1.4
	protoICMPv6 = 58
	icmpv6NA    = 136 // RFC 4861 §4.4
	naSolicited = 0x40
)

// Classify parses an Ethernet frame (no VLAN tag). Frames it does not
// understand are FrameOther.
func Classify(p testnet.Packet) Frame {
	b := p.Data
	f := Frame{At: p.Time}
	if len(b) < 14 {
		return f
	}
	f.SrcMAC = net.HardwareAddr(b[6:12])
	et := binary.BigEndian.Uint16(b[12:14])
	b = b[14:]
	switch et {
	case etherIPv4:
		if len(b) < 20 {
			return f
		}
		ihl := int(b[0]&0x0f) * 4
		if b[0]>>4 != 4 || ihl < 20 || len(b) < ihl+8 || b[9] != protoVRRP {
			return f
		}
		f.Kind, f.VRID, f.Prio = FrameAdvert, int(b[ihl+1]), int(b[ihl+2])
	case etherIPv6:
		if len(b) < 40 || b[0]>>4 != 6 {
			return f
		}
		nh, pl := b[6], b[40:]
		switch {
		case nh == protoVRRP && len(pl) >= 8:
			f.Kind, f.V6, f.VRID, f.Prio = FrameAdvert, true, int(pl[1]), int(pl[2])
		case nh == protoICMPv6 && len(pl) >= 24 && pl[0] == icmpv6NA && pl[4]&naSolicited == 0:
			f.Kind, f.V6 = FrameNA, true
			f.Addr = netip.AddrFrom16([16]byte(pl[8:24]))
		}
	case etherARP:
		// htype 1, ptype IPv4, hlen 6, plen 4.
		if len(b) < 28 || binary.BigEndian.Uint16(b[0:2]) != 1 || binary.BigEndian.Uint16(b[2:4]) != etherIPv4 ||
			b[4] != 6 || b[5] != 4 {
			return f
		}
		spa, tpa := netip.AddrFrom4([4]byte(b[14:18])), netip.AddrFrom4([4]byte(b[24:28]))
		if spa == tpa {
			f.Kind, f.Addr = FrameGARP, spa
		}
	}
	return f
}

// from reports whether the Frame was sent from mac.
func (f Frame) From(mac net.HardwareAddr) bool { return bytes.Equal(f.SrcMAC, mac) }

// Skew is RFC 5798 §6.1 Skew_Time for priority prio and interval adv.
func Skew(prio int, adv time.Duration) time.Duration {
	return time.Duration(int64(256-prio) * int64(adv) / 256)
}

// MasterDown is RFC 5798 §6.1 Master_Down_Interval.
func MasterDown(prio int, adv time.Duration) time.Duration {
	return 3*adv + Skew(prio, adv)
}
