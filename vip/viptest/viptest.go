// Package viptest holds in-memory twins of vip's kernel-facing types, for
// fast unit tests of code that drives them (the daemon loop): Kernel
// implements vip.Reconciler and vip.VMACs, Announcements implements
// vip.Sender, Sysctls implements vip.Sysctls. They
// follow the same contract as the real ones (one test body in package vip
// runs over both), with fault injection. They are never the only proof: the
// real types are tested in network namespaces.
//
// Owns: nothing outside its own memory. Must not: be imported by
// production code. Concurrency: all methods are safe for concurrent use.
package viptest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/vigil-ha/vigil/vip"
)

// Kernel is an in-memory vip.Reconciler: a set of interfaces, addresses,
// routes and rules with the kernel's identities (vip.Relate for addresses;
// table, destination and metric for routes).
type Kernel struct {
	mu      sync.Mutex // mu guards the following fields
	links   map[string]bool
	vmacs   map[string]vip.VMAC // the links that are VMACs
	addrs   []vip.Address
	routes  []vip.Route // normalized
	rules   []vip.Rule
	fail    map[netip.Prefix]error
	changes int
	told    []string   // InterfaceChanged calls, in order
	resolve [][]string // ResolveInterfaces calls, in order
}

var (
	_ vip.Reconciler = (*Kernel)(nil)
	_ vip.VMACs      = (*Kernel)(nil)
)

// NewKernel returns a Kernel with the given interfaces and nothing else.
func NewKernel(links ...string) *Kernel {
	k := &Kernel{links: map[string]bool{}, vmacs: map[string]vip.VMAC{}, fail: map[netip.Prefix]error{}}
	for _, l := range links {
		k.links[l] = true
	}
	return k
}

// AddLink adds an interface.
func (k *Kernel) AddLink(name string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.links[name] = true
}

// DelLink removes an interface and, as the kernel does, its addresses and
// the routes through it.
func (k *Kernel) DelLink(name string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.links, name)
	delete(k.vmacs, name)
	k.addrs = slices.DeleteFunc(k.addrs, func(a vip.Address) bool { return a.Dev == name })
	k.routes = slices.DeleteFunc(k.routes, func(r vip.Route) bool { return r.Dev == name })
}

// InterfaceChanged records the call: the twin resolves names on every
// call, so it has nothing to forget (vip.Manager caches indexes).
func (k *Kernel) InterfaceChanged(name string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.told = append(k.told, name)
}

// InterfacesChanged returns the names InterfaceChanged was given, in order.
func (k *Kernel) InterfacesChanged() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.told)
}

// ResolveInterfaces records the call and reports each name the twin has
// no interface for as vip.ErrNoDevice, as vip.Manager does; the twin
// caches nothing.
func (k *Kernel) ResolveInterfaces(_ context.Context, names []string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.resolve = append(k.resolve, slices.Clone(names))
	var errs []error
	for _, n := range names {
		if !k.links[n] {
			errs = append(errs, fmt.Errorf("viptest: resolve %s: interface %q: %w", n, n, vip.ErrNoDevice))
		}
	}
	return errors.Join(errs...)
}

// Resolved returns the names of every ResolveInterfaces call, in order.
func (k *Kernel) Resolved() [][]string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.resolve)
}

// FailOn makes every later operation on an address or route whose prefix
// (address prefix or route destination) is p fail with err; err nil clears.
func (k *Kernel) FailOn(p netip.Prefix, err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err == nil {
		delete(k.fail, p)
		return
	}
	k.fail[p] = err
}

// Changes counts the mutations applied so far (adds and removes that
// changed something): a no-op reconcile leaves it unchanged.
func (k *Kernel) Changes() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.changes
}

// Addresses returns the addresses held, in the order they were added.
func (k *Kernel) Addresses() []vip.Address {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.addrs)
}

// Routes returns the routes held (normalized: table 254 for main, metric
// 1024 for IPv6 metric 0).
func (k *Kernel) Routes() []vip.Route {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.routes)
}

// Rules returns the rules held.
func (k *Kernel) Rules() []vip.Rule {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.rules)
}

func (k *Kernel) findAddrLocked(a vip.Address) (int, vip.Relation) {
	rel := vip.Distinct
	for i, h := range k.addrs {
		switch vip.Relate(h, a) {
		case vip.Same:
			return i, vip.Same
		case vip.Conflict:
			rel = vip.Conflict
		}
	}
	return -1, rel
}

// AddAddresses adds what is missing (see vip.Manager.AddAddresses).
func (k *Kernel) AddAddresses(ctx context.Context, addrs []vip.Address) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	var errs []error
	for _, a := range addrs {
		if err := k.addAddrLocked(ctx, a); err != nil {
			errs = append(errs, fmt.Errorf("viptest: add %s dev %s: %w", a.Prefix, a.Dev, err))
		}
	}
	return errors.Join(errs...)
}

func (k *Kernel) addAddrLocked(ctx context.Context, a vip.Address) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := a.Validate(); err != nil {
		return err
	}
	if !k.links[a.Dev] {
		return fmt.Errorf("interface %q: %w", a.Dev, vip.ErrNoDevice)
	}
	if err := k.fail[a.Prefix]; err != nil {
		return err
	}
	switch _, rel := k.findAddrLocked(a); rel {
	case vip.Same:
		return nil
	case vip.Conflict:
		return fmt.Errorf("%w: %s on %s", vip.ErrConflict, a.Prefix.Addr(), a.Dev)
	}
	k.addrs = append(k.addrs, a)
	k.changes++
	return nil
}

// RemoveAddresses removes what is present (see vip.Manager.RemoveAddresses).
func (k *Kernel) RemoveAddresses(ctx context.Context, addrs []vip.Address) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	var errs []error
	for _, a := range addrs {
		err := ctx.Err()
		if err == nil {
			err = a.Validate()
		}
		if err == nil {
			err = k.fail[a.Prefix]
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("viptest: remove %s dev %s: %w", a.Prefix, a.Dev, err))
			continue
		}
		if i, rel := k.findAddrLocked(a); rel == vip.Same {
			k.addrs = slices.Delete(k.addrs, i, i+1)
			k.changes++
		}
	}
	return errors.Join(errs...)
}

// Present returns the present subset in input order.
func (k *Kernel) Present(ctx context.Context, addrs []vip.Address) ([]vip.Address, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	var (
		out  []vip.Address
		errs []error
	)
	for _, a := range addrs {
		if err := a.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("viptest: present %s dev %s: %w", a.Prefix, a.Dev, err))
			continue
		}
		if _, rel := k.findAddrLocked(a); rel == vip.Same {
			out = append(out, a)
		}
	}
	return out, errors.Join(errs...)
}

// normRoute fills the kernel's defaults so that equal routes compare equal.
func normRoute(r vip.Route) vip.Route {
	if r.Table == 0 {
		r.Table = 254
	}
	if r.Dst.Addr().Is6() {
		if r.Metric == 0 {
			r.Metric = 1024
		}
		r.Scope = "" // the kernel keeps no scope for IPv6 routes
	} else if r.Scope == "" || r.Scope == "universe" {
		r.Scope = "global"
		if (r.Type == "" || r.Type == "unicast") && !r.Via.IsValid() && len(r.NextHops) == 0 {
			r.Scope = "link"
		}
	}
	if r.Type == "" {
		r.Type = "unicast"
	}
	return r
}

func sameKey(a, b vip.Route) bool {
	return a.Table == b.Table && a.Dst == b.Dst && a.Metric == b.Metric
}

func (k *Kernel) hasAddrLocked(ip netip.Addr) bool {
	for _, a := range k.addrs {
		if a.Prefix.Addr() == ip {
			return true
		}
	}
	return false
}

// AddRoutes adds what is missing (see vip.Manager.AddRoutes).
func (k *Kernel) AddRoutes(ctx context.Context, routes []vip.Route) error {
	return k.routesOp(ctx, "add", routes)
}

// RemoveRoutes removes what is present (see vip.Manager.RemoveRoutes).
func (k *Kernel) RemoveRoutes(ctx context.Context, routes []vip.Route) error {
	return k.routesOp(ctx, "remove", routes)
}

func (k *Kernel) routesOp(ctx context.Context, op string, routes []vip.Route) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	re := &vip.RouteError{Op: op}
	for _, r := range routes {
		err := k.routeLocked(ctx, op, r)
		if err != nil {
			re.Failed = append(re.Failed, vip.FailedRoute{
				Route: r,
				Retry: errors.Is(err, vip.ErrNoDevice) || errors.Is(err, vip.ErrNoSource),
				Err:   fmt.Errorf("viptest: %s route %s: %w", op, r, err),
			})
		}
	}
	if len(re.Failed) == 0 {
		return nil
	}
	return re
}

func (k *Kernel) routeLocked(ctx context.Context, op string, r vip.Route) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := r.Validate(); err != nil {
		return err
	}
	if err := k.fail[r.Dst]; err != nil {
		return err
	}
	if r.Dev != "" && !k.links[r.Dev] {
		if op == "remove" {
			return nil
		}
		return fmt.Errorf("interface %q: %w", r.Dev, vip.ErrNoDevice)
	}
	n := normRoute(r)
	i := slices.IndexFunc(k.routes, func(h vip.Route) bool { return reflect.DeepEqual(h, n) })
	switch {
	case op == "remove":
		if i >= 0 {
			k.routes = slices.Delete(k.routes, i, i+1)
			k.changes++
		}
		return nil
	case i >= 0:
		return nil
	}
	if r.Src.IsValid() && !k.hasAddrLocked(r.Src) {
		return fmt.Errorf("%s: %w", r.Src, vip.ErrNoSource)
	}
	if slices.ContainsFunc(k.routes, func(h vip.Route) bool { return sameKey(h, n) }) {
		return fmt.Errorf("%w: route to %s", vip.ErrConflict, r.Dst)
	}
	k.routes = append(k.routes, n)
	k.changes++
	return nil
}

// PresentRoutes returns the present subset in input order.
func (k *Kernel) PresentRoutes(ctx context.Context, routes []vip.Route) ([]vip.Route, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	var (
		out  []vip.Route
		errs []error
	)
	for _, r := range routes {
		if err := r.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("viptest: present route %s: %w", r, err))
			continue
		}
		if n := normRoute(r); slices.ContainsFunc(k.routes, func(h vip.Route) bool { return reflect.DeepEqual(h, n) }) {
			out = append(out, r)
		}
	}
	return out, errors.Join(errs...)
}

// ruleMatch reports whether the held rule h is r: every field alike, but
// the family (the kernel's lists are per family already), the priority
// when r leaves it to the kernel, and the mask spelled either way.
func ruleMatch(h, r vip.Rule) bool {
	if r.Priority == 0 {
		r.Priority = h.Priority
	}
	h.IPv6, r.IPv6 = false, false
	h.FwMask, r.FwMask = ruleMask(h), ruleMask(r)
	return h == r
}

func ruleMask(r vip.Rule) uint32 {
	if r.FwMark != 0 && r.FwMask == 0 {
		return 0xffffffff
	}
	return r.FwMask
}

// AddRules adds what is missing (see vip.Manager.AddRules).
func (k *Kernel) AddRules(ctx context.Context, rules []vip.Rule) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	var errs []error
	for _, r := range rules {
		if err := r.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("viptest: add rule %s: %w", r, err))
			continue
		}
		if !slices.ContainsFunc(k.rules, func(h vip.Rule) bool { return ruleMatch(h, r) }) {
			k.rules = append(k.rules, r)
			k.changes++
		}
	}
	return errors.Join(errs...)
}

// RemoveRules removes what is present (see vip.Manager.RemoveRules).
func (k *Kernel) RemoveRules(ctx context.Context, rules []vip.Rule) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	var errs []error
	for _, r := range rules {
		if err := r.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("viptest: remove rule %s: %w", r, err))
			continue
		}
		if i := slices.IndexFunc(k.rules, func(h vip.Rule) bool { return ruleMatch(h, r) }); i >= 0 {
			k.rules = slices.Delete(k.rules, i, i+1)
			k.changes++
		}
	}
	return errors.Join(errs...)
}

// PresentRules returns the present subset in input order.
func (k *Kernel) PresentRules(ctx context.Context, rules []vip.Rule) ([]vip.Rule, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []vip.Rule
	for _, r := range rules {
		if slices.ContainsFunc(k.rules, func(h vip.Rule) bool { return ruleMatch(h, r) }) {
			out = append(out, r)
		}
	}
	return out, nil
}

// EnsureVMAC adds the VMAC as a link (see vip.Manager.EnsureVMAC): a
// matching VMAC is left as it is; a link of that name that is not the same
// VMAC is vip.ErrConflict; a missing parent is vip.ErrNoDevice.
func (k *Kernel) EnsureVMAC(ctx context.Context, v vip.VMAC) (int, error) {
	if err := v.Validate(); err != nil {
		return 0, fmt.Errorf("viptest: vmac %s: %w", v.Name, err)
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.links[v.Parent] {
		return 0, fmt.Errorf("viptest: vmac %s: parent %q: %w", v.Name, v.Parent, vip.ErrNoDevice)
	}
	if k.links[v.Name] {
		if have, ok := k.vmacs[v.Name]; ok && have.Parent == v.Parent && bytes.Equal(have.MAC(), v.MAC()) {
			return k.index(v.Name), nil
		}
		return 0, fmt.Errorf("viptest: vmac %s: %w: the interface exists and is not this VMAC", v.Name, vip.ErrConflict)
	}
	k.links[v.Name] = true
	k.vmacs[v.Name] = v
	k.changes++
	return k.index(v.Name), nil
}

// index is a stable made-up interface index for a link name.
func (k *Kernel) index(name string) int {
	h := 1000
	for i := 0; i < len(name); i++ {
		h = h*31 + int(name[i])
	}
	return h&0xffff + 1
}

// RemoveVMAC removes the VMAC link and what was on it (see
// vip.Manager.RemoveVMAC); absent is not an error, any other link is
// vip.ErrConflict.
func (k *Kernel) RemoveVMAC(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	k.mu.Lock()
	if !k.links[name] {
		k.mu.Unlock()
		return nil
	}
	if _, ok := k.vmacs[name]; !ok {
		k.mu.Unlock()
		return fmt.Errorf("viptest: remove vmac %s: %w: not a VMAC", name, vip.ErrConflict)
	}
	k.changes++
	k.mu.Unlock()
	k.DelLink(name)
	return nil
}

// VMACs returns the VMACs present, by name.
func (k *Kernel) VMACs() map[string]vip.VMAC {
	k.mu.Lock()
	defer k.mu.Unlock()
	return maps.Clone(k.vmacs)
}

// HasLink reports whether the interface exists.
func (k *Kernel) HasLink(name string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.links[name]
}

// Sysctls is an in-memory vip.Sysctls: a map from path to value. Reading
// or writing a path it does not hold fails, as /proc/sys does for a
// setting that does not exist; paths are checked as vip.ProcSys checks them.
type Sysctls struct {
	mu     sync.Mutex // guards vals and writes
	vals   map[string]string
	writes int
}

var _ vip.Sysctls = (*Sysctls)(nil)

// NewSysctls returns a Sysctls holding vals (path to value).
func NewSysctls(vals map[string]string) *Sysctls {
	return &Sysctls{vals: maps.Clone(vals)}
}

// Set creates or changes a setting (as the kernel does when an interface
// appears).
func (s *Sysctls) Set(path, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.vals == nil {
		s.vals = map[string]string{}
	}
	s.vals[path] = value
}

// Get returns a setting's value and whether it exists.
func (s *Sysctls) Get(path string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.vals[path]
	return v, ok
}

// Writes counts the successful WriteSysctl calls.
func (s *Sysctls) Writes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes
}

// ReadSysctl returns the value held for path.
func (s *Sysctls) ReadSysctl(path string) (string, error) {
	if err := vip.CheckSysctlPath(path); err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.vals[path]
	if !ok {
		return "", fmt.Errorf("viptest: sysctl %s: %w", path, fs.ErrNotExist)
	}
	return v, nil
}

// WriteSysctl changes the value held for path; it never creates one.
func (s *Sysctls) WriteSysctl(path, value string) error {
	if err := vip.CheckSysctlPath(path); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.vals[path]; !ok {
		return fmt.Errorf("viptest: sysctl %s: %w", path, fs.ErrNotExist)
	}
	s.vals[path] = value
	s.writes++
	return nil
}

// ListSysctl returns the names directly under dir, sorted.
func (s *Sysctls) ListSysctl(dir string) ([]string, error) {
	if err := vip.CheckSysctlPath(dir); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[string]bool{}
	for p := range s.vals {
		if rest, ok := strings.CutPrefix(p, dir+"/"); ok {
			name, _, _ := strings.Cut(rest, "/")
			seen[name] = true
		}
	}
	if len(seen) == 0 {
		return nil, fmt.Errorf("viptest: sysctl %s: %w", dir, fs.ErrNotExist)
	}
	return slices.Sorted(maps.Keys(seen)), nil
}

// Announcement is one recorded Announce call.
type Announcement struct {
	Iface  string
	Addrs  []netip.Addr
	MAC    net.HardwareAddr
	Router bool
}

// Announcements is an in-memory vip.Sender that records every call.
type Announcements struct {
	kernel *Kernel

	mu       sync.Mutex // mu guards the following fields
	sent     []Announcement
	prepared []Announcement // Prepare calls: Iface and Addrs
	fail     error
	fwd      map[string]bool // SetIPv6Forwarding
}

var _ vip.Sender = (*Announcements)(nil)

// NewAnnouncements returns a recorder; with a non-nil kernel, announcing on
// an interface the kernel does not have fails with vip.ErrNoDevice.
func NewAnnouncements(kernel *Kernel) *Announcements { return &Announcements{kernel: kernel} }

// FailWith makes later calls fail with err (and record nothing); nil clears.
func (a *Announcements) FailWith(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.fail = err
}

// Announce records the call.
func (a *Announcements) Announce(ifname string, addrs []netip.Addr, mac net.HardwareAddr, router bool) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.refuseLocked("announce", ifname); err != nil {
		return err
	}
	a.sent = append(a.sent, Announcement{Iface: ifname, Addrs: slices.Clone(addrs), MAC: slices.Clone(mac), Router: router})
	return nil
}

// refuseLocked is the failure of an op on ifname: the kernel lacks the
// interface, or FailWith set one.
func (a *Announcements) refuseLocked(op, ifname string) error {
	if a.kernel != nil {
		a.kernel.mu.Lock()
		ok := a.kernel.links[ifname]
		a.kernel.mu.Unlock()
		if !ok {
			return fmt.Errorf("viptest: %s on %s: interface %q: %w", op, ifname, ifname, vip.ErrNoDevice)
		}
	}
	if a.fail != nil {
		return fmt.Errorf("viptest: %s on %s: %w", op, ifname, a.fail)
	}
	return nil
}

// Prepare records the call; it fails as Announce does.
func (a *Announcements) Prepare(ifname string, addrs []netip.Addr) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.refuseLocked("prepare", ifname); err != nil {
		return err
	}
	a.prepared = append(a.prepared, Announcement{Iface: ifname, Addrs: slices.Clone(addrs)})
	return nil
}

// SetIPv6Forwarding sets what IPv6Forwarding reports for ifname (false
// until set).
func (a *Announcements) SetIPv6Forwarding(ifname string, on bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fwd == nil {
		a.fwd = map[string]bool{}
	}
	a.fwd[ifname] = on
}

// IPv6Forwarding reports what SetIPv6Forwarding set for ifname.
func (a *Announcements) IPv6Forwarding(ifname string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.fwd[ifname]
}

// Prepared returns the recorded Prepare calls in order (Iface and Addrs).
func (a *Announcements) Prepared() []Announcement {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.prepared)
}

// Sent returns the recorded calls in order.
func (a *Announcements) Sent() []Announcement {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.sent)
}
