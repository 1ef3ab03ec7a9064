package conntracksync

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"golang.org/x/sys/unix"
)

// syncConn is the sync link's UDP socket: bound to LocalAddr:Port (and to
// Interface with SO_BINDTODEVICE), it receives the peer's datagrams and
// sends ours to PeerAddr:Port. conntrackd sends from a second, unbound
// socket; a peer does not look at our source port.
type syncConn struct {
	c    *net.UDPConn
	peer *net.UDPAddr
}

func listenSync(cfg *Config) (*syncConn, error) {
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
	err := inNetns(cfg.Netns, func() (err error) {
		pc, err = lc.ListenPacket(context.Background(), network, netip.AddrPortFrom(cfg.LocalAddr, cfg.Port).String())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("conntracksync: sync socket %s:%d: %w", cfg.LocalAddr, cfg.Port, err)
	}
	return &syncConn{c: pc.(*net.UDPConn), peer: net.UDPAddrFromAddrPort(netip.AddrPortFrom(cfg.PeerAddr, cfg.Port))}, nil
}

func (s *syncConn) send(b []byte) error {
	_, err := s.c.WriteToUDP(b, s.peer)
	return err
}

// recv reads one datagram into buf and returns its length; datagrams from
// other addresses than the peer are reported with fromPeer false.
func (s *syncConn) recv(buf []byte) (n int, fromPeer bool, err error) {
	n, from, err := s.c.ReadFromUDPAddrPort(buf)
	if err != nil {
		return 0, false, err
	}
	return n, from.Addr().Unmap() == s.peer.AddrPort().Addr().Unmap(), nil
}

func (s *syncConn) close() error { return s.c.Close() }
