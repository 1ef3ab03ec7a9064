package conntracksync

import (
	"net/netip"
	"time"

	"github.com/vigil-ha/vigil/conntracksync/ftfw"
)

func addrN(base string, i int) netip.Addr {
	a := netip.MustParseAddr(base)
	if a.Is4() {
		b := a.As4()
		b[2] += byte(i >> 8)
		b[3] += byte(i)
		return netip.AddrFrom4(b)
	}
	b := a.As16()
	b[14] = byte(i >> 8)
	b[15] = byte(i)
	return netip.AddrFrom16(b)
}

// SampleFlows builds n distinct flows for tests and benchmarks (of this
// package, its kernel side and their twins): TCP and UDP, IPv4 and IPv6, ICMP, SNAT
// and DNAT, marks and zones left at 0 and various timeouts.
func SampleFlows(n int) []Flow {
	out := make([]Flow, 0, n)
	for i := range n {
		var f Flow
		src, dst := netip.AddrFrom4([4]byte{192, 0, 2, byte(1 + i%250)}), netip.AddrFrom4([4]byte{198, 51, 100, byte(10 + (i/250)%240)})
		if i%13 == 3 {
			src, dst = addrN("2001:db8:1::", i), addrN("2001:db8:2::", i/7)
		}
		f.Orig = Tuple{Src: src, Dst: dst, Proto: ProtoTCP, SrcPort: uint16(1024 + i/62500), DstPort: uint16(1 + (i/250)/250)}
		// Make every tuple unique: spread i over source port.
		f.Orig.SrcPort = uint16(1024 + i%60000)
		f.Orig.DstPort = uint16(80 + i/60000)
		f.Status = StatusSeenReply | StatusAssured | StatusConfirmed
		f.TCPState = TCPEstablished
		f.TimeoutSec = uint32(100 + i%1000)
		switch {
		case i%11 == 5 && src.Is4():
			f.Orig = Tuple{Src: src, Dst: dst, Proto: ProtoICMP, ICMPType: 8, ICMPID: uint16(i)}
			f.TCPState = 0
			f.TimeoutSec = 30
		case i%3 == 1:
			f.Orig.Proto = ProtoUDP
			f.TCPState = 0
		}
		f.Reply = f.Orig.Invert()
		if src.Is4() && i%5 == 2 && f.Orig.Proto != ProtoICMP {
			f.Reply.Dst = netip.MustParseAddr("203.0.113.1")
			f.Reply.DstPort = uint16(10000 + i/5)
		} else if src.Is4() && i%7 == 4 && f.Orig.Proto != ProtoICMP {
			f.Reply.Src = netip.MustParseAddr("203.0.113.50")
			f.Reply.SrcPort = 8080
		}
		if !src.Is4() && i%5 == 3 && f.Orig.Proto != ProtoICMP {
			f.Reply.Dst = netip.MustParseAddr("2001:db8:ffff::1")
			f.Reply.DstPort = uint16(20000 + i/5)
		}
		if i%17 == 0 {
			f.Mark = uint32(i)
		}
		out = append(out, f)
	}
	return out
}

// SampleEntries wraps flows as cache entries last updated at now.
func SampleEntries(flows []Flow, now time.Time) []Entry {
	out := make([]Entry, len(flows))
	for i, f := range flows {
		out[i] = Entry{Flow: f, Updated: now}
	}
	return out
}

// SampleFTP builds n FTP control connections (192.0.2.10 from port
// 40000+i to 203.0.113.2:21, established, with the ftp helper) and, for
// each, the expectation its PORT command makes without NAT: the server's
// data connection from any port to the client's port 50000+i. For tests
// and benchmarks of expectation sync.
func SampleFTP(n int) ([]Flow, []Expect) {
	flows := make([]Flow, 0, n)
	exps := make([]Expect, 0, n)
	cl, srv := netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("203.0.113.2")
	ones := netip.MustParseAddr("255.255.255.255")
	for i := range n {
		f := Flow{Orig: Tuple{Src: cl, Dst: srv, Proto: ProtoTCP, SrcPort: uint16(40000 + i), DstPort: 21},
			Status: StatusConfirmed | StatusSeenReply | StatusAssured, TCPState: TCPEstablished,
			TimeoutSec: 600, Helper: "ftp"}
		f.Reply = f.Orig.Invert()
		flows = append(flows, f)
		exps = append(exps, Expect{
			Master:     ftfw.ExpTuple{Src: cl, Dst: srv, Proto: ProtoTCP, HasPorts: true, SrcPort: f.Orig.SrcPort, DstPort: 21},
			Tuple:      ftfw.ExpTuple{Src: srv, Dst: cl, Proto: ProtoTCP, HasPorts: true, DstPort: uint16(50000 + i)},
			Mask:       ftfw.ExpTuple{Src: ones, Dst: ones, Proto: ProtoTCP, HasPorts: true, DstPort: 0xffff},
			HasTimeout: true, TimeoutSecs: 300, HasFlags: true, Helper: "ftp",
		})
	}
	return flows, exps
}

// SampleFTPData builds, for each FTP control connection of masters (as
// SampleFTP makes them), its data connection: the server's port 20 to the
// client's port 50000+i, established, related to its master. For tests of
// what must come after a master (commit order, chunks).
func SampleFTPData(masters []Flow) []Flow {
	out := make([]Flow, 0, len(masters))
	for i, m := range masters {
		d := Flow{Orig: Tuple{Src: m.Orig.Dst, Dst: m.Orig.Src, Proto: ProtoTCP, SrcPort: 20, DstPort: uint16(50000 + i)},
			Status: StatusConfirmed, TCPState: TCPEstablished, TimeoutSec: 300, Master: m.Orig}
		d.Reply = d.Orig.Invert()
		out = append(out, d)
	}
	return out
}
