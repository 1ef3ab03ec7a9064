package conntracksync

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// syncConn is the sync link's UDP socket: bound to LocalAddr:Port (and to
// Interface with SO_BINDTODEVICE), it receives the peer's datagrams and
// sends ours to PeerAddr:Port. conntrackd sends from a second, unbound
// socket; a peer does not look at our source port.
//
// With a key (auth_key_file) every datagram is sealed on send and opened on
// receive (auth.go): sendAll is called by the replicator's loop only, open
// by its reader only.
type syncConn struct {
	c    *net.UDPConn
	peer *net.UDPAddr
	auth *authLink // nil: plain FTFW
	// sealed holds the envelopes of one sendmmsg, reused.
	sealed [][]byte
	// batch is sendmmsg/recvmmsg on c (x/net's ipv4 or ipv6 PacketConn).
	batch interface {
		WriteBatch(ms []ipv4.Message, flags int) (int, error)
		ReadBatch(ms []ipv4.Message, flags int) (int, error)
	}
	wmsgs []ipv4.Message
}

// listenSync opens the sync socket; with key, a new authenticated session
// starts (a fresh random session id and challenge).
func listenSync(cfg *Config, key *AuthKey) (*syncConn, error) {
	var auth *authLink
	if key != nil {
		var err error
		if auth, err = newAuthLink(*key, cfg.LocalAddr, cfg.PeerAddr, randomID); err != nil {
			return nil, fmt.Errorf("conntracksync: sync channel key: %w", err)
		}
	}
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
	sc := &syncConn{c: pc.(*net.UDPConn), peer: net.UDPAddrFromAddrPort(netip.AddrPortFrom(cfg.PeerAddr, cfg.Port)), auth: auth}
	if network == "udp4" {
		sc.batch = ipv4.NewPacketConn(sc.c)
	} else {
		sc.batch = ipv6.NewPacketConn(sc.c)
	}
	return sc, nil
}

// randomID returns a random non-zero 64-bit id (crypto/rand).
func randomID() uint64 {
	var b [8]byte
	for {
		_, _ = rand.Read(b[:]) // never fails on Linux
		if v := binary.LittleEndian.Uint64(b[:]); v != 0 {
			return v
		}
	}
}

// sendAll sends datagrams in order, many per sendmmsg, sealed when the
// channel is keyed. It returns how many could not be sent and the last
// error.
func (s *syncConn) sendAll(dgrams [][]byte) (failed int, err error) {
	for len(dgrams) > 0 {
		n := min(len(dgrams), 256)
		s.wmsgs = s.wmsgs[:0]
		for i, d := range dgrams[:n] {
			if s.auth != nil {
				if len(s.sealed) <= i {
					s.sealed = append(s.sealed, nil)
				}
				var serr error
				if s.sealed[i], serr = s.auth.seal(s.sealed[i][:0], d); serr != nil {
					return failed + len(dgrams), serr
				}
				d = s.sealed[i]
			}
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

// recvBatch reads up to len(ms) datagrams with one recvmmsg; each
// message's N is its length.
func (s *syncConn) recvBatch(ms []ipv4.Message) (int, error) {
	return s.batch.ReadBatch(ms, 0)
}

// open returns the FTFW datagram inside d (d itself on a plain channel,
// decrypted in place on a keyed one) or why it was refused.
func (s *syncConn) open(d []byte) ([]byte, authVerdict) {
	if s.auth == nil {
		return d, authOK
	}
	return s.auth.open(d)
}

func (s *syncConn) fromPeer(a net.Addr) bool {
	u, ok := a.(*net.UDPAddr)
	return ok && u.AddrPort().Addr().Unmap() == s.peer.AddrPort().Addr().Unmap()
}

func (s *syncConn) close() error { return s.c.Close() }
