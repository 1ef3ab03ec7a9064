package conntracksync

import (
	"encoding/binary"
	"net/netip"
	"time"

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

// fromWire4 is pack4(fromWire(w)) without the Flow in between: the key
// and record of a plain IPv4 flow received from the peer, and false for
// any other flow (the caller goes through fromWire then). The record is
// not stamped.
func fromWire4(w *ftfw.Flow) (ckey4, rec4, bool) {
	src, dst := w.Src.Unmap(), w.Dst.Unmap()
	if !src.Is4() || !dst.Is4() || w.MasterSrc.IsValid() || w.Helper != "" ||
		(w.HasSeqAdj && w.SeqAdj != (ftfw.SeqAdj{})) ||
		w.SCTPState != 0 || w.SCTPVTagOrig != 0 || w.SCTPVTagRepl != 0 || w.DCCPState != 0 || w.DCCPRole != 0 {
		return ckey4{}, rec4{}, false
	}
	for _, l := range w.Labels {
		if l != 0 {
			return ckey4{}, rec4{}, false
		}
	}
	// The reply tuple as fromWire makes it: the inverted original, its
	// destination the SNAT address and port, its source the DNAT ones.
	replySrc, replyDst := dst, src
	if w.DNAT.IsValid() {
		replySrc = w.DNAT.Unmap()
	}
	if w.SNAT.IsValid() {
		replyDst = w.SNAT.Unmap()
	}
	if !replySrc.Is4() || !replyDst.Is4() {
		return ckey4{}, rec4{}, false
	}
	t := Tuple{Src: src, Dst: dst, Proto: w.Proto}
	if HasPorts(w.Proto) {
		t.SrcPort, t.DstPort = w.SrcPort, w.DstPort
	}
	if w.Proto == ProtoICMP || w.Proto == ProtoICMPv6 {
		t.ICMPType, t.ICMPCode, t.ICMPID = w.ICMPType, w.ICMPCode, w.ICMPID
	}
	var zone uint16
	if w.HasZone {
		zone = w.Zone
	}
	c, _ := tuple4Key(&t, zone)
	r := rec4{status: w.Status, mark: w.Mark, replySrc: replySrc.As4(), replyDst: replyDst.As4(),
		replySport: t.DstPort, replyDport: t.SrcPort,
		tcpState: w.TCPState, wsOrig: w.TCPWScaleOrig, wsReply: w.TCPWScaleRep}
	if w.HasTimeout {
		r.timeout = w.TimeoutSecs
	}
	if w.HasDNATPort {
		r.replySport = w.DNATPort
	}
	if w.HasSNATPort {
		r.replyDport = w.SNATPort
	}
	return c, r, true
}

// applyWire applies the flows of the peer's updates to c as Apply does
// their fromWire conversions (the expectations among them are the
// caller's): a plain IPv4 flow is packed straight from the wire.
func (c *Cache) applyWire(ups []ftfw.Update, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ns := now.UnixNano()
	pk := c.packBatch(len(ups))
	for i := range ups {
		u := &ups[i]
		if pk[i].ok = false; u.Exp == nil && u.Op != ftfw.OpDel {
			pk[i].k, pk[i].r, pk[i].ok = fromWire4(&u.Flow)
			pk[i].r.updated, pk[i].r.gen = stampOf(ns), c.gen
		}
	}
	for i := range ups {
		u := &ups[i]
		switch {
		case u.Exp != nil:
		case pk[i].ok:
			c.put4Locked(&pk[i])
		case u.Op == ftfw.OpDel:
			f := fromWire(&u.Flow)
			k := f.Key()
			c.deleteLocked(&k)
		default:
			f := fromWire(&u.Flow)
			c.storeLocked(&f, ns)
		}
	}
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
