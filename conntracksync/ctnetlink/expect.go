package ctnetlink

import (
	"net/netip"

	ct "github.com/vigil-ha/vigil/conntracksync"
	"github.com/vigil-ha/vigil/conntracksync/ftfw"
)

// ctnetlink's expectation subsystem (linux/netfilter/nfnetlink.h,
// nfnetlink_conntrack.h: enum cntl_msg_types, ctattr_expect,
// ctattr_expect_nat; enum nfnetlink_groups).
const (
	subsysCTExp       = 2
	expMsgNew         = 0
	expMsgDelete      = 2
	nfnlgrpExpNew     = 4
	nfnlgrpExpDestroy = 6

	ctaExpectMaster   = 1
	ctaExpectTuple    = 2
	ctaExpectMask     = 3
	ctaExpectTimeout  = 4
	ctaExpectHelpName = 6
	ctaExpectFlags    = 8
	ctaExpectClass    = 9
	ctaExpectNAT      = 10
	ctaExpectFn       = 11

	ctaExpectNATDir   = 1
	ctaExpectNATTuple = 2

	// expectUserspace is NF_CT_EXPECT_USERSPACE: the kernel sets it itself
	// for an expectation made without a helper.
	expectUserspace = 0x4
)

func expTuple(t *ftfw.ExpTuple) ct.Tuple {
	return ct.Tuple{Src: t.Src, Dst: t.Dst, Proto: t.Proto, SrcPort: t.SrcPort, DstPort: t.DstPort}
}

// appendExpect appends an IPCTNL_MSG_EXP_NEW create request for x with a
// timeout of timeout seconds: the master's original tuple (the kernel finds
// the master by it and links the expectation to it), the expected tuple and
// mask, the helper and expectfn names, flags, class and NAT.
func (w *nlb) appendExpect(x *ct.Expect, timeout uint32, seq uint32, ack bool) {
	var flags uint16 = nlmFRequest | nlmFCreate | nlmFExcl
	if ack {
		flags |= nlmFAck
	}
	fam := uint8(afInet6)
	if x.Master.Src.Is4() {
		fam = afInet
	}
	start := w.headerSub(subsysCTExp, expMsgNew, flags, seq, fam)
	w.tuple(ctaExpectMaster, expTuple(&x.Master))
	w.tuple(ctaExpectTuple, expTuple(&x.Tuple))
	w.tuple(ctaExpectMask, expTuple(&x.Mask))
	w.be32(ctaExpectTimeout, timeout)
	if x.Helper != "" {
		w.attr(ctaExpectHelpName, append([]byte(x.Helper), 0))
	}
	if f := x.Flags &^ expectUserspace; f != 0 {
		w.be32(ctaExpectFlags, f)
	}
	if x.HasClass && x.Class != 0 {
		w.be32(ctaExpectClass, x.Class)
	}
	if x.HasNAT {
		w.begin(ctaExpectNAT)
		w.be32(ctaExpectNATDir, x.NATDir)
		w.tuple(ctaExpectNATTuple, expTuple(&x.NATTuple))
		w.end()
	}
	if x.Fn != "" {
		w.attr(ctaExpectFn, append([]byte(x.Fn), 0))
	}
	w.msgEnd(start)
}

func cstring(v []byte) string {
	for i, c := range v {
		if c == 0 {
			return string(v[:i])
		}
	}
	return string(v)
}

// decodeExpect decodes an expectation message's attributes (after the
// nfgenmsg header) into x, with the ports on the wire exactly when
// conntrackd puts them there (by the master's protocol).
func decodeExpect(b []byte, x *ct.Expect) error {
	var master, tuple, mask, nat ct.Tuple
	var haveNAT bool
	err := attrs(b, func(typ uint16, v []byte) error {
		switch typ {
		case ctaExpectMaster:
			return decodeTupleAttrs(v, &master)
		case ctaExpectTuple:
			return decodeTupleAttrs(v, &tuple)
		case ctaExpectMask:
			return decodeTupleAttrs(v, &mask)
		case ctaExpectTimeout:
			x.HasTimeout, x.TimeoutSecs = true, be32(v)
		case ctaExpectFlags:
			x.Flags = be32(v)
		case ctaExpectClass:
			x.HasClass, x.Class = true, be32(v)
		case ctaExpectHelpName:
			x.Helper = cstring(v)
		case ctaExpectFn:
			x.Fn = cstring(v)
		case ctaExpectNAT:
			return attrs(v, func(typ uint16, v []byte) error {
				switch typ {
				case ctaExpectNATDir:
					x.NATDir = be32(v)
				case ctaExpectNATTuple:
					haveNAT = true
					return decodeTupleAttrs(v, &nat)
				}
				return nil
			})
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !master.Src.IsValid() || !tuple.Src.IsValid() {
		return errDecode
	}
	ports := ftfw.ExpHasPorts(master.Proto)
	set := func(dst *ftfw.ExpTuple, t ct.Tuple) {
		*dst = ftfw.ExpTuple{Src: t.Src, Dst: t.Dst, Proto: t.Proto, HasPorts: ports}
		if ports {
			dst.SrcPort, dst.DstPort = t.SrcPort, t.DstPort
		}
	}
	set(&x.Master, master)
	set(&x.Tuple, tuple)
	set(&x.Mask, mask)
	if !x.Mask.Src.IsValid() {
		// No mask: an exact match of the expected tuple.
		x.Mask.Src, x.Mask.Dst = allOnes(tuple.Src), allOnes(tuple.Dst)
	}
	x.HasFlags = true // conntrackd always sends FLAGS
	// conntrackd carries IPv4 NAT only; the kernel leaves the destination
	// address of the saved tuple zero.
	if haveNAT && nat.Src.Is4() {
		if !nat.Dst.IsValid() {
			nat.Dst = netip.IPv4Unspecified()
		}
		x.HasNAT = true
		set(&x.NATTuple, nat)
		if x.NATTuple.Proto == 0 {
			x.NATTuple.Proto = master.Proto
		}
	} else {
		x.NATDir = 0
	}
	return nil
}

func allOnes(a netip.Addr) netip.Addr {
	if a.Is4() {
		return netip.AddrFrom4([4]byte{255, 255, 255, 255})
	}
	var b [16]byte
	for i := range b {
		b[i] = 0xff
	}
	return netip.AddrFrom16(b)
}
