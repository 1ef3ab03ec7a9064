//go:build linux

package main

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"sync"
	"time"

	"github.com/vigil-ha/vigil/conntracksync"
	"github.com/vigil-ha/vigil/internal/nsenter"
	"golang.org/x/sys/unix"
)

// The floors: what the kernel and the link cost on their own, measured in
// the same run as vigil and conntrackd so that the gap between vigil and
// the floor is what vigil's own code costs.

// floorCommit is the kernel's insert floor: the datagrams vigil's commit
// sends (ctnetlink.EncodeCreates, encoded before the clock starts) written
// by the smallest sender there is: workers raw NETLINK_NETFILTER sockets
// with the committer's buffer sizes, each writing its share of the
// datagrams in order and reading the replies of each until the
// acknowledgement of its last request. It returns the wall time and how
// many requests the kernel refused.
func floorCommit(netns string, workers int, dgrams [][]byte) (time.Duration, int, error) {
	fds := make([]int, workers)
	err := nsenter.Do(netns, func() error {
		for i := range fds {
			fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
			if err != nil {
				return err
			}
			fds[i] = fd
			if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
				return err
			}
			_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 4<<20)
			_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 4<<20)
			_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_CAP_ACK, 1)
		}
		return nil
	})
	defer func() {
		for _, fd := range fds {
			if fd > 0 {
				unix.Close(fd)
			}
		}
	}()
	if err != nil {
		return 0, 0, err
	}
	last := make([]uint32, len(dgrams)) // the sequence number of each datagram's last request
	for i, d := range dgrams {
		for len(d) >= 16 {
			l := int(binary.NativeEndian.Uint32(d))
			last[i] = binary.NativeEndian.Uint32(d[8:])
			d = d[(l+3)&^3:]
		}
	}
	per := (len(dgrams) + workers - 1) / workers
	refused := make([]int, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range workers {
		lo, hi := min(len(dgrams), w*per), min(len(dgrams), (w+1)*per)
		wg.Go(func() {
			rb := make([]byte, 1<<16)
			for i := lo; i < hi; i++ {
				if _, err := unix.Write(fds[w], dgrams[i]); err != nil {
					errs[w] = err
					return
				}
				for acked := false; !acked; {
					n, err := unix.Read(fds[w], rb)
					if err != nil {
						errs[w] = err
						return
					}
					for b := rb[:n]; len(b) >= 20; {
						l := int(binary.NativeEndian.Uint32(b))
						if l < 16 || l > len(b) {
							break
						}
						if binary.NativeEndian.Uint16(b[4:]) == unix.NLMSG_ERROR {
							if binary.NativeEndian.Uint32(b[16:]) != 0 {
								refused[w]++
							}
							if binary.NativeEndian.Uint32(b[8:]) == last[i] {
								acked = true
							}
						}
						b = b[min(len(b), (l+3)&^3):]
					}
				}
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	n := 0
	for _, r := range refused {
		n += r
	}
	return took, n, errors.Join(errs...)
}

// linkReceiver counts the datagrams that reach a UDP socket of the sync
// link's kind (conntracksync.OpenUDP) and when the last one came.
type linkReceiver struct {
	l    conntracksync.Link
	mu   sync.Mutex
	n    int
	last time.Time
	done chan struct{}
}

func newLinkReceiver(netns, iface string, local, peer netip.Addr, port uint16) (*linkReceiver, error) {
	l, err := conntracksync.OpenUDP(&conntracksync.Config{Interface: iface, LocalAddr: local, PeerAddr: peer, Port: port,
		Netns: netns, SocketBuffer: 32 << 20})
	if err != nil {
		return nil, err
	}
	r := &linkReceiver{l: l, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		ds := make([]conntracksync.Datagram, 64)
		for i := range ds {
			ds[i].Buf = make([]byte, 9216)
		}
		for {
			n, err := l.Receive(ds)
			if err != nil {
				return
			}
			now := time.Now()
			r.mu.Lock()
			r.n += n
			r.last = now
			r.mu.Unlock()
		}
	}()
	return r, nil
}

func (r *linkReceiver) reset() {
	r.mu.Lock()
	r.n, r.last = 0, time.Time{}
	r.mu.Unlock()
}

func (r *linkReceiver) count() (int, time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n, r.last
}

func (r *linkReceiver) close() {
	_ = r.l.Close()
	<-r.done
}
