package vip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"

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
		Tos:      r.Tos,
		Realm:    int(r.Realm),
	}
	if r.Protocol != 0 {
		w.nl.Protocol = netlink.RouteProtocol(r.Protocol)
	}
	setMetrics(&w.nl, r.Metrics)
	if w.nl.Table == 0 {
		w.nl.Table = unix.RT_TABLE_MAIN
	}
	if w.family == netlink.FAMILY_V6 && w.nl.Priority == 0 {
		w.nl.Priority = ipv6DefaultMetric
	}
	if r.Scope != "" {
		s, _ := ParseScope(r.Scope) // validated
		w.nl.Scope = netlink.Scope(s)
	} else if typ == rtnUnicast && !r.Via.IsValid() && len(r.NextHops) == 0 {
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
	for _, h := range r.NextHops {
		nh := &netlink.NexthopInfo{Hops: max(h.Weight, 1) - 1}
		if h.Via.IsValid() {
			nh.Gw = h.Via.AsSlice()
		}
		if h.OnLink {
			nh.Flags |= int(netlink.FLAG_ONLINK)
		}
		if h.Dev != "" {
			l, err := c.link(h.Dev)
			if err != nil {
				return wantRoute{}, err
			}
			nh.LinkIndex = l.Attrs().Index
		}
		w.nl.MultiPath = append(w.nl.MultiPath, nh)
	}
	return w, nil
}

// setMetrics copies m into the RTA_METRICS fields of n.
func setMetrics(n *netlink.Route, m RouteMetrics) {
	n.MTU, n.MTULock = m.MTU, m.MTULock
	n.AdvMSS, n.Window = m.AdvMSS, m.Window
	n.Rtt, n.RttVar = m.RTT, m.RTTVar
	n.Ssthresh, n.Cwnd = m.Ssthresh, m.Cwnd
	n.Hoplimit, n.Reordering = m.Hoplimit, m.Reordering
	n.InitCwnd, n.InitRwnd = m.InitCwnd, m.InitRwnd
	n.RtoMin, n.RtoMinLock = m.RTOMin, m.RTOMinLock
	n.QuickACK, n.Features = m.QuickACK, m.Features
	n.Congctl, n.FastOpenNoCookie = m.Congctl, m.FastOpenNoCookie
}

// sameHops reports whether the kernel's nexthops k are want, in order
// (the kernel keeps the order they were given in).
func sameHops(k, want []*netlink.NexthopInfo) bool {
	return slices.EqualFunc(k, want, func(a, b *netlink.NexthopInfo) bool {
		return ipOf(a.Gw) == ipOf(b.Gw) && a.Hops == b.Hops &&
			(b.LinkIndex == 0 || a.LinkIndex == b.LinkIndex) &&
			(b.Flags&int(netlink.FLAG_ONLINK) == 0 || a.Flags&int(netlink.FLAG_ONLINK) != 0)
	})
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
		k.Tos != w.nl.Tos,
		!sameHops(k.MultiPath, w.nl.MultiPath),
		ipOf(k.Gw) != w.r.Via,
		ipOf(k.Src) != w.r.Src,
		w.nl.LinkIndex != 0 && k.LinkIndex != w.nl.LinkIndex,
		w.family == netlink.FAMILY_V4 && k.Scope != w.nl.Scope,
		w.r.OnLink && k.Flags&int(netlink.FLAG_ONLINK) == 0:
		return false
	}
	return true
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
// table, metric, type, TOS, gateway, source, device, nexthops and, for
// IPv4, scope). Routes are tagged with protocol 18 ("keepalived") unless
// Route.Protocol names another; metrics and realms are sent as given but
// are not part of the comparison. A route whose key is taken by
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
	do := m.addRoute
	if op == "remove" {
		do = m.removeRoute
	}
	re := &RouteError{Op: op}
	n, err := each(ctx, m, op+" routes", routes, func(c *linkCache, r Route) {
		if err := do(c, r); err != nil {
			m.stats.errors.Add(1)
			re.Failed = append(re.Failed, FailedRoute{
				Route: r,
				Retry: retryable(err),
				Err:   fmt.Errorf("vip: %s route %s: %w", op, r, err),
			})
		}
	})
	if errors.Is(err, errClosed) {
		return err
	}
	if err != nil { // ctx is done: the routes not reached fail with its error
		for _, rest := range routes[n:] {
			re.Failed = append(re.Failed, FailedRoute{Route: rest, Err: fmt.Errorf("vip: %s route %s: %w", op, rest, ctx.Err())})
		}
	}
	if len(re.Failed) == 0 {
		return nil
	}
	return re
}

// findRoute returns whether the kernel holds w.
func (c *linkCache) findRoute(w wantRoute) (bool, error) {
	ks, err := c.h.RouteListFiltered(w.family, &netlink.Route{Table: w.nl.Table}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(ks, w.matches), nil
}

func (m *Manager) addRoute(c *linkCache, r Route) error {
	w, err := resolveRoute(c, r)
	if err != nil {
		return err
	}
	found, err := c.findRoute(w)
	if err != nil {
		return err
	}
	if found {
		m.log.Debug("vip: route already present", "route", r.String())
		return nil
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
	found, err := c.findRoute(w)
	if err != nil || !found {
		return err
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

// PresentRoutes returns the entries of routes that the kernel holds as
// described (see AddRoutes), in input order.
func (m *Manager) PresentRoutes(ctx context.Context, routes []Route) ([]Route, error) {
	return present(ctx, m, "routes", routes, func(r Route) string { return "route " + r.String() }, func(c *linkCache, r Route) (bool, error) {
		w, err := resolveRoute(c, r)
		if errors.Is(err, ErrNoDevice) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		return c.findRoute(w)
	})
}
