package vip

import (
	"context"
	"net"
	"net/netip"
)

// Reconciler is the kernel-facing contract of this package, as the daemon
// uses it. *Manager implements it over rtnetlink; viptest.Kernel is its
// in-memory twin for fast unit tests of the daemon loop.
//
// Contract (both implementations, proven by one test body run over both):
// Add* add only what is missing and are no-ops for what is present; Remove*
// remove only what is present and described exactly, and absent entries are
// not errors; Present* return the present subset in input order; one bad
// entry does not stop the others, errors are joined and wrap ErrNoDevice,
// ErrNoSource, ErrConflict or ErrInvalid where those apply; route failures
// come as a *RouteError whose Retry marks the ones to retry once the VIPs
// are in place.
type Reconciler interface {
	AddAddresses(ctx context.Context, addrs []Address) error
	RemoveAddresses(ctx context.Context, addrs []Address) error
	Present(ctx context.Context, addrs []Address) ([]Address, error)
	AddRoutes(ctx context.Context, routes []Route) error
	RemoveRoutes(ctx context.Context, routes []Route) error
	PresentRoutes(ctx context.Context, routes []Route) ([]Route, error)
	AddRules(ctx context.Context, rules []Rule) error
	RemoveRules(ctx context.Context, rules []Rule) error
	PresentRules(ctx context.Context, rules []Rule) ([]Rule, error)
}

// Sender announces addresses on a segment; *Announcer implements it and
// viptest.Announcements records calls instead.
type Sender interface {
	// Announce sends one gratuitous ARP per IPv4 and one unsolicited NA
	// per IPv6 address of addrs on ifname, for mac (nil: the interface's).
	Announce(ifname string, addrs []netip.Addr, mac net.HardwareAddr, router bool) error
	// Prepare gets ready to announce addrs on ifname (opens the sockets
	// Announce will use) without sending anything, so that the first
	// Announce of a takeover does not open them. A failure is not final:
	// Announce tries again.
	Prepare(ifname string, addrs []netip.Addr) error
	// IPv6Forwarding reports whether ifname forwards IPv6 now: the
	// Router flag its NAs carry. A failure to tell reads as false.
	IPv6Forwarding(ifname string) bool
}

// VMACs creates and removes VMAC interfaces; *Manager implements it and
// viptest.Kernel is its twin (see Manager.EnsureVMAC and RemoveVMAC for
// the contract).
type VMACs interface {
	EnsureVMAC(ctx context.Context, v VMAC) (int, error)
	RemoveVMAC(ctx context.Context, name string) error
}

// Sysctls reads, writes and lists /proc/sys settings by their slash-separated
// path under /proc/sys; ProcSys implements it and viptest.Sysctls records
// instead.
type Sysctls interface {
	ReadSysctl(path string) (string, error)
	WriteSysctl(path, value string) error
	// ListSysctl returns the names of the entries of a directory, e.g.
	// "net/ipv4/conf" lists the interfaces, "all" and "default".
	ListSysctl(dir string) ([]string, error)
}

var (
	_ Reconciler = (*Manager)(nil)
	_ Sender     = (*Announcer)(nil)
	_ VMACs      = (*Manager)(nil)
	_ Sysctls    = ProcSys{}
)
