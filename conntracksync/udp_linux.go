package conntracksync

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"github.com/vigil-ha/vigil/conntracksync/internal/nsenter"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// udpLink is the sync link's UDP socket: bound to LocalAddr:Port (and to
// Interface with SO_BINDTODEVICE), it receives the peer's datagrams and
// sends ours to PeerAddr:Port. conntrackd sends from a second, unbound
// socket; a peer does not look at our source port.
type udpLink struct {
	c    *net.UDPConn
	peer *net.UDPAddr
	// batch is sendmmsg/recvmmsg on c (x/net's ipv4 or ipv6 PacketConn).
	batch interface {
		WriteBatch(ms []ipv4.Message, flags int) (int, error)
		ReadBatch(ms []ipv4.Message, flags int) (int, error)
	}
	wmsgs []ipv4.Message // Send's, reused
	rmsgs []ipv4.Message // Receive's, reused
}

// OpenUDP opens the sync link's UDP socket in cfg.Netns; it is the
// Replicator's Link unless Parts says otherwise.
func OpenUDP(cfg *Config) (Link, error) {
	network := "udp4"
	if !cfg.LocalAddr.Unmap().Is4() {
		network = "udp6"
	}
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			if cfg.Interface != "" {
				if serr = unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, cfg.Interface); serr != nil {
					serr = fmt.Errorf("SO_BINDTODEVICE %s: %w", cfg.Interface, serr)
					return
				}
			}
			if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, cfg.SocketBuffer) != nil {
				_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, cfg.SocketBuffer)
			}
			if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, cfg.SocketBuffer) != nil {
				_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF, cfg.SocketBuffer)
			}
		})
		if err != nil {
			return err
		}
		return serr
	}}
	var pc net.PacketConn
	err := nsenter.Do(cfg.Netns, func() (err error) {
		pc, err = lc.ListenPacket(context.Background(), network, netip.AddrPortFrom(cfg.LocalAddr, cfg.Port).String())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("conntracksync: sync socket %s:%d: %w", cfg.LocalAddr, cfg.Port, err)
	}
	sc := &udpLink{c: pc.(*net.UDPConn), peer: net.UDPAddrFromAddrPort(netip.AddrPortFrom(cfg.PeerAddr, cfg.Port))}
	if network == "udp4" {
		sc.batch = ipv4.NewPacketConn(sc.c)
	} else {
		sc.batch = ipv6.NewPacketConn(sc.c)
	}
	return sc, nil
}

// Send sends datagrams in order, many per sendmmsg. It returns how many
// could not be sent and the last error.
func (s *udpLink) Send(dgrams [][]byte) (failed int, err error) {
	for len(dgrams) > 0 {
		n := min(len(dgrams), 256)
		s.wmsgs = s.wmsgs[:0]
		for _, d := range dgrams[:n] {
			s.wmsgs = append(s.wmsgs, ipv4.Message{Buffers: [][]byte{d}, Addr: s.peer})
		}
		sent, werr := s.batch.WriteBatch(s.wmsgs, 0)
		if werr != nil {
			// Skip the datagram that failed (counted), keep going.
			err = werr
			failed++
			sent++
		}
		dgrams = dgrams[min(sent, len(dgrams)):]
	}
	return failed, err
}

// Receive reads up to len(ds) datagrams with one recvmmsg.
func (s *udpLink) Receive(ds []Datagram) (int, error) {
	for len(s.rmsgs) < len(ds) {
		s.rmsgs = append(s.rmsgs, ipv4.Message{Buffers: make([][]byte, 1)})
	}
	ms := s.rmsgs[:len(ds)]
	for i := range ms {
		ms[i].Buffers[0] = ds[i].Buf
	}
	n, err := s.batch.ReadBatch(ms, 0)
	for i := range n {
		ds[i].N = ms[i].N
		ds[i].FromPeer = s.fromPeer(ms[i].Addr)
	}
	return n, err
}

func (s *udpLink) fromPeer(a net.Addr) bool {
	u, ok := a.(*net.UDPAddr)
	return ok && u.AddrPort().Addr().Unmap() == s.peer.AddrPort().Addr().Unmap()
}

func (s *udpLink) Close() error { return s.c.Close() }
