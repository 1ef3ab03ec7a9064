package ctnetlink

import (
	"encoding/binary"
	"math"
	"slices"

	"golang.org/x/net/bpf"
)

// The event socket's kernel filter: a classic BPF program, attached with
// SO_ATTACH_FILTER, that drops the events our own commit and warm-write
// sockets caused before they are queued on the socket, so that neither
// the kernel's copy into the receive buffer nor our read and port-id check
// is paid for them, and a burst of our own writes cannot overflow the
// socket (ENOBUFS, then a dump of the whole table).
//
// The program sees each skb the kernel multicasts from its first byte, the
// nlmsghdr. ctnetlink builds one skb per event holding one message, but
// the program does not rely on it: it drops only an skb too short to hold
// a second message after the first, so a datagram of several messages
// always reaches the listener, which still checks every message's port
// id itself. Word loads are big-endian while the nlmsghdr is in host
// order: the port ids are compared byte-swapped on a little-endian host,
// and nlmsg_len is read byte by byte.
//
// The kernel counts nothing for an skb a socket filter drops (not in
// sk_drops, not in any socket statistic), so the listener cannot count
// the events it spared.

// maxFilterPids bounds the port ids in the filter (a conditional jump
// skips at most 255 instructions); ids beyond it are left to the
// listener's own check. A Kernel has at most a few committers' sockets
// (four each) known at a time.
const maxFilterPids = 128

// Offsets in struct nlmsghdr (linux/netlink.h).
const (
	nlmsgLenOff = 0
	nlmsgPidOff = 12
)

// portFilter returns the program that drops every single-message skb
// whose nlmsg_pid is one of pids (0, the kernel's own events, is never
// dropped) and accepts everything else whole; nil when there is nothing
// to drop. order is the host's byte order.
func portFilter(pids []uint32, order binary.ByteOrder) []bpf.Instruction {
	ids := make([]uint32, 0, len(pids))
	for _, p := range pids {
		if p != 0 {
			ids = append(ids, p)
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if len(ids) > maxFilterPids {
		ids = ids[:maxFilterPids]
	}
	if len(ids) == 0 {
		return nil
	}
	const accept, drop = math.MaxUint32, 0
	var prog []bpf.Instruction
	// A = nlmsg_len in host order, from its four bytes.
	for i := range 4 {
		var shift uint32
		if order.Uint32([]byte{0, 0, 0, 1}) == 1 { // big-endian
			shift = 8 * uint32(3-i)
		} else {
			shift = 8 * uint32(i)
		}
		prog = append(prog, bpf.LoadAbsolute{Off: nlmsgLenOff + uint32(i), Size: 1})
		if shift > 0 {
			prog = append(prog, bpf.ALUOpConstant{Op: bpf.ALUOpShiftLeft, Val: shift})
		}
		if i > 0 {
			prog = append(prog, bpf.ALUOpX{Op: bpf.ALUOpOr})
		}
		if i < 3 {
			prog = append(prog, bpf.TAX{})
		}
	}
	// X = where a second message would end at the least: the first one
	// aligned to 4 bytes, plus a header. An skb that long is accepted.
	prog = append(prog,
		bpf.ALUOpConstant{Op: bpf.ALUOpAdd, Val: 3 + nlmsgHdrLen},
		bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: ^uint32(3)},
		bpf.TAX{},
		bpf.LoadExtension{Num: bpf.ExtLen},
		bpf.JumpIfX{Cond: bpf.JumpGreaterOrEqual, SkipTrue: uint8(len(ids) + 1)},
		bpf.LoadAbsolute{Off: nlmsgPidOff, Size: 4},
	)
	for i, id := range ids {
		var b [4]byte
		order.PutUint32(b[:], id)
		prog = append(prog, bpf.JumpIf{Cond: bpf.JumpEqual, Val: binary.BigEndian.Uint32(b[:]), SkipTrue: uint8(len(ids) - i)})
	}
	return append(prog, bpf.RetConstant{Val: accept}, bpf.RetConstant{Val: drop})
}
