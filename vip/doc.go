// Package vip puts virtual addresses, virtual routes and virtual rules into
// the kernel and tells the segment about them.
//
// # What it owns
//
//   - [Manager]: idempotent reconcilers for virtual_ipaddress,
//     virtual_ipaddress_excluded, virtual_routes and virtual_rules over
//     rtnetlink (github.com/vishvananda/netlink). Each call reads what the
//     kernel holds and changes only the difference: adding an address that is
//     already present sends nothing to the kernel (no RTM_NEWADDR, so no flap
//     of lifetimes or flags), removing one that is absent is not an error.
//     IPv6 virtual addresses always carry IFA_F_NODAD, as keepalived's do
//     (RFC 4862 §5.4 duplicate address detection would otherwise delay them and
//     VRRP already guarantees a single owner). Addresses carry the iproute2
//     flags home, mngtmpaddr, autojoin and noprefixroute; routes their
//     protocol, TOS, realms, RTA_METRICS values and multipath nexthops; rules
//     their selectors (not, tos, realms, ipproto, ports, uid range),
//     suppress_* and goto, as `ip` would send them. The address
//     addition, a takeover's first kernel work, sends the interface's
//     index from a cache (one RTM_NEWADDR, no lookup by name), built by
//     hand on a blocking netlink socket of the Manager's own, which costs
//     half the library's request on an idle worker
//     (BenchmarkAddAddressCold); the cache
//     forgets a name on [Manager.InterfaceChanged] (the caller's link
//     events) and re-resolves it when the kernel refuses a stale index
//     (ENODEV), so an interface created again under its name still works.
//   - [Announcer]: one gratuitous ARP (RFC 5227 §3 / RFC 826 request form:
//     sender IP = target IP = the VIP, target hardware address all-ones,
//     broadcast) per IPv4 address, and one unsolicited Neighbor Advertisement
//     (RFC 4861 §4.4 and §7.2.6: to ff02::1, hop limit 255, Override=1,
//     Solicited=0, Router when the box forwards, Target Link-Layer Address
//     option = the owner's MAC) per IPv6 address. RFC 5798 §6.4.1 and §6.4.2
//     ask a new master to send exactly these (the RFC always sets R; like
//     keepalived, the caller decides, from the interface's forwarding
//     setting, which [Announcer.IPv6Forwarding] reads). The frames are
//     byte-identical to keepalived 2.2.7's (testdata/). Sockets, and a
//     descriptor of the forwarding sysctl, are cached per interface;
//     [Announcer.Prepare] opens them before the first announcement is due,
//     so a takeover's first round only reads and writes.
//   - [RemoveLeftovers]: the start-up sweep, over any [Reconciler], of the
//     virtual addresses, routes and rules a killed predecessor left on the
//     host; it removes only what it is given and reports exactly what went.
//   - [Schedule]: the send times of a garp_master_* burst, as a pure
//     function of now and a [GARPConfig].
//   - [VMAC] (keepalived's use_vmac): [Manager.EnsureVMAC] creates or
//     adopts the macvlan, [Manager.RemoveVMAC] deletes it, and
//     [VMAC.Sysctls] lists keepalived's settings for it and its parent;
//     [ProcSys] reads and writes them under /proc/sys/net, refusing any path
//     that is not plain ([CheckSysctlPath], [ValidIfName]). Which values to
//     write and restore is the caller's decision.
//   - The contracts [Reconciler], [Sender], [VMACs] and [Sysctls], with
//     in-memory twins in vip/viptest; [Relate] (the kernel's identity of an address) and the
//     Validate methods, usable without kernel access (e.g. by the config
//     loader).
//
// # What it must not touch
//
// VRRP timers and states: the daemon decides when to add, remove and
// announce; this package only does it. It never changes existing links
// (up/down, MAC) and writes a sysctl only when asked to: the only links it
// creates, brings up and deletes
// are VMACs ([Manager.EnsureVMAC], a macvlan with the RFC 5798 §7.3 virtual
// router MAC, as keepalived's use_vmac), and it refuses to touch an interface
// that is not one. It never removes an address, route or rule that a caller
// did not name.
//
// # Concurrency
//
// A [Manager] and an [Announcer] are safe for concurrent use; each serializes
// its kernel work under its own mutex; [Manager.InterfaceChanged] takes
// only the index cache's own lock, never waiting for kernel work. Neither
// starts goroutines. Counters are
// atomic and read with Stats.
//
// # Namespaces
//
// [NewManagerAt] works in any network namespace through a netlink handle
// opened there. An [Announcer] belongs to the namespace of the OS thread that
// calls its first Announce: its sockets, and the control socket it resolves
// interface names with, are opened there and stay there. A daemon simply
// runs in one namespace; tests call Announce inside testnet's Host.Do.
package vip
