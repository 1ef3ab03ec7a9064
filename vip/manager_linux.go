package vip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/vigil-ha/vigil/internal/logfast"
)

// rtprotKeepalived marks the routes we add, as keepalived does (rtm_protocol
// 18, "keepalived" in /etc/iproute2/rt_protos).
const rtprotKeepalived = 18

// Manager reconciles virtual addresses and routes in one network namespace
// over rtnetlink. Every method reads the kernel's state first and applies
// only the difference, so calling it again with the same input changes
// nothing. One bad entry does not stop the others: all errors are collected
// with errors.Join, each naming its address (or route) and interface.
type Manager struct {
	log   *slog.Logger
	stats managerCounters

	mu sync.Mutex // mu guards the following fields and serializes kernel work
	h  *netlink.Handle
	ac *addrConn // address additions

	// idxMu guards the following fields; it is never held across kernel
	// work, so InterfaceChanged does not wait for a netlink call.
	idxMu  sync.Mutex
	idx    map[string]int // interface name → index, as last resolved
	idxGen uint64         // bumped by every invalidation
}

// NewManager returns a Manager working in the calling thread's network
// namespace (the process's, for a daemon). Close releases its socket.
func NewManager(log *slog.Logger, opts ...Option) (*Manager, error) {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("vip: netlink handle: %w", err)
	}
	return newManager(log, h, netns.None(), opts)
}

// NewManagerAt returns a Manager working in the network namespace ns,
// whatever namespace the caller runs in. ns may be closed afterwards.
func NewManagerAt(log *slog.Logger, ns netns.NsHandle, opts ...Option) (*Manager, error) {
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("vip: netlink handle in namespace %v: %w", ns, err)
	}
	return newManager(log, h, ns, opts)
}

// newManager takes h, which works in namespace ns, and opens the address
// socket there too.
func newManager(log *slog.Logger, h *netlink.Handle, ns netns.NsHandle, opts []Option) (*Manager, error) {
	o := buildOptions(opts)
	if o.timeout > 0 {
		if err := h.SetSocketTimeout(o.timeout); err != nil {
			h.Close()
			return nil, fmt.Errorf("vip: netlink timeout: %w", err)
		}
	}
	ac, err := dialAddrConn(ns, o.timeout)
	if err != nil {
		h.Close()
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Manager{log: log, h: h, ac: ac, idx: map[string]int{}}, nil
}

// InterfaceChanged forgets the index the Manager cached for interface
// name, so the next address addition resolves it again. Call it on every
// link event for name (deleted, created, renamed): an interface deleted
// and created again under the same name gets a new index. Without the
// call the cache still heals itself, the kernel refusing the stale index
// (ENODEV), but an index the kernel has reused for another interface can
// only be noticed here. Safe from any goroutine; it never waits for
// kernel work.
func (m *Manager) InterfaceChanged(name string) {
	m.idxMu.Lock()
	defer m.idxMu.Unlock()
	delete(m.idx, name)
	m.idxGen++
}

// linkIndex returns the index of interface name and whether it came from
// the Manager's cache (see InterfaceChanged); one that is not cached is
// resolved through c and cached, unless the cache was invalidated while
// the lookup ran. Called under m.mu.
func (m *Manager) linkIndex(c *linkCache, name string) (int, bool, error) {
	m.idxMu.Lock()
	i, ok := m.idx[name]
	gen := m.idxGen
	m.idxMu.Unlock()
	if ok {
		return i, true, nil
	}
	m.stats.lookups.Add(1)
	l, err := c.link(name)
	if err != nil {
		return 0, false, err
	}
	i = l.Attrs().Index
	m.idxMu.Lock()
	if m.idxGen == gen {
		m.idx[name] = i
	}
	m.idxMu.Unlock()
	return i, false, nil
}

// ResolveInterfaces caches the index of each interface of names not
// cached yet, so that the next address addition on it, a takeover's above
// all, sends its RTM_NEWADDR without a lookup by name first. A failure
// (ErrNoDevice for an interface that does not exist yet) is not final: the
// addition looks the interface up then.
func (m *Manager) ResolveInterfaces(ctx context.Context, names []string) error {
	var errs []error
	_, err := each(ctx, m, "resolve interfaces", names, func(c *linkCache, name string) {
		if _, _, err := m.linkIndex(c, name); err != nil {
			errs = append(errs, fmt.Errorf("vip: resolve %s: %w", name, err))
		}
	})
	return errors.Join(append(errs, err)...)
}

// staleIndex drops index i of interface name, which the kernel has just
// refused, from the Manager's cache and from c.
func (m *Manager) staleIndex(c *linkCache, name string, i int) {
	m.idxMu.Lock()
	if m.idx[name] == i {
		delete(m.idx, name)
		m.idxGen++
	}
	m.idxMu.Unlock()
	delete(c.links, name)
	delete(c.addrs, i)
}

// Close releases the netlink sockets. The Manager must not be used after.
func (m *Manager) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.h != nil {
		m.h.Close()
		m.ac.Close()
		m.h, m.ac = nil, nil
	}
	return nil
}

// Stats returns a snapshot of the counters.
func (m *Manager) Stats() ManagerStats { return m.stats.snapshot() }

// linkCache memoizes link lookups and address dumps for one reconcile call.
type linkCache struct {
	h     *netlink.Handle
	links map[string]netlink.Link
	addrs map[int][]netlink.Addr
}

func newLinkCache(h *netlink.Handle) *linkCache {
	return &linkCache{h: h, links: map[string]netlink.Link{}, addrs: map[int][]netlink.Addr{}}
}

func (c *linkCache) link(name string) (netlink.Link, error) {
	if l, ok := c.links[name]; ok {
		return l, nil
	}
	l, err := c.h.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil, fmt.Errorf("interface %q: %w", name, ErrNoDevice)
		}
		return nil, fmt.Errorf("interface %q: %w", name, err)
	}
	c.links[name] = l
	return l, nil
}

func (c *linkCache) addrList(l netlink.Link) ([]netlink.Addr, error) {
	idx := l.Attrs().Index
	if as, ok := c.addrs[idx]; ok {
		return as, nil
	}
	as, err := c.h.AddrList(l, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("list addresses of %q: %w", l.Attrs().Name, err)
	}
	c.addrs[idx] = as
	return as, nil
}

func ipOf(ip net.IP) netip.Addr {
	a, _ := netip.AddrFromSlice(ip)
	return a.Unmap()
}

func prefixOf(n *net.IPNet) netip.Prefix {
	if n == nil {
		return netip.Prefix{}
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(ipOf(n.IP), ones)
}

// fromKernel turns a kernel address on dev into an Address carrying its
// identity (local address, prefix length, peer).
func fromKernel(k netlink.Addr, dev string) (Address, bool) {
	if k.IPNet == nil {
		return Address{}, false
	}
	local := ipOf(k.IP)
	bits, _ := k.Mask.Size()
	a := Address{Prefix: netip.PrefixFrom(local, bits), Dev: dev}
	if k.Peer != nil {
		pbits, _ := k.Peer.Mask.Size()
		if p := ipOf(k.Peer.IP); p != local {
			a.Peer = netip.PrefixFrom(p, pbits)
		} else {
			a.Prefix = netip.PrefixFrom(local, pbits)
		}
	}
	return a, true
}

// matchAddr relates the kernel address k to the wanted a (see Relate).
func matchAddr(k netlink.Addr, a Address) Relation {
	ka, ok := fromKernel(k, a.Dev)
	if !ok {
		return Distinct
	}
	return Relate(ka, a)
}

func describeKernelAddr(k netlink.Addr) string {
	s := prefixOf(k.IPNet).String()
	if k.Peer != nil {
		s = ipOf(k.IP).String() + " peer " + prefixOf(k.Peer).String()
	}
	return s
}

// toNetlinkAddr builds the RTM_NEWADDR request for a.
func toNetlinkAddr(a Address, linkIndex int) (*netlink.Addr, error) {
	scope, err := ParseScope(a.Scope)
	if err != nil {
		return nil, err
	}
	ip := a.Prefix.Addr()
	n := &netlink.Addr{
		IPNet:     &net.IPNet{IP: ip.AsSlice(), Mask: net.CIDRMask(a.Prefix.Bits(), ip.BitLen())},
		Scope:     scope,
		LinkIndex: linkIndex,
	}
	if a.Peer.IsValid() {
		p := a.Peer.Addr()
		n.Peer = &net.IPNet{IP: p.AsSlice(), Mask: net.CIDRMask(a.Peer.Bits(), p.BitLen())}
	}
	if ip.Is4() {
		n.Label = a.Label
		if b := a.broadcast(); b.IsValid() {
			n.Broadcast = b.AsSlice()
		} else {
			n.Broadcast = net.IPv4zero // tells vishvananda not to compute one
		}
	} else {
		n.Flags |= unix.IFA_F_NODAD
	}
	if a.NoPrefixRoute {
		n.Flags |= unix.IFA_F_NOPREFIXROUTE
	}
	if a.Home {
		n.Flags |= unix.IFA_F_HOMEADDRESS
	}
	if a.MngTmpAddr {
		n.Flags |= unix.IFA_F_MANAGETEMPADDR
	}
	if a.AutoJoin {
		n.Flags |= unix.IFA_F_MCAUTOJOIN
	}
	if a.PreferredLft != nil {
		n.PreferedLft = *a.PreferredLft
		n.ValidLft = math.MaxUint32 // INFINITY_LIFE_TIME
	}
	return n, nil
}

// errClosed is what every method of a closed Manager returns.
var errClosed = errors.New("vip: manager closed")

func (m *Manager) handle() (*netlink.Handle, error) {
	if m.h == nil {
		return nil, errClosed
	}
	return m.h, nil
}

// each calls f on the entries of xs in order, under m.mu, with one link
// cache for the whole call. Once ctx is done it stops before the next entry
// and returns that entry's index and ctx's error, prefixed "vip: WHAT: ".
// A closed manager is an error before any entry.
func each[T any](ctx context.Context, m *Manager, what string, xs []T, f func(c *linkCache, x T)) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h, err := m.handle()
	if err != nil {
		return 0, err
	}
	c := newLinkCache(h)
	for i, x := range xs {
		if err := ctx.Err(); err != nil {
			return i, fmt.Errorf("vip: %s: %w", what, err)
		}
		f(c, x)
	}
	return len(xs), nil
}

// apply runs do on each entry (see each), counts and names each failure
// ("vip: OP NAME: ..."), and joins the failures; the other entries are
// still applied.
func apply[T any](ctx context.Context, m *Manager, op, what string, xs []T, name func(T) string, do func(*linkCache, T) error) error {
	var errs []error
	_, err := each(ctx, m, op+" "+what, xs, func(c *linkCache, x T) {
		if err := do(c, x); err != nil {
			m.stats.errors.Add(1)
			errs = append(errs, fmt.Errorf("vip: %s %s: %w", op, name(x), err))
		}
	})
	return errors.Join(append(errs, err)...)
}

// present returns the entries of xs that has reports as held by the
// kernel, in input order (see each), with the failures joined.
func present[T any](ctx context.Context, m *Manager, what string, xs []T, name func(T) string, has func(*linkCache, T) (bool, error)) ([]T, error) {
	var (
		out  []T
		errs []error
	)
	_, err := each(ctx, m, "present "+what, xs, func(c *linkCache, x T) {
		ok, err := has(c, x)
		if err != nil {
			errs = append(errs, fmt.Errorf("vip: present %s: %w", name(x), err))
		} else if ok {
			out = append(out, x)
		}
	})
	return out, errors.Join(append(errs, err)...)
}

func addrName(a Address) string { return a.Prefix.String() + " dev " + a.Dev }

// AddAddresses adds each address that is not already on its interface.
// An address already present with the same prefix (and peer) is left
// alone: nothing is sent to the kernel for it, so its lifetimes and flags do
// not change. IPv6 addresses get IFA_F_NODAD. An IPv6 address present with
// another prefix length is reported as ErrConflict and left alone. A missing
// interface is reported as ErrNoDevice naming it; the other entries are
// still applied.
func (m *Manager) AddAddresses(ctx context.Context, addrs []Address) error {
	return apply(ctx, m, "add", "addresses", addrs, addrName, m.addAddr)
}

func (m *Manager) addAddr(c *linkCache, a Address) error {
	if err := a.validate(); err != nil {
		return err
	}
	idx, cached, err := m.linkIndex(c, a.Dev)
	if err != nil {
		return err
	}
	err = m.addAddrAt(c, a, idx)
	if cached && errors.Is(err, unix.ENODEV) {
		// The interface was deleted (and maybe created again) since
		// its index was cached: resolve the name once more.
		m.log.Debug("vip: cached interface index is gone, resolving again", "iface", a.Dev, "index", idx)
		m.staleIndex(c, a.Dev, idx)
		if idx, _, err = m.linkIndex(c, a.Dev); err != nil {
			return err
		}
		err = m.addAddrAt(c, a, idx)
	}
	return err
}

// addAddrAt adds a on the interface of index idx unless it is there.
func (m *Manager) addAddrAt(c *linkCache, a Address, idx int) error {
	// The interface only by its index: no lookup by name on the
	// takeover's path.
	l := &netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: idx, Name: a.Dev}}
	n, err := toNetlinkAddr(a, idx)
	if err != nil {
		return err
	}
	// Fast path, the takeover's: an exclusive create succeeds only when
	// nothing the kernel considers the same address is there, so it
	// changes nothing that was already right, and saves dumping the
	// interface's addresses first. EEXIST falls through to the careful
	// comparison (same address: nothing to do; conflicting one: error).
	if _, listed := c.addrs[idx]; !listed {
		err := m.ac.add(n)
		if err == nil {
			m.added(a)
			return nil
		}
		if !errors.Is(err, unix.EEXIST) {
			return err
		}
	}
	kas, err := c.addrList(l)
	if err != nil {
		return err
	}
	for _, k := range kas {
		switch matchAddr(k, a) {
		case Same:
			m.log.Debug("vip: address already present", "addr", a.Prefix, "iface", a.Dev)
			return nil
		case Conflict:
			return fmt.Errorf("%w: %s is on %s", ErrConflict, describeKernelAddr(k), a.Dev)
		}
	}
	if err := m.ac.add(n); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("%w: %w", ErrConflict, err)
		}
		return err
	}
	// Remember it, so that a duplicate later in the same call is a no-op.
	c.addrs[idx] = append(kas, *n)
	m.added(a)
	return nil
}

func (m *Manager) added(a Address) {
	m.stats.addrsAdded.Add(1)
	logfast.Info(m.log, "vip: added address", "addr", a.String(), "iface", a.Dev)
}

// RemoveAddresses removes each address that is present on its interface
// with the same identity (see AddAddresses). Absent addresses, missing
// interfaces and IPv6 addresses held with another prefix length are not
// errors: they are not ours, so nothing is done.
func (m *Manager) RemoveAddresses(ctx context.Context, addrs []Address) error {
	return apply(ctx, m, "remove", "addresses", addrs, addrName, m.removeAddr)
}

func (m *Manager) removeAddr(c *linkCache, a Address) error {
	if err := a.validate(); err != nil {
		return err
	}
	l, err := c.link(a.Dev)
	if errors.Is(err, ErrNoDevice) {
		m.log.Debug("vip: interface gone, address absent", "addr", a.Prefix, "iface", a.Dev)
		return nil
	}
	if err != nil {
		return err
	}
	kas, err := c.addrList(l)
	if err != nil {
		return err
	}
	for i, k := range kas {
		if matchAddr(k, a) != Same {
			continue
		}
		if err := c.h.AddrDel(l, &k); err != nil {
			if errors.Is(err, unix.EADDRNOTAVAIL) {
				return nil // gone meanwhile
			}
			return err
		}
		c.addrs[l.Attrs().Index] = append(kas[:i:i], kas[i+1:]...)
		m.stats.addrsRemoved.Add(1)
		m.log.Info("vip: removed address", "addr", a.Prefix, "iface", a.Dev)
		return nil
	}
	return nil
}

// Present returns the entries of addrs that are on their interface with
// the same identity (see AddAddresses), in input order. A missing interface
// means absent, not an error; malformed entries are errors.
func (m *Manager) Present(ctx context.Context, addrs []Address) ([]Address, error) {
	return present(ctx, m, "addresses", addrs, addrName, presentAddr)
}

func presentAddr(c *linkCache, a Address) (bool, error) {
	if err := a.validate(); err != nil {
		return false, err
	}
	l, err := c.link(a.Dev)
	if errors.Is(err, ErrNoDevice) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	kas, err := c.addrList(l)
	if err != nil {
		return false, err
	}
	for _, k := range kas {
		if matchAddr(k, a) == Same {
			return true, nil
		}
	}
	return false, nil
}
