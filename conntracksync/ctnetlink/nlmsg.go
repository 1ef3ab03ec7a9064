package ctnetlink

import (
	"encoding/binary"
	ct "github.com/vigil-ha/vigil/conntracksync"
	"net/netip"
	"time"
)

// ctnetlink constants (linux/netlink.h, linux/netfilter/nfnetlink.h,
// linux/netfilter/nfnetlink_conntrack.h).
const (
	nlmsgHdrLen   = 16
	nfgenmsgLen   = 4
	nlmFRequest   = 0x1
	nlmFAck       = 0x4
	nlmFExcl      = 0x200
	nlmFCreate    = 0x400
	nlaFNested    = 0x8000
	nlmsgError    = 0x2
	nlmsgDone     = 0x3
	subsysCT      = 1
	ctMsgNew      = 0
	ctMsgDelete   = 2
	afInet        = 2
	afInet6       = 10
	nfnetlinkV0   = 0
	ctaTupleOrig  = 1
	ctaTupleReply = 2
	ctaStatus     = 3
	ctaProtoinfo  = 4
	ctaHelp       = 5
	ctaNATSrc     = 6
	ctaTimeout    = 7
	ctaMark       = 8
	ctaNATDst     = 13
	ctaTupleMast  = 14
	ctaSeqAdjOrig = 15
	ctaSeqAdjRepl = 16
	ctaZone       = 18
	ctaLabels     = 22

	ctaTupleIP    = 1
	ctaTupleProto = 2
	ctaTupleZone  = 3

	ctaIPv4Src = 1
	ctaIPv4Dst = 2
	ctaIPv6Src = 3
	ctaIPv6Dst = 4

	ctaProtoNum      = 1
	ctaProtoSrcPort  = 2
	ctaProtoDstPort  = 3
	ctaProtoICMPID   = 4
	ctaProtoICMPType = 5
	ctaProtoICMPCode = 6
	ctaProtoICMP6ID  = 7
	ctaProtoICMP6Typ = 8
	ctaProtoICMP6Cod = 9

	ctaProtoinfoTCP  = 1
	ctaProtoinfoDCCP = 2
	ctaProtoinfoSCTP = 3

	ctaTCPState      = 1
	ctaTCPWScaleOrg  = 2
	ctaTCPWScaleRep  = 3
	ctaTCPFlagsOrig  = 4 // struct nf_ct_tcp_flags {flags, mask}
	ctaTCPFlagsReply = 5
	ctaDCCPState     = 1
	ctaDCCPRole      = 2
	ctaSCTPState     = 1
	ctaSCTPVTagOrig  = 2
	ctaSCTPVTagRepl  = 3

	ctaHelpName = 1

	ctaNATV4MinIP = 1
	ctaNATV4MaxIP = 2
	ctaNATProto   = 3
	ctaNATV6MinIP = 4
	ctaNATV6MaxIP = 5
	ctaNATPortMin = 1
	ctaNATPortMax = 2

	ctaSeqAdjCorrPos = 1
	ctaSeqAdjOffBef  = 2
	ctaSeqAdjOffAft  = 3
)

// tcpFlagsBeLiberal is IP_CT_TCP_FLAG_BE_LIBERAL (0x08) as flags and mask.
var tcpFlagsBeLiberal = [2]byte{0x08, 0x08}

// nlb builds netlink messages into one buffer, for batching many requests
// into one sendmsg.
type nlb struct {
	b     []byte
	nests []int
}

func (w *nlb) align() {
	for len(w.b)%4 != 0 {
		w.b = append(w.b, 0)
	}
}

func (w *nlb) attr(typ uint16, data []byte) {
	w.b = binary.NativeEndian.AppendUint16(w.b, uint16(4+len(data)))
	w.b = binary.NativeEndian.AppendUint16(w.b, typ)
	w.b = append(w.b, data...)
	w.align()
}

func (w *nlb) u8(typ uint16, v uint8) { w.attr(typ, []byte{v}) }

func (w *nlb) be16(typ uint16, v uint16) {
	var a [2]byte
	binary.BigEndian.PutUint16(a[:], v)
	w.attr(typ, a[:])
}

func (w *nlb) be32(typ uint16, v uint32) {
	var a [4]byte
	binary.BigEndian.PutUint32(a[:], v)
	w.attr(typ, a[:])
}

func (w *nlb) addr(typ uint16, a netip.Addr) {
	if a.Is4() {
		b := a.As4()
		w.attr(typ, b[:])
		return
	}
	b := a.As16()
	w.attr(typ, b[:])
}

func (w *nlb) begin(typ uint16) {
	w.nests = append(w.nests, len(w.b))
	w.b = binary.NativeEndian.AppendUint16(w.b, 0)
	w.b = binary.NativeEndian.AppendUint16(w.b, typ|nlaFNested)
}

func (w *nlb) end() {
	start := w.nests[len(w.nests)-1]
	w.nests = w.nests[:len(w.nests)-1]
	binary.NativeEndian.PutUint16(w.b[start:], uint16(len(w.b)-start))
}

// header starts a ctnetlink message and returns its offset, for msgEnd.
func (w *nlb) header(msgType uint16, flags uint16, seq uint32, family uint8) int {
	return w.headerSub(subsysCT, msgType, flags, seq, family)
}

// headerSub starts a message of an nfnetlink subsystem (ctnetlink's or its
// expectations') and returns its offset, for msgEnd.
func (w *nlb) headerSub(subsys uint8, msgType uint16, flags uint16, seq uint32, family uint8) int {
	start := len(w.b)
	w.b = binary.NativeEndian.AppendUint32(w.b, 0) // length, set by msgEnd
	w.b = binary.NativeEndian.AppendUint16(w.b, uint16(subsys)<<8|msgType)
	w.b = binary.NativeEndian.AppendUint16(w.b, flags)
	w.b = binary.NativeEndian.AppendUint32(w.b, seq)
	w.b = binary.NativeEndian.AppendUint32(w.b, 0) // portid: the kernel fills it
	w.b = append(w.b, family, nfgenmsgV0, 0, 0)
	return start
}

const nfgenmsgV0 = nfnetlinkV0

func (w *nlb) msgEnd(start int) {
	binary.NativeEndian.PutUint32(w.b[start:], uint32(len(w.b)-start))
}

func family(t ct.Tuple) uint8 {
	if t.Src.Is4() {
		return afInet
	}
	return afInet6
}

func (w *nlb) tuple(typ uint16, t ct.Tuple) {
	w.begin(typ)
	w.begin(ctaTupleIP)
	if t.Src.Is4() {
		w.addr(ctaIPv4Src, t.Src)
		w.addr(ctaIPv4Dst, t.Dst)
	} else {
		w.addr(ctaIPv6Src, t.Src)
		w.addr(ctaIPv6Dst, t.Dst)
	}
	w.end()
	w.begin(ctaTupleProto)
	w.u8(ctaProtoNum, t.Proto)
	switch t.Proto {
	case ct.ProtoICMP:
		w.be16(ctaProtoICMPID, t.ICMPID)
		w.u8(ctaProtoICMPType, t.ICMPType)
		w.u8(ctaProtoICMPCode, t.ICMPCode)
	case ct.ProtoICMPv6:
		w.be16(ctaProtoICMP6ID, t.ICMPID)
		w.u8(ctaProtoICMP6Typ, t.ICMPType)
		w.u8(ctaProtoICMP6Cod, t.ICMPCode)
	default:
		if ct.HasPorts(t.Proto) {
			w.be16(ctaProtoSrcPort, t.SrcPort)
			w.be16(ctaProtoDstPort, t.DstPort)
		}
	}
	w.end()
	w.end()
}

func (w *nlb) nat(typ uint16, a netip.Addr, port uint16, proto uint8) {
	w.begin(typ)
	if a.Is4() {
		w.addr(ctaNATV4MinIP, a)
		w.addr(ctaNATV4MaxIP, a)
	} else {
		w.addr(ctaNATV6MinIP, a)
		w.addr(ctaNATV6MaxIP, a)
	}
	if ct.HasPorts(proto) {
		w.begin(ctaNATProto)
		w.be16(ctaNATPortMin, port)
		w.be16(ctaNATPortMax, port)
		w.end()
	}
	w.end()
}

// commitOp says which request appendFlow builds.
type commitOp uint8

const (
	opCreate  commitOp = iota // NLM_F_CREATE|NLM_F_EXCL, with NAT and master
	opUpdate                  // an update of an existing entry: no NAT, no master
	opDelete                  // IPCTNL_MSG_CT_DELETE by original tuple
	opTimeout                 // an update of an existing entry's timeout only
)

// appendFlow appends one ctnetlink request for f to w. timeout is the
// CTA_TIMEOUT to set, in seconds.
func (w *nlb) appendFlow(op commitOp, f *ct.Flow, timeout uint32, seq uint32, ack bool) {
	var flags uint16 = nlmFRequest
	if ack {
		flags |= nlmFAck
	}
	msg := uint16(ctMsgNew)
	switch op {
	case opCreate:
		flags |= nlmFCreate | nlmFExcl
	case opDelete:
		msg = ctMsgDelete
	}
	start := w.header(msg, flags, seq, family(f.Orig))
	w.tuple(ctaTupleOrig, f.Orig)
	if op == opDelete || op == opTimeout {
		if f.Zone != 0 {
			w.be16(ctaZone, f.Zone)
		}
		if op == opTimeout {
			w.be32(ctaTimeout, timeout)
		}
		w.msgEnd(start)
		return
	}
	// A NATed flow goes in with its reply tuple before translation: the
	// kernel sets the translation up from CTA_NAT_SRC/DST below and
	// rewrites the reply tuple itself. Sent already translated, the entry
	// looks right in conntrack -L but is not NATed, and the new master
	// forwards the client's packets untranslated.
	reply := f.Reply
	_, _, snat := f.SNAT()
	_, _, dnat := f.DNAT()
	if reply.IsZero() || snat || dnat {
		reply = f.Orig.Invert()
	}
	if op == opCreate {
		w.tuple(ctaTupleReply, reply)
	}
	status := f.Status
	if op == opCreate {
		// The kernel derives these from the NAT setup below; it refuses
		// NAT_DONE bits it did not set itself on some versions. EXPECTED
		// it sets itself from the master tuple, and refuses with EBUSY
		// when asked for: a related flow read from a kernel (a peer's)
		// carries it.
		status &^= ct.StatusSrcNATDone | ct.StatusDstNATDone | ct.StatusSrcNAT | ct.StatusDstNAT | ct.StatusExpected
	} else {
		status &^= ct.StatusSrcNATDone | ct.StatusDstNATDone | ct.StatusSrcNAT | ct.StatusDstNAT | ct.StatusExpected | ct.StatusHelper
	}
	status &^= ct.StatusDying | ct.StatusTemplate | ct.StatusUntracked | ct.StatusOffload | ct.StatusHWOffload
	w.be32(ctaStatus, status)
	w.be32(ctaTimeout, timeout)
	if f.Mark != 0 {
		w.be32(ctaMark, f.Mark)
	}
	if f.Zone != 0 {
		w.be16(ctaZone, f.Zone)
	}
	switch f.Orig.Proto {
	case ct.ProtoTCP:
		w.begin(ctaProtoinfo)
		w.begin(ctaProtoinfoTCP)
		w.u8(ctaTCPState, f.TCPState)
		if op == opCreate {
			w.u8(ctaTCPWScaleOrg, f.TCPWScaleOrig)
			w.u8(ctaTCPWScaleRep, f.TCPWScaleRep)
		}
		// The new master has not seen the windows of a committed
		// connection: without "be liberal" its TCP tracking drops or
		// resets the first segments that arrive after the takeover. As
		// conntrackd does, and on update too (failback onto a stale entry).
		w.attr(ctaTCPFlagsOrig, tcpFlagsBeLiberal[:])
		w.attr(ctaTCPFlagsReply, tcpFlagsBeLiberal[:])
		w.end()
		w.end()
	case ct.ProtoSCTP:
		w.begin(ctaProtoinfo)
		w.begin(ctaProtoinfoSCTP)
		w.u8(ctaSCTPState, f.SCTPState)
		w.be32(ctaSCTPVTagOrig, f.SCTPVTagOrig)
		w.be32(ctaSCTPVTagRepl, f.SCTPVTagRep)
		w.end()
		w.end()
	case ct.ProtoDCCP:
		w.begin(ctaProtoinfo)
		w.begin(ctaProtoinfoDCCP)
		w.u8(ctaDCCPState, f.DCCPState)
		w.u8(ctaDCCPRole, f.DCCPRole)
		w.end()
		w.end()
	}
	if op == opCreate {
		if a, p, ok := f.SNAT(); ok {
			w.nat(ctaNATSrc, a, p, f.Orig.Proto)
		}
		if a, p, ok := f.DNAT(); ok {
			w.nat(ctaNATDst, a, p, f.Orig.Proto)
		}
		if f.Related() {
			w.tuple(ctaTupleMast, f.Master)
		}
		if f.Helper != "" {
			w.begin(ctaHelp)
			w.attr(ctaHelpName, append([]byte(f.Helper), 0))
			w.end()
		}
	}
	if f.SeqAdjOrig != (ct.SeqAdj{}) || f.SeqAdjReply != (ct.SeqAdj{}) {
		for i, s := range [2]ct.SeqAdj{f.SeqAdjOrig, f.SeqAdjReply} {
			w.begin(uint16(ctaSeqAdjOrig + i))
			w.be32(ctaSeqAdjCorrPos, s.CorrectionPos)
			w.be32(ctaSeqAdjOffBef, s.OffsetBefore)
			w.be32(ctaSeqAdjOffAft, s.OffsetAfter)
			w.end()
		}
	}
	if f.Labels != "" {
		w.attr(ctaLabels, []byte(f.Labels))
	}
	w.msgEnd(start)
}

// EncodeCreates encodes entries as the create requests a commit sends (the
// same messages and timeouts as Committer.Commit's first round), batch
// requests per datagram, each datagram's sequence numbers counting from 1
// and only its last request asking for an acknowledgement. It is the
// encoder a baseline measurement needs to send exactly vigil's bytes with
// the smallest possible sender.
func EncodeCreates(entries []ct.Entry, now time.Time, commitTimeout time.Duration, batch int) [][]byte {
	batch = max(1, batch)
	var out [][]byte
	var w nlb
	for lo := 0; lo < len(entries); lo += batch {
		hi := min(len(entries), lo+batch)
		w.b = nil
		for i := lo; i < hi; i++ {
			e := &entries[i]
			w.appendFlow(opCreate, &e.Flow, ct.CommitTimeoutSec(e, now, commitTimeout), uint32(i-lo+1), i == hi-1)
		}
		out = append(out, w.b)
	}
	return out
}
