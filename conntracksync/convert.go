package conntracksync

import (
	"encoding/binary"
	"net/netip"

	"github.com/vigil-ha/vigil/conntracksync/ftfw"
)

// toWire converts a cached flow to the FTFW neutral flow. sendTimeout
// false leaves NTA_TIMEOUT out, as conntrackd does when CommitTimeout is
// configured on the sender.
func toWire(f *Flow, sendTimeout bool) ftfw.Flow {
	o := f.Orig
	w := ftfw.Flow{
		Src: o.Src, Dst: o.Dst, Proto: o.Proto, Status: f.Status,
		TCPState: f.TCPState, SCTPState: f.SCTPState, SCTPVTagOrig: f.SCTPVTagOrig, SCTPVTagRepl: f.SCTPVTagRep,
		DCCPState: f.DCCPState, DCCPRole: f.DCCPRole,
		HasMark: f.Mark != 0, Mark: f.Mark,
		Helper: f.Helper,
	}
	if HasPorts(o.Proto) {
		w.SrcPort, w.DstPort = o.SrcPort, o.DstPort
	}
	if o.Proto == ProtoICMP || o.Proto == ProtoICMPv6 {
		w.ICMPType, w.ICMPCode, w.ICMPID = o.ICMPType, o.ICMPCode, o.ICMPID
	}
	if sendTimeout && f.TimeoutSec > 0 {
		w.HasTimeout, w.TimeoutSecs = true, f.TimeoutSec
	}
	if f.Related() {
		m := f.Master
		w.MasterSrc, w.MasterDst, w.MasterProto = m.Src, m.Dst, m.Proto
		if HasPorts(m.Proto) {
			w.HasMasterPort, w.MasterSrcPort, w.MasterDstPort = true, m.SrcPort, m.DstPort
		}
	}
	if !f.Reply.IsZero() {
		r := f.Reply
		if r.Dst != o.Src {
			w.SNAT = r.Dst
		}
		if HasPorts(o.Proto) && r.DstPort != o.SrcPort {
			w.HasSNATPort, w.SNATPort = true, r.DstPort
		}
		if r.Src != o.Dst {
			w.DNAT = r.Src
		}
		if HasPorts(o.Proto) && r.SrcPort != o.DstPort {
			w.HasDNATPort, w.DNATPort = true, r.SrcPort
		}
	}
	if f.SeqAdjOrig != (SeqAdj{}) || f.SeqAdjReply != (SeqAdj{}) {
		w.HasSeqAdj = true
		w.SeqAdj = ftfw.SeqAdj{
			OrigCorrectionPos: f.SeqAdjOrig.CorrectionPos, OrigOffsetBefore: f.SeqAdjOrig.OffsetBefore, OrigOffsetAfter: f.SeqAdjOrig.OffsetAfter,
			ReplCorrectionPos: f.SeqAdjReply.CorrectionPos, ReplOffsetBefore: f.SeqAdjReply.OffsetBefore, ReplOffsetAfter: f.SeqAdjReply.OffsetAfter,
		}
	}
	if f.Labels != "" {
		// The kernel's bitmap is an array of unsigned long in host order:
		// bit b of 32-bit word i is label 32*i+b on a little-endian host.
		b := []byte(f.Labels)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
		w.Labels = make([]uint32, len(b)/4)
		for i := range w.Labels {
			w.Labels[i] = binary.NativeEndian.Uint32(b[4*i:])
		}
	}
	if f.Zone != 0 {
		w.HasZone, w.Zone = true, f.Zone
	}
	return w
}

// fromWire converts a flow received from the peer; the reply tuple is the
// inverted original tuple with the NAT fields applied.
func fromWire(w *ftfw.Flow) Flow {
	f := Flow{
		Orig:   Tuple{Src: w.Src.Unmap(), Dst: w.Dst.Unmap(), Proto: w.Proto},
		Status: w.Status, TCPState: w.TCPState, SCTPState: w.SCTPState, SCTPVTagOrig: w.SCTPVTagOrig,
		SCTPVTagRep: w.SCTPVTagRepl, DCCPState: w.DCCPState, DCCPRole: w.DCCPRole, Mark: w.Mark, Helper: w.Helper,
		TCPWScaleOrig: w.TCPWScaleOrig, TCPWScaleRep: w.TCPWScaleRep,
	}
	if HasPorts(w.Proto) {
		f.Orig.SrcPort, f.Orig.DstPort = w.SrcPort, w.DstPort
	}
	if w.Proto == ProtoICMP || w.Proto == ProtoICMPv6 {
		f.Orig.ICMPType, f.Orig.ICMPCode, f.Orig.ICMPID = w.ICMPType, w.ICMPCode, w.ICMPID
	}
	if w.HasTimeout {
		f.TimeoutSec = w.TimeoutSecs
	}
	if w.HasZone {
		f.Zone = w.Zone
	}
	f.Reply = f.Orig.Invert()
	if w.SNAT.IsValid() {
		f.Reply.Dst = w.SNAT.Unmap()
	}
	if w.HasSNATPort {
		f.Reply.DstPort = w.SNATPort
	}
	if w.DNAT.IsValid() {
		f.Reply.Src = w.DNAT.Unmap()
	}
	if w.HasDNATPort {
		f.Reply.SrcPort = w.DNATPort
	}
	if w.MasterSrc.IsValid() {
		f.Master = Tuple{Src: w.MasterSrc.Unmap(), Dst: w.MasterDst.Unmap(), Proto: w.MasterProto}
		if w.HasMasterPort {
			f.Master.SrcPort, f.Master.DstPort = w.MasterSrcPort, w.MasterDstPort
		}
	}
	if w.HasSeqAdj {
		s := w.SeqAdj
		f.SeqAdjOrig = SeqAdj{s.OrigCorrectionPos, s.OrigOffsetBefore, s.OrigOffsetAfter}
		f.SeqAdjReply = SeqAdj{s.ReplCorrectionPos, s.ReplOffsetBefore, s.ReplOffsetAfter}
	}
	set := false
	for _, l := range w.Labels {
		set = set || l != 0
	}
	if set {
		b := make([]byte, 4*len(w.Labels))
		for i, l := range w.Labels {
			binary.NativeEndian.PutUint32(b[4*i:], l)
		}
		f.Labels = string(b)
	}
	return f
}

// toWire4 is toWire for a plain IPv4 flow stored as key c and record r
// (see rec4), without building the Flow in between: a bulk converts every
// flow of the cache.
func toWire4(c *ckey4, r *rec4, sendTimeout bool) ftfw.Flow {
	src, dst := [4]byte(c[0:4]), [4]byte(c[4:8])
	proto := c[8]
	w := ftfw.Flow{
		Src: netip.AddrFrom4(src), Dst: netip.AddrFrom4(dst), Proto: proto, Status: r.status,
		TCPState: r.tcpState, HasMark: r.mark != 0, Mark: r.mark,
	}
	if HasPorts(proto) {
		sport, dport := binary.BigEndian.Uint16(c[9:]), binary.BigEndian.Uint16(c[11:])
		w.SrcPort, w.DstPort = sport, dport
		if r.replyDport != sport {
			w.HasSNATPort, w.SNATPort = true, r.replyDport
		}
		if r.replySport != dport {
			w.HasDNATPort, w.DNATPort = true, r.replySport
		}
	}
	if proto == ProtoICMP || proto == ProtoICMPv6 {
		w.ICMPType, w.ICMPCode, w.ICMPID = c[13], c[14], binary.BigEndian.Uint16(c[15:])
	}
	if sendTimeout && r.timeout > 0 {
		w.HasTimeout, w.TimeoutSecs = true, r.timeout
	}
	if r.replyDst != src {
		w.SNAT = netip.AddrFrom4(r.replyDst)
	}
	if r.replySrc != dst {
		w.DNAT = netip.AddrFrom4(r.replySrc)
	}
	if zone := binary.BigEndian.Uint16(c[17:]); zone != 0 {
		w.HasZone, w.Zone = true, zone
	}
	return w
}

// rangeWire calls fn with every flow of c converted for the wire (toWire),
// under c's lock, which fn must not take again; w is reused between calls.
// The fixed-size IPv4 records are converted straight from the record.
func (c *Cache) rangeWire(sendTimeout bool, fn func(w *ftfw.Flow)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var w ftfw.Flow
	for k, r := range c.v4 {
		w = toWire4(&k, &r, sendTimeout)
		fn(&w)
	}
	var f Flow
	for _, ce := range c.entries {
		decodeCompact(ce.enc, &f)
		w = toWire(&f, sendTimeout)
		fn(&w)
	}
}
