package conntracksync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"
)

// The arbiter's heartbeat travels beside the FTFW channel, on a UDP socket
// of its own on each sync path (by default the sync port + 1), sealed with
// the authenticated envelope of auth.go under keys of its own (the HKDF
// label authLabelHeartbeat). This package carries opaque payloads: package
// arbiter owns what they say, the daemon when they are sent. There is no
// heartbeat without a key: an unauthenticated heartbeat would let anyone on
// the sync segment keep a node in BACKUP.

// HeartbeatPath is one sync path the heartbeat runs over.
type HeartbeatPath struct {
	Interface           string // SO_BINDTODEVICE; "" none
	LocalAddr, PeerAddr netip.Addr
	Port                uint16 // both sides'
	Netns               string // network namespace path; "" the process's
}

// HeartbeatStats counts the heartbeat link's datagrams.
type HeartbeatStats struct {
	Sent, SendErrors, Received uint64
	// Foreign: datagrams from an address that is not a path's peer.
	Foreign uint64
	// Drops are the refused datagrams by verdict (auth_failed,
	// auth_replayed, ...), as the FTFW channel's.
	Drops map[string]uint64
}

// heartbeatBuffer is the heartbeat socket's buffer: a few datagrams.
const heartbeatBuffer = 64 << 10

// Heartbeat is the heartbeat link: one authenticated UDP socket per path.
// Build it with NewHeartbeat; Run opens the sockets and reads; Send seals
// and sends a payload on every open path.
//
// Concurrency: Send is called by one goroutine; Run by another, once;
// Stats from any.
type Heartbeat struct {
	log   *slog.Logger
	key   AuthKey
	paths []HeartbeatPath
	open  LinkOpener
	newID func() uint64

	mu    sync.Mutex // guards links (set by Run) and the counters below
	links []*hbLink
	stats HeartbeatStats
	drops [numAuthVerdicts]uint64
}

type hbLink struct {
	l      Link
	auth   *authLink
	sealed []byte
}

// NewHeartbeat builds the heartbeat link over paths with the pre-shared
// key; open nil is OpenUDP.
func NewHeartbeat(log *slog.Logger, key AuthKey, paths []HeartbeatPath, open LinkOpener) (*Heartbeat, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("%w: heartbeat: no sync path", ErrConfig)
	}
	for _, p := range paths {
		if !p.LocalAddr.IsValid() || !p.PeerAddr.IsValid() || p.Port == 0 {
			return nil, fmt.Errorf("%w: heartbeat path %s -> %s port %d", ErrConfig, p.LocalAddr, p.PeerAddr, p.Port)
		}
	}
	if open == nil {
		open = OpenUDP
	}
	return &Heartbeat{log: log, key: key, paths: paths, open: open, newID: randomID}, nil
}

// Run opens every path's socket (a path that cannot open is retried every
// second, logged once per error) and delivers each authentic payload, with
// the path's index, to deliver, on its reader's goroutine. It returns when
// ctx ends, after closing the sockets and waiting for the readers.
func (h *Heartbeat) Run(ctx context.Context, deliver func(path int, payload []byte)) error {
	var wg sync.WaitGroup
	h.mu.Lock()
	h.links = make([]*hbLink, len(h.paths))
	h.mu.Unlock()
	for i := range h.paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.runPath(ctx, i, deliver)
		}()
	}
	wg.Wait()
	return ctx.Err()
}

func (h *Heartbeat) runPath(ctx context.Context, i int, deliver func(int, []byte)) {
	p := h.paths[i]
	var lastErr string
	for {
		link, err := h.dial(p)
		if err == nil {
			h.mu.Lock()
			h.links[i] = link
			h.mu.Unlock()
			stop := context.AfterFunc(ctx, func() { _ = link.l.Close() })
			h.read(ctx, link, deliver, i)
			stop()
			_ = link.l.Close()
			h.mu.Lock()
			h.links[i] = nil
			h.mu.Unlock()
			if ctx.Err() != nil {
				return
			}
		} else if err.Error() != lastErr {
			lastErr = err.Error()
			h.log.Warn("arbiter heartbeat: cannot open the sync path, retrying every second", "local", p.LocalAddr, "peer", p.PeerAddr, "port", p.Port, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func (h *Heartbeat) dial(p HeartbeatPath) (*hbLink, error) {
	a, err := newAuthLinkLabel(authLabelHeartbeat, h.key, p.LocalAddr, p.PeerAddr, h.newID)
	if err != nil {
		return nil, err
	}
	l, err := h.open(&Config{Interface: p.Interface, LocalAddr: p.LocalAddr, PeerAddr: p.PeerAddr, Port: p.Port, Netns: p.Netns, SocketBuffer: heartbeatBuffer})
	if err != nil {
		return nil, err
	}
	return &hbLink{l: l, auth: a}, nil
}

func (h *Heartbeat) read(ctx context.Context, link *hbLink, deliver func(int, []byte), i int) {
	ds := make([]Datagram, 8)
	for j := range ds {
		ds[j].Buf = make([]byte, 2048)
	}
	for {
		n, err := link.l.Receive(ds)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || ctx.Err() != nil {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		for _, d := range ds[:n] {
			if !d.FromPeer {
				h.mu.Lock()
				h.stats.Foreign++
				h.mu.Unlock()
				continue
			}
			p, v := link.auth.open(d.Buf[:d.N])
			h.mu.Lock()
			if v == authOK {
				h.stats.Received++
			} else {
				h.drops[v]++
			}
			h.mu.Unlock()
			if v == authOK {
				deliver(i, p)
			}
		}
	}
}

// Send seals payload and sends it on every open path. A path not open yet
// is skipped; a failure is counted.
func (h *Heartbeat) Send(payload []byte) {
	h.mu.Lock()
	links := append([]*hbLink(nil), h.links...)
	h.mu.Unlock()
	for _, link := range links {
		if link == nil {
			continue
		}
		var err error
		if link.sealed, err = link.auth.seal(link.sealed[:0], payload); err == nil {
			var failed int
			failed, err = link.l.Send([][]byte{link.sealed})
			if failed > 0 && err == nil {
				err = errors.New("not sent")
			}
		}
		h.mu.Lock()
		if err != nil {
			h.stats.SendErrors++
		} else {
			h.stats.Sent++
		}
		h.mu.Unlock()
	}
}

// Stats returns a snapshot of the counters.
func (h *Heartbeat) Stats() HeartbeatStats {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.stats
	s.Drops = map[string]uint64{}
	for v, n := range h.drops {
		if n > 0 {
			s.Drops[authVerdict(v).String()] = n
		}
	}
	return s
}
