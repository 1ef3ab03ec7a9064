package testnet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// Packet is one captured frame.
type Packet struct {
	Time time.Time // kernel capture timestamp
	Data []byte    // the link-layer frame (Ethernet on a veth), as captured
}

// Classic pcap magic numbers (as read in the file's own byte order).
const (
	pcapMagicMicro = 0xa1b2c3d4
	pcapMagicNano  = 0xa1b23c4d
)

// Link types of the pcap header (tcpdump.org/linktypes.html).
const (
	LinkTypeEthernet = 1   // LINKTYPE_ETHERNET
	LinkTypeLinuxSLL = 113 // LINKTYPE_LINUX_SLL ("-i any")
)

// maxPcapRecord bounds one record's captured length, so a corrupt file
// cannot make the reader allocate without limit.
const maxPcapRecord = 1 << 20

// ErrPcapFormat is wrapped by ReadPcap's errors about malformed input.
var ErrPcapFormat = errors.New("testnet: malformed pcap")

// ReadPcap reads a classic pcap file (as written by tcpdump -w), with
// microsecond or nanosecond timestamps in either byte order, and returns its
// link type (the header's LinkType, low 16 bits) and its packets. A file
// that ends inside a record returns the packets before it and an error
// wrapping io.ErrUnexpectedEOF. pcapng is not supported.
func ReadPcap(r io.Reader) (linkType uint32, pkts []Packet, err error) {
	var hdr [24]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, fmt.Errorf("%w: header: %w", ErrPcapFormat, err)
	}
	var bo binary.ByteOrder
	var nanos int64
	switch {
	case binary.LittleEndian.Uint32(hdr[0:4]) == pcapMagicMicro:
		bo, nanos = binary.LittleEndian, 1000
	case binary.BigEndian.Uint32(hdr[0:4]) == pcapMagicMicro:
		bo, nanos = binary.BigEndian, 1000
	case binary.LittleEndian.Uint32(hdr[0:4]) == pcapMagicNano:
		bo, nanos = binary.LittleEndian, 1
	case binary.BigEndian.Uint32(hdr[0:4]) == pcapMagicNano:
		bo, nanos = binary.BigEndian, 1
	default:
		return 0, nil, fmt.Errorf("%w: unknown magic %x", ErrPcapFormat, hdr[0:4])
	}
	if major := bo.Uint16(hdr[4:6]); major != 2 {
		return 0, nil, fmt.Errorf("%w: version %d.%d", ErrPcapFormat, major, bo.Uint16(hdr[6:8]))
	}
	linkType = bo.Uint32(hdr[20:24]) & 0xffff
	for {
		var rh [16]byte
		n, err := io.ReadFull(r, rh[:])
		if n == 0 && err == io.EOF {
			return linkType, pkts, nil
		}
		if err != nil {
			return linkType, pkts, fmt.Errorf("%w: record %d header: %w", ErrPcapFormat, len(pkts), io.ErrUnexpectedEOF)
		}
		sec := int64(bo.Uint32(rh[0:4]))
		frac := int64(bo.Uint32(rh[4:8]))
		incl := bo.Uint32(rh[8:12])
		if frac*nanos >= int64(time.Second) {
			return linkType, pkts, fmt.Errorf("%w: record %d: sub-second part %d out of range", ErrPcapFormat, len(pkts), frac)
		}
		if incl > maxPcapRecord {
			return linkType, pkts, fmt.Errorf("%w: record %d: length %d", ErrPcapFormat, len(pkts), incl)
		}
		data := make([]byte, incl)
		if _, err := io.ReadFull(r, data); err != nil {
			return linkType, pkts, fmt.Errorf("%w: record %d data: %w", ErrPcapFormat, len(pkts), io.ErrUnexpectedEOF)
		}
		pkts = append(pkts, Packet{Time: time.Unix(sec, frac*nanos), Data: data})
	}
}
