package vip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// ipv6DefaultMetric is the metric the kernel gives an IPv6 route added with
// metric 0 (IP6_RT_PRIO_USER).
const ipv6DefaultMetric = 1024

// wantRoute is a Route resolved against the kernel: the netlink form to
// send, and what a matching kernel route looks like.
type wantRoute struct {
	r      Route
	nl     netlink.Route
	family int
}

func resolveRoute(c *linkCache, r Route) (wantRoute, error) {
	typ, err := r.validate()
	if err != nil {
		return wantRoute{}, err
	}
	dst := r.Dst.Addr()
	w := wantRoute{r: r, family: netlink.FAMILY_V4}
	if dst.Is6() {
		w.family = netlink.FAMILY_V6
	}
	w.nl = netlink.Route{
		Dst:      &net.IPNet{IP: dst.AsSlice(), Mask: net.CIDRMask(r.Dst.Bits(), dst.BitLen())},
		Table:    r.Table,
		Priority: r.Metric,
		Type:     typ,
		Family:   w.family,
		Protocol: rtprotKeepalived,
	}
	if w.nl.Table == 0 {
		w.nl.Table = unix.RT_TABLE_MAIN
	}
	if w.family == netlink.FAMILY_V6 && w.nl.Priority == 0 {
		w.nl.Priority = ipv6DefaultMetric
	}
	if r.Scope != "" {
		s, _ := ParseScope(r.Scope) // validated
		w.nl.Scope = netlink.Scope(s)
	} else if typ == rtnUnicast && !r.Via.IsValid() {
		w.nl.Scope = netlink.SCOPE_LINK // what `ip route add` picks
	}
	if r.Via.IsValid() {
		w.nl.Gw = r.Via.AsSlice()
	}
	if r.Src.IsValid() {
		w.nl.Src = r.Src.AsSlice()
	}
	if r.OnLink {
		w.nl.Flags |= int(netlink.FLAG_ONLINK)
	}
	if r.Dev != "" {
		l, err := c.link(r.Dev)
		if err != nil {
			return wantRoute{}, err
		}
		w.nl.LinkIndex = l.Attrs().Index
	}
	return w, nil
}

// matches reports whether the kernel route k is w.
func (w wantRoute) matches(k netlink.Route) bool {
	kdst := prefixOf(k.Dst)
	if !kdst.IsValid() {
		kdst = netip.PrefixFrom(netip.IPv4Unspecified(), 0)
		if w.family == netlink.FAMILY_V6 {
			kdst = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
		}
	}
	switch {
	case kdst != w.r.Dst,
		k.Table != w.nl.Table,
		k.Priority != w.nl.Priority,
		k.Type != w.nl.Type,
		ipOf(k.Gw) != w.r.Via,
		ipOf(k.Src) != w.r.Src,
		w.nl.LinkIndex != 0 && k.LinkIndex != w.nl.LinkIndex,
		w.family == netlink.FAMILY_V4 && k.Scope != w.nl.Scope,
		w.r.OnLink && k.Flags&int(netlink.FLAG_ONLINK) == 0:
		return false
	}
	return true
}

func (c *linkCache) routes(family, table int) ([]netlink.Route, error) {
	return c.h.RouteListFiltered(family, &netlink.Route{Table: table}, netlink.RT_FILTER_TABLE)
}

// srcPresent reports whether src is a local address in the namespace.
func (c *linkCache) srcPresent(src netip.Addr) (bool, error) {
	fam := netlink.FAMILY_V4
	if src.Is6() {
		fam = netlink.FAMILY_V6
	}
	as, err := c.h.AddrList(nil, fam)
	if err != nil {
		return false, err
	}
	for _, a := range as {
		if a.IPNet != nil && ipOf(a.IP) == src {
			return true, nil
		}
	}
	return false, nil
}

func retryable(err error) bool {
	return errors.Is(err, ErrNoDevice) || errors.Is(err, ErrNoSource) ||
		errors.Is(err, unix.ENETUNREACH)
}

// AddRoutes adds each route the kernel does not hold yet (same destination,
// table, metric, type, gateway, source, device and, for IPv4, scope). Routes
// are tagged with protocol 18 ("keepalived"). A route whose key is taken by
// another route is reported as ErrConflict and the other route is left
// alone. Failures come back as a *RouteError; those with Retry set failed
// because their interface, source VIP or gateway subnet is missing, and
// should be retried by the caller once the VIPs are in place.
func (m *Manager) AddRoutes(ctx context.Context, routes []Route) error {
	return m.reconcileRoutes(ctx, "add", routes)
}

// RemoveRoutes removes each route that the kernel holds as described (see
// AddRoutes). Absent routes and missing interfaces are not errors.
func (m *Manager) RemoveRoutes(ctx context.Context, routes []Route) error {
	return m.reconcileRoutes(ctx, "remove", routes)
}

func (m *Manager) reconcileRoutes(ctx context.Context, op string, routes []Route) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	h, err := m.handle()
	if err != nil {
		return err
	}
	c := newLinkCache(h)
	re := &RouteError{Op: op}
	for i, r := range routes {
		if err := ctx.Err(); err != nil {
			for _, rest := range routes[i:] {
				re.Failed = append(re.Failed, FailedRoute{Route: rest, Err: fmt.Errorf("vip: %s route %s: %w", op, rest, err)})
			}
			break
		}
		var err error
		if op == "add" {
			err = m.addRoute(c, r)
		} else {
			err = m.removeRoute(c, r)
		}
		if err != nil {
			m.stats.errors.Add(1)
			re.Failed = append(re.Failed, FailedRoute{
				Route: r,
				Retry: retryable(err),
				Err:   fmt.Errorf("vip: %s route %s: %w", op, r, err),
			})
		}
	}
	if len(re.Failed) == 0 {
		return nil
	}
	return re
}

func (m *Manager) addRoute(c *linkCache, r Route) error {
	w, err := resolveRoute(c, r)
	if err != nil {
		return err
	}
	ks, err := c.routes(w.family, w.nl.Table)
	if err != nil {
		return err
	}
	for _, k := range ks {
		if w.matches(k) {
			m.log.Debug("vip: route already present", "route", r.String())
			return nil
		}
	}
	if r.Src.IsValid() {
		ok, err := c.srcPresent(r.Src)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%s: %w", r.Src, ErrNoSource)
		}
	}
	if err := c.h.RouteAdd(&w.nl); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("%w: %w", ErrConflict, err)
		}
		return err
	}
	m.stats.routesAdded.Add(1)
	m.log.Info("vip: added route", "route", r.String(), "iface", r.Dev)
	return nil
}

func (m *Manager) removeRoute(c *linkCache, r Route) error {
	w, err := resolveRoute(c, r)
	if errors.Is(err, ErrNoDevice) {
		return nil // the kernel dropped the route with its interface
	}
	if err != nil {
		return err
	}
	ks, err := c.routes(w.family, w.nl.Table)
	if err != nil {
		return err
	}
	for _, k := range ks {
		if !w.matches(k) {
			continue
		}
		del := w.nl
		del.Protocol = 0 // match whoever added it
		if err := c.h.RouteDel(&del); err != nil {
			if errors.Is(err, unix.ESRCH) {
				return nil // gone meanwhile
			}
			return err
		}
		m.stats.routesRemoved.Add(1)
		m.log.Info("vip: removed route", "route", r.String(), "iface", r.Dev)
		return nil
	}
	return nil
}

// PresentRoutes returns the entries of routes that the kernel holds as
// described (see AddRoutes), in input order.
func (m *Manager) PresentRoutes(ctx context.Context, routes []Route) ([]Route, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h, err := m.handle()
	if err != nil {
		return nil, err
	}
	c := newLinkCache(h)
	var (
		out  []Route
		errs []error
	)
	for _, r := range routes {
		if err := ctx.Err(); err != nil {
			return out, errors.Join(append(errs, fmt.Errorf("vip: present routes: %w", err))...)
		}
		w, err := resolveRoute(c, r)
		if errors.Is(err, ErrNoDevice) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("vip: present route %s: %w", r, err))
			continue
		}
		ks, err := c.routes(w.family, w.nl.Table)
		if err != nil {
			errs = append(errs, fmt.Errorf("vip: present route %s: %w", r, err))
			continue
		}
		for _, k := range ks {
			if w.matches(k) {
				out = append(out, r)
				break
			}
		}
	}
	return out, errors.Join(errs...)
}
