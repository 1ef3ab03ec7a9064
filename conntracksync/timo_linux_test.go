package conntracksync

import (
	"strings"

	"github.com/ti-mo/conntrack"
)

// An independent decoder for the tests: ti-mo/conntrack's, converted to
// our Flow, to check ours against.

// fromKernel converts a ti-mo flow to ours.
func fromKernel(k *conntrack.Flow) Flow {
	f := Flow{
		Orig:       tupleFromKernel(k.TupleOrig),
		Reply:      tupleFromKernel(k.TupleReply),
		Zone:       k.Zone,
		Status:     uint32(k.Status.Value),
		TimeoutSec: k.Timeout,
		Mark:       k.Mark,
		Helper:     k.Helper.Name,
		SeqAdjOrig: SeqAdj{k.SeqAdjOrig.Position, k.SeqAdjOrig.OffsetBefore, k.SeqAdjOrig.OffsetAfter},
		SeqAdjReply: SeqAdj{k.SeqAdjReply.Position, k.SeqAdjReply.OffsetBefore,
			k.SeqAdjReply.OffsetAfter},
	}
	if k.TupleMaster.IP.SourceAddress.IsValid() {
		f.Master = tupleFromKernel(k.TupleMaster)
	}
	if t := k.ProtoInfo.TCP; t != nil {
		f.TCPState, f.TCPWScaleOrig, f.TCPWScaleRep = t.State, t.OriginalWindowScale, t.ReplyWindowScale
	}
	if s := k.ProtoInfo.SCTP; s != nil {
		f.SCTPState, f.SCTPVTagOrig, f.SCTPVTagRep = s.State, s.VTagOriginal, s.VTagReply
	}
	if d := k.ProtoInfo.DCCP; d != nil {
		f.DCCPState, f.DCCPRole = d.State, d.Role
	}
	if strings.Trim(string(k.Labels), "\x00") != "" {
		f.Labels = string(k.Labels)
	}
	return f
}

func tupleFromKernel(t conntrack.Tuple) Tuple {
	out := Tuple{
		Src:   t.IP.SourceAddress.Unmap(),
		Dst:   t.IP.DestinationAddress.Unmap(),
		Proto: t.Proto.Protocol,
	}
	switch t.Proto.Protocol {
	case ProtoICMP, ProtoICMPv6:
		out.ICMPType, out.ICMPCode, out.ICMPID = t.Proto.ICMPType, t.Proto.ICMPCode, t.Proto.ICMPID
	default:
		out.SrcPort, out.DstPort = t.Proto.SourcePort, t.Proto.DestinationPort
	}
	return out
}
