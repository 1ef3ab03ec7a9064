package ctnetlink

import (
	"encoding/binary"
	"errors"
	ct "github.com/vigil-ha/vigil/conntracksync"
	"net/netip"
)

var errDecode = errors.New("conntracksync: malformed ctnetlink message")

// decoded says which optional parts an event carried, so that an update
// event can be merged with the cached entry (mergeDecoded).
type decoded struct {
	tcp, sctp, dccp, master, helper, seqadj bool
}

// attrs walks the netlink attributes of b, calling fn with each type
// (nested flag cleared) and payload.
func attrs(b []byte, fn func(typ uint16, v []byte) error) error {
	for len(b) >= 4 {
		l := int(binary.NativeEndian.Uint16(b))
		typ := binary.NativeEndian.Uint16(b[2:]) &^ (nlaFNested | 0x4000)
		if l < 4 || l > len(b) {
			return errDecode
		}
		if err := fn(typ, b[4:l]); err != nil {
			return err
		}
		adv := (l + 3) &^ 3
		if adv >= len(b) {
			return nil
		}
		b = b[adv:]
	}
	return nil
}

func be16(v []byte) uint16 {
	if len(v) < 2 {
		return 0
	}
	return binary.BigEndian.Uint16(v)
}

func be32(v []byte) uint32 {
	if len(v) < 4 {
		return 0
	}
	return binary.BigEndian.Uint32(v)
}

func u8(v []byte) uint8 {
	if len(v) < 1 {
		return 0
	}
	return v[0]
}

func addrOf(v []byte) netip.Addr {
	switch len(v) {
	case 4:
		return netip.AddrFrom4([4]byte(v))
	case 16:
		return netip.AddrFrom16([16]byte(v))
	}
	return netip.Addr{}
}

func decodeTuple(b []byte, t *ct.Tuple) error {
	if err := decodeTupleAttrs(b, t); err != nil {
		return err
	}
	// Keep only what the protocol uses, so that keys compare equal.
	if !ct.HasPorts(t.Proto) {
		t.SrcPort, t.DstPort = 0, 0
	}
	if t.Proto != ct.ProtoICMP && t.Proto != ct.ProtoICMPv6 {
		t.ICMPType, t.ICMPCode, t.ICMPID = 0, 0, 0
	}
	return nil
}

func decodeTupleAttrs(b []byte, t *ct.Tuple) error {
	return attrs(b, func(typ uint16, v []byte) error {
		switch typ {
		case ctaTupleIP:
			return attrs(v, func(typ uint16, v []byte) error {
				switch typ {
				case ctaIPv4Src, ctaIPv6Src:
					t.Src = addrOf(v)
				case ctaIPv4Dst, ctaIPv6Dst:
					t.Dst = addrOf(v)
				}
				return nil
			})
		case ctaTupleProto:
			return attrs(v, func(typ uint16, v []byte) error {
				switch typ {
				case ctaProtoNum:
					t.Proto = u8(v)
				case ctaProtoSrcPort:
					t.SrcPort = be16(v)
				case ctaProtoDstPort:
					t.DstPort = be16(v)
				case ctaProtoICMPID, ctaProtoICMP6ID:
					t.ICMPID = be16(v)
				case ctaProtoICMPType, ctaProtoICMP6Typ:
					t.ICMPType = u8(v)
				case ctaProtoICMPCode, ctaProtoICMP6Cod:
					t.ICMPCode = u8(v)
				}
				return nil
			})
		}
		return nil
	})
}

func decodeSeqAdj(b []byte, s *ct.SeqAdj) error {
	return attrs(b, func(typ uint16, v []byte) error {
		switch typ {
		case ctaSeqAdjCorrPos:
			s.CorrectionPos = be32(v)
		case ctaSeqAdjOffBef:
			s.OffsetBefore = be32(v)
		case ctaSeqAdjOffAft:
			s.OffsetAfter = be32(v)
		}
		return nil
	})
}

// decodeFlow decodes the attributes of a ctnetlink conntrack message (after
// the nfgenmsg header) into f, without allocating.
func decodeFlow(b []byte, f *ct.Flow, d *decoded) error {
	err := attrs(b, func(typ uint16, v []byte) error {
		switch typ {
		case ctaTupleOrig:
			return decodeTuple(v, &f.Orig)
		case ctaTupleReply:
			return decodeTuple(v, &f.Reply)
		case ctaTupleMast:
			d.master = true
			return decodeTuple(v, &f.Master)
		case ctaStatus:
			f.Status = be32(v)
		case ctaTimeout:
			f.TimeoutSec = be32(v)
		case ctaMark:
			f.Mark = be32(v)
		case ctaZone:
			f.Zone = be16(v)
		case ctaLabels:
			for _, c := range v {
				if c != 0 {
					f.Labels = string(v)
					break
				}
			}
		case ctaHelp:
			return attrs(v, func(typ uint16, v []byte) error {
				if typ == ctaHelpName {
					d.helper = true
					n := len(v)
					for i, c := range v {
						if c == 0 {
							n = i
							break
						}
					}
					f.Helper = string(v[:n])
				}
				return nil
			})
		case ctaSeqAdjOrig:
			d.seqadj = true
			return decodeSeqAdj(v, &f.SeqAdjOrig)
		case ctaSeqAdjRepl:
			d.seqadj = true
			return decodeSeqAdj(v, &f.SeqAdjReply)
		case ctaProtoinfo:
			return attrs(v, func(typ uint16, v []byte) error {
				switch typ {
				case ctaProtoinfoTCP:
					d.tcp = true
					return attrs(v, func(typ uint16, v []byte) error {
						switch typ {
						case ctaTCPState:
							f.TCPState = u8(v)
						case ctaTCPWScaleOrg:
							f.TCPWScaleOrig = u8(v)
						case ctaTCPWScaleRep:
							f.TCPWScaleRep = u8(v)
						}
						return nil
					})
				case ctaProtoinfoSCTP:
					d.sctp = true
					return attrs(v, func(typ uint16, v []byte) error {
						switch typ {
						case ctaSCTPState:
							f.SCTPState = u8(v)
						case ctaSCTPVTagOrig:
							f.SCTPVTagOrig = be32(v)
						case ctaSCTPVTagRepl:
							f.SCTPVTagRep = be32(v)
						}
						return nil
					})
				case ctaProtoinfoDCCP:
					d.dccp = true
					return attrs(v, func(typ uint16, v []byte) error {
						switch typ {
						case ctaDCCPState:
							f.DCCPState = u8(v)
						case ctaDCCPRole:
							f.DCCPRole = u8(v)
						}
						return nil
					})
				}
				return nil
			})
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !f.Orig.Src.IsValid() || !f.Orig.Dst.IsValid() || f.Orig.Proto == 0 {
		return errDecode
	}
	if !d.master {
		f.Master = ct.Tuple{}
	}
	return nil
}

// mergeDecoded completes f, decoded from an update event, with what such
// an event leaves out unless it changed: protocol info, master, helper and
// sequence adjustment are only present in the events that change them.
func mergeDecoded(f, old *ct.Flow, d *decoded) {
	if !d.tcp {
		f.TCPState, f.TCPWScaleOrig, f.TCPWScaleRep = old.TCPState, old.TCPWScaleOrig, old.TCPWScaleRep
	}
	if !d.sctp {
		f.SCTPState, f.SCTPVTagOrig, f.SCTPVTagRep = old.SCTPState, old.SCTPVTagOrig, old.SCTPVTagRep
	}
	if !d.dccp {
		f.DCCPState, f.DCCPRole = old.DCCPState, old.DCCPRole
	}
	if !d.master {
		f.Master = old.Master
	}
	if !d.helper {
		f.Helper = old.Helper
	}
	if !d.seqadj {
		f.SeqAdjOrig, f.SeqAdjReply = old.SeqAdjOrig, old.SeqAdjReply
	}
}
