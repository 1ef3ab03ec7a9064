package check

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// WatcherConfig configures a Watcher.
type WatcherConfig struct {
	// Namespace to watch; nil: the process's own, subscribed to without
	// entering any namespace (setns needs CAP_SYS_ADMIN, which vigild
	// does not keep).
	Namespace *netns.NsHandle
	Log       *slog.Logger // nil: slog.Default()
	Buffer    int          // Events channel capacity; 0: 256
}

// WatcherStats counts the Watcher's troubles.
type WatcherStats struct {
	Errors  uint64 // netlink errors reported by the subscriptions
	Resyncs uint64 // times the subscriptions were re-established and the state re-dumped
	Events  uint64 // events delivered
}

// Watcher follows every link and address of a namespace through one pair
// of netlink subscriptions (RTNLGRP_LINK and the IPv4/IPv6 address groups)
// shared by all trackers, and turns them into IfaceEvents: up/down
// (IFF_UP and IFF_RUNNING, as keepalived judges an interface), renames,
// additions and removals, addresses added and removed. The links present at
// start are reported as IfaceAdded (+ IfaceUp, AddrAdded) events. If a
// subscription fails (for example ENOBUFS after a burst), the Watcher
// subscribes again, re-dumps, and reports the differences.
type Watcher struct {
	ns     netns.NsHandle
	ownNs  bool
	log    *slog.Logger
	events chan IfaceEvent
	stop   chan struct{}
	once   sync.Once // closes stop
	done   chan struct{}

	mu    sync.Mutex // mu guards the following fields
	table *ifaceTable
	stats WatcherStats
}

// NewWatcher subscribes and starts the Watcher's goroutine; Close stops it.
func NewWatcher(cfg WatcherConfig) (*Watcher, error) {
	w := &Watcher{log: cfg.Log, table: newIfaceTable(), stop: make(chan struct{}), done: make(chan struct{})}
	if w.log == nil {
		w.log = slog.Default()
	}
	if cfg.Namespace != nil {
		ns, err := dupNs(*cfg.Namespace)
		if err != nil {
			return nil, err
		}
		w.ns = ns
		w.ownNs = true
	}
	buf := cfg.Buffer
	if buf <= 0 {
		buf = 256
	}
	w.events = make(chan IfaceEvent, buf)
	sub, err := w.subscribe()
	if err != nil {
		if w.ownNs {
			w.ns.Close()
		}
		return nil, err
	}
	go w.runWatch(sub)
	return w, nil
}

func dupNs(h netns.NsHandle) (netns.NsHandle, error) {
	fd, err := unix.Dup(int(h))
	if err != nil {
		return netns.None(), fmt.Errorf("check: watcher: dup namespace handle: %w", err)
	}
	unix.CloseOnExec(fd)
	return netns.NsHandle(fd), nil
}

type subscription struct {
	links chan netlink.LinkUpdate
	addrs chan netlink.AddrUpdate
	done  chan struct{}
}

func (w *Watcher) subscribe() (*subscription, error) {
	s := &subscription{links: make(chan netlink.LinkUpdate, 64), addrs: make(chan netlink.AddrUpdate, 64), done: make(chan struct{})}
	onErr := func(err error) {
		select {
		case <-s.done:
			return // our own close of the socket
		default:
		}
		w.mu.Lock()
		w.stats.Errors++
		w.mu.Unlock()
		w.log.Warn("check: interface watcher: netlink error", "err", err)
	}
	var ns *netns.NsHandle
	if w.ownNs {
		h := w.ns
		ns = &h
	}
	if err := netlink.LinkSubscribeWithOptions(s.links, s.done, netlink.LinkSubscribeOptions{Namespace: ns, ListExisting: true, ErrorCallback: onErr}); err != nil {
		close(s.done)
		return nil, fmt.Errorf("check: watcher: subscribe to links: %w", err)
	}
	if err := netlink.AddrSubscribeWithOptions(s.addrs, s.done, netlink.AddrSubscribeOptions{Namespace: ns, ListExisting: true, ErrorCallback: onErr}); err != nil {
		s.close()
		return nil, fmt.Errorf("check: watcher: subscribe to addresses: %w", err)
	}
	return s, nil
}

// close ends the subscription and drains its channels until the library's
// goroutines have closed them.
func (s *subscription) close() {
	close(s.done)
	for range s.links {
	}
	for range s.addrs {
	}
}

// Events delivers the changes, in the order they were seen. The channel is
// closed by Close.
func (w *Watcher) Events() <-chan IfaceEvent { return w.events }

// Iface returns the current view of the link called name.
func (w *Watcher) Iface(name string) (Iface, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.table.byName(name)
}

// Stats returns a snapshot of the counters.
func (w *Watcher) Stats() WatcherStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stats
}

// Close stops the subscriptions and the goroutine and closes Events. It
// may be called more than once, also concurrently; every call returns once
// the goroutine is done.
func (w *Watcher) Close() {
	w.once.Do(func() { close(w.stop) })
	<-w.done
}

// runWatch merges the two subscriptions into events; owned by the Watcher,
// stopped by Close.
func (w *Watcher) runWatch(sub *subscription) {
	defer close(w.done)
	defer close(w.events)
	defer func() {
		if sub != nil {
			sub.close()
		}
		if w.ownNs {
			w.ns.Close()
		}
	}()
	for {
		var evs []IfaceEvent
		broken := false
		select {
		case <-w.stop:
			return
		case u, ok := <-sub.links:
			if !ok {
				broken = true
				break
			}
			w.mu.Lock()
			evs = w.table.link(int(u.Index), u.Attrs().Name, u.Flags&unix.IFF_UP != 0, u.Flags&unix.IFF_RUNNING != 0, u.Header.Type == unix.RTM_DELLINK)
			w.mu.Unlock()
		case u, ok := <-sub.addrs:
			if !ok {
				broken = true
				break
			}
			p, ok := prefixOf(u.LinkAddress)
			if !ok {
				continue
			}
			w.mu.Lock()
			evs = w.table.addr(u.LinkIndex, p, u.NewAddr)
			w.mu.Unlock()
		}
		if broken {
			sub.close()
			sub = nil
			var err error
			for sub == nil {
				select {
				case <-w.stop:
					return
				case <-time.After(100 * time.Millisecond):
				}
				evs, sub, err = w.resync()
				if err != nil {
					w.log.Warn("check: interface watcher: resubscribe failed", "err", err)
				}
			}
		}
		if !w.deliver(evs) {
			return
		}
	}
}

// resync subscribes again and diffs a fresh dump against the table.
func (w *Watcher) resync() ([]IfaceEvent, *subscription, error) {
	sub, err := w.subscribe()
	if err != nil {
		return nil, nil, err
	}
	var h *netlink.Handle
	if w.ownNs {
		h, err = netlink.NewHandleAt(w.ns)
	} else {
		h, err = netlink.NewHandle()
	}
	if err != nil {
		sub.close()
		return nil, nil, err
	}
	defer h.Close()
	links, err := h.LinkList()
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		sub.close()
		return nil, nil, err
	}
	addrs, err := h.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		sub.close()
		return nil, nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stats.Resyncs++
	var evs []IfaceEvent
	present := map[int]bool{}
	for _, l := range links {
		a := l.Attrs()
		present[a.Index] = true
		evs = append(evs, w.table.link(a.Index, a.Name, a.RawFlags&unix.IFF_UP != 0, a.RawFlags&unix.IFF_RUNNING != 0, false)...)
	}
	for idx, l := range w.table.links {
		if !present[idx] {
			evs = append(evs, w.table.link(idx, l.Name, false, false, true)...)
		}
	}
	have := map[int]map[netip.Prefix]bool{}
	for _, a := range addrs {
		p, ok := prefixOf(*a.IPNet)
		if !ok {
			continue
		}
		if have[a.LinkIndex] == nil {
			have[a.LinkIndex] = map[netip.Prefix]bool{}
		}
		have[a.LinkIndex][p] = true
		evs = append(evs, w.table.addr(a.LinkIndex, p, true)...)
	}
	for idx, l := range w.table.links {
		for _, p := range append([]netip.Prefix(nil), l.Addrs...) {
			if !have[idx][p] {
				evs = append(evs, w.table.addr(idx, p, false)...)
			}
		}
	}
	return evs, sub, nil
}

func (w *Watcher) deliver(evs []IfaceEvent) bool {
	for _, e := range evs {
		select {
		case w.events <- e:
			w.mu.Lock()
			w.stats.Events++
			w.mu.Unlock()
		case <-w.stop:
			return false
		}
	}
	return true
}

func prefixOf(n net.IPNet) (netip.Prefix, bool) {
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones), true
}
