package conntracksync_test

import (
	"encoding/binary"
	ct "github.com/vigil-ha/vigil/conntracksync"
	"net/netip"
	"testing"

	"github.com/vigil-ha/vigil/conntracksync/ftfw"
	"github.com/vigil-ha/vigil/testnet"
	"golang.org/x/sys/unix"
)

// spoofer is an attacker on the sync segment: it sends UDP datagrams with
// a forged IPv4 source address from a raw socket (IP_HDRINCL) opened
// inside its own namespace.
type spoofer struct {
	fd int
	id uint16
}

func newSpoofer(t *testing.T, h *testnet.Host) *spoofer {
	t.Helper()
	s := &spoofer{fd: -1}
	err := h.Do(func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_RAW) // implies IP_HDRINCL
		s.fd = fd
		return err
	})
	if err != nil {
		t.Fatalf("raw socket in %s: %v", h.Name(), err)
	}
	t.Cleanup(func() { unix.Close(s.fd) })
	return s
}

// sendRaw sends payload in one UDP datagram from src:port to dst:port.
// The kernel fills in the IP header checksum; the UDP checksum is left 0
// (none, allowed over IPv4).
func (s *spoofer) sendRaw(src, dst netip.Addr, port uint16, payload []byte) error {
	s.id++
	pkt := make([]byte, 28, 28+len(payload))
	pkt[0], pkt[8], pkt[9] = 0x45, 64, unix.IPPROTO_UDP
	binary.BigEndian.PutUint16(pkt[2:], uint16(28+len(payload)))
	binary.BigEndian.PutUint16(pkt[4:], s.id)
	copy(pkt[12:16], src.AsSlice())
	copy(pkt[16:20], dst.AsSlice())
	binary.BigEndian.PutUint16(pkt[20:], port)
	binary.BigEndian.PutUint16(pkt[22:], port)
	binary.BigEndian.PutUint16(pkt[24:], uint16(8+len(payload)))
	pkt = append(pkt, payload...)
	return unix.Sendto(s.fd, pkt, 0, &unix.SockaddrInet4{Addr: dst.As4()})
}

// send sends msgs, encoded with the ftfw codec, in one datagram from
// src:DefaultPort to dst:DefaultPort.
func (s *spoofer) send(t *testing.T, src, dst netip.Addr, msgs ...ftfw.Message) {
	t.Helper()
	var payload []byte
	for _, m := range msgs {
		var err error
		if payload, err = m.AppendBinary(payload); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.sendRaw(src, dst, ct.DefaultPort, payload); err != nil {
		t.Fatalf("spoofed send: %v", err)
	}
}
