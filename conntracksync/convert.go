package conntracksync

import (
	"encoding/binary"

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
