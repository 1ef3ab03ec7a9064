// Package daemon builds vigil's running parts from a config.Config and runs
// the event loop that owns all instance state.
//
// What it owns:
//   - one vrrp.Machine per vrrp_instance, and the per-instance counters;
//   - the VRRP sockets, one vrrp.Conn per (interface, family, transport),
//     shared by every instance on it and demultiplexed by VRID;
//   - executing the machines' actions: sending adverts, adding and removing
//     virtual addresses and routes through vip.Manager, gratuitous ARP and
//     unsolicited NA bursts through vip.Announcer, log lines, notify calls;
//   - reload (SIGHUP): a new configuration that fails to load changes
//     nothing; one that loads is applied instance by instance;
//   - the status snapshot that vigilctl reads over a unix socket.
//
// What it must not do: parse packets (vrrp does), speak netlink (vip does),
// or decide VRRP transitions (vrrp.Machine does).
//
// Concurrency: the loop goroutine started by Run is the only writer of
// instance state. Socket readers, signal handlers and control-socket
// clients only post events to it over channels. A mutex guards the status
// snapshot, which the loop refreshes after every event. Every goroutine is
// started by Run and stopped and waited for before Run returns.
package daemon
