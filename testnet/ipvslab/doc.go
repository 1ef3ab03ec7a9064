// Package ipvslab is an end-to-end IPVS lab for the test VM (testnet/vm):
// a client, one or two directors and real servers in network namespaces
// (testnet), real TCP and UDP servers that a test stops and starts, and a
// daemon under test — Debian's keepalived 2.2.7 or a static vigild —
// programming the kernel's IPVS table from one keepalived.conf.
// `ipvsadm -Ln --sort`, normalised ([Table]), is the independent oracle;
// scenarios run the same configuration against both daemons and compare
// the normalised tables phase by phase (the differential).
//
// Topology (documentation ranges only):
//
//	client 203.0.113.10 ── front switch ── director(s) 203.0.113.2, .3
//	                                        VIP 203.0.113.100, gateway 198.51.100.1
//	real servers 198.51.100.11.. ── back switch ── director(s) 198.51.100.2, .3
//
// With Options.IPv6 the same layout has IPv6 addresses too: the client
// 2001:db8:1::10, the VIP 2001:db8:1::100 in the front prefix, the
// gateway 2001:db8:2::1 and the real servers 2001:db8:2::11.. in the back
// one.
//
// A real server holds the VIP on lo (ARP hidden) and has tunl0 up, so the
// same host serves NAT, DR and TUN services; its default route is the
// back gateway 198.51.100.1. With one director the VIP and the gateway
// are the director's own addresses; with two they are VRRP addresses the
// daemons move.
//
// The package's TestLab boots the VM once and runs, for each daemon: the
// single-director scenario (NAT, DR, TUN and UDP services with traffic;
// a dead listener removed, or kept at weight 0 with inhibit_on_failure,
// and back; quorum with hysteresis and a sorry server; every real server
// down; a SIGHUP that changes one weight under an established connection;
// SIGTERM removing only what the daemon added; a pre-existing service,
// where the two differ on purpose), then the differential of their
// tables; and the director pair (VRRP, lvs_sync_daemon, a NAT connection
// that survives the failover, and a control without the sync daemon
// whose connection must break); and an IPv6 NAT service (traffic, a
// dead listener removed and back, stop) with the differential of the two
// daemons' tables; and the checkers' mail alerts: an [SMTPSink] on the
// client receives what each daemon mails when a real server dies (quorum
// lost) and comes back (quorum gained), compared phase by phase (dates
// and host names normalised). bench/ipvs's BenchmarkLab measures both
// daemons on the same lab.
//
// [RunVM] is the host side: it builds vigild (static) and boots the VM
// once for a test binary, copying iproute2's ip, keepalived and vigild in
// (testnet needs `ip netns`; busybox's ip has none), and strace when the
// host has it (BenchmarkLab counts the daemons' system calls with it).
//
// Owns: what testnet owns for its labs (namespaces, veths, bridges,
// processes), the servers' sockets (the SMTP sink's too), and the daemons
// it starts. Must not:
// run outside the VM's kernel with IPVS (the tests call [RunVM] first),
// touch the VM's root namespace, or be imported by production code.
//
// Concurrency: a Lab is built and driven from the test goroutine; a
// [Real]'s servers answer on goroutines of their own, stopped by Stop or
// the test's cleanup.
package ipvslab
