// Package testnet builds throw-away network topologies in Linux network
// namespaces for vigil's integration tests and demo.
//
// A [Lab] belongs to one test. It picks a short random prefix ("vg" + 6 hex
// digits) and every namespace it creates is named "<prefix>-<name>", so
// parallel tests, and other people's test runs on the same machine, never
// collide. Hosts ([Lab.Host]) are namespaces with lo up and IPv6 duplicate
// address detection off; a [Switch] is a Linux bridge (multicast snooping
// off, forward delay 0) in a namespace of its own; [Switch.Attach] and
// [Lab.Wire] create veth pairs directly inside the namespaces, so nothing is
// ever created in the caller's (root) namespace.
//
// Fault injection: [Iface.Down] / [Iface.Up] (admin state of the host end),
// [Iface.Cut] / [Iface.Restore] (the far end goes down, carrier is lost),
// [Iface.Isolate] / [Iface.Rejoin] (frames silently dropped at the switch port
// with nftables, carrier stays up), [Host.DropRandom] (nftables numgen random
// loss on an interface), and [Proc.Freeze] / [Proc.Thaw] (SIGSTOP / SIGCONT).
// [Host.Capture] runs tcpdump and returns the frames with their kernel
// timestamps, read by a small classic-pcap reader ([ReadPcap]);
// [Host.CaptureBuffered] gives it a larger kernel buffer, for bursts of
// hundreds of frames.
//
// Processes: [Host.Start] runs a binary inside a namespace in its own process
// group with its output in a log file ([Host.Keepalived] does so for
// Debian's keepalived with private pid files, [Host.Conntrackd] for Debian's
// conntrackd with the one conntrackd.conf template, [ConntrackdConfig]); [Host.Exec] runs one to
// completion; [Host.Do] runs Go code (sockets, netlink) inside the
// namespace. Freeze and Thaw act on the whole process group and return once
// it has changed state.
//
// Measures of processes for the benchmarks: [StatFields], [StatusKB],
// [GroupSumPeakKB] and [GroupSumRSSKB] (a process group's peak or present
// resident size, its processes summed), and [GroupsUniqueKB] (the pages of
// one or more groups with each page counted once). [BuildStatic] compiles
// a Go program without cgo, as vigild ships, into the test's temporary
// directory, for the benchmarks that read memory and for the test VM.
//
// Outside `go test` (the benchmark tools), [NewStandalone] provides the
// testing.TB a Lab needs; its Close (or a fatal error, or SIGINT with
// CloseOnSignal) removes everything.
//
// The end-to-end set-ups built on this package (the router pair, the
// firewall pair, a vigild handle, frame classification) live in
// testnet/harness. scripts/demo, README's first command, runs tools/demo on
// harness.RouterPair in a lab named with a fixed prefix ([NewNamed]); this
// package's tests run it (TestDemoRun) and hold the lab's addresses to
// etc/router-pair.conf (TestDemoConfVIPsInLab).
//
// Owns: namespaces, veths, bridges, nftables tables and processes that it
// created itself, all removed by t.Cleanup, also when the test fails.
// Must not: touch the root namespace, be imported by non-test production
// code (only tests and the demo), or use addresses outside the documentation
// ranges 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24 and 2001:db8::/32
// (plus VRRP multicast inside the lab). The package does not check the
// addresses callers pass; keeping to these ranges is the caller's contract.
//
// RFCs: none implemented; the address ranges are RFC 5737 and RFC 3849.
//
// Concurrency: a Lab and its hosts are built from the test goroutine (methods
// taking a testing.TB call t.Fatalf, which must run on that goroutine). Once
// built, Host.Command, Host.Do, Proc methods that take no testing.TB, and the
// accessors are safe for concurrent use. Host.Do runs fn on a locked OS thread
// inside the namespace; goroutines that fn starts do not inherit the namespace.
//
// Requirements: root, iproute2 (`ip`); `nft` for Isolate and DropRandom;
// `tcpdump` for Capture. Missing ones make the test skip loudly, or fail when
// the environment variable CI is "true".
package testnet
