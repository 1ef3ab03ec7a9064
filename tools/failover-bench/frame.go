package main

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/vigil-ha/vigil/testnet"
)

// kind is what a captured frame is, as far as the benchmark cares.
type kind int

const (
	kindOther  kind = iota
	kindAdvert      // VRRP advertisement (IPv4 or IPv6)
	kindGARP        // gratuitous ARP: sender IP == target IP
	kindNA          // unsolicited neighbour advertisement (S flag clear)
)

// frame is the benchmark's view of one captured Ethernet frame.
type frame struct {
	at     time.Time
	kind   kind
	v6     bool
	srcMAC net.HardwareAddr
	vrid   int        // adverts
	prio   int        // adverts
	addr   netip.Addr // GARP: sender IP; NA: target address
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

// classify parses an Ethernet frame (no VLAN tag). Frames it does not
// understand are kindOther.
func classify(p testnet.Packet) frame {
	b := p.Data
	f := frame{at: p.Time}
	if len(b) < 14 {
		return f
	}
	f.srcMAC = net.HardwareAddr(b[6:12])
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
		f.kind, f.vrid, f.prio = kindAdvert, int(b[ihl+1]), int(b[ihl+2])
	case etherIPv6:
		if len(b) < 40 || b[0]>>4 != 6 {
			return f
		}
		nh, pl := b[6], b[40:]
		switch {
		case nh == protoVRRP && len(pl) >= 8:
			f.kind, f.v6, f.vrid, f.prio = kindAdvert, true, int(pl[1]), int(pl[2])
		case nh == protoICMPv6 && len(pl) >= 24 && pl[0] == icmpv6NA && pl[4]&naSolicited == 0:
			f.kind, f.v6 = kindNA, true
			f.addr = netip.AddrFrom16([16]byte(pl[8:24]))
		}
	case etherARP:
		// htype 1, ptype IPv4, hlen 6, plen 4.
		if len(b) < 28 || binary.BigEndian.Uint16(b[0:2]) != 1 || binary.BigEndian.Uint16(b[2:4]) != etherIPv4 ||
			b[4] != 6 || b[5] != 4 {
			return f
		}
		spa, tpa := netip.AddrFrom4([4]byte(b[14:18])), netip.AddrFrom4([4]byte(b[24:28]))
		if spa == tpa {
			f.kind, f.addr = kindGARP, spa
		}
	}
	return f
}

// from reports whether the frame was sent from mac.
func (f frame) from(mac net.HardwareAddr) bool { return bytes.Equal(f.srcMAC, mac) }

// median, minimum and maximum of ds (which must not be empty).
func summary(ds []time.Duration) (med, lo, hi time.Duration) {
	s := slices.Clone(ds)
	slices.Sort(s)
	n := len(s)
	med = s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return med, s[0], s[n-1]
}

// skew is RFC 5798 §6.1 Skew_Time for priority prio and interval adv.
func skew(prio int, adv time.Duration) time.Duration {
	return time.Duration(int64(256-prio) * int64(adv) / 256)
}

// masterDown is RFC 5798 §6.1 Master_Down_Interval.
func masterDown(prio int, adv time.Duration) time.Duration {
	return 3*adv + skew(prio, adv)
}
