// Package harness builds vigil's end-to-end set-ups on top of [testnet]:
// the router pair (two routers and a client on one switch), the firewall
// pair (two stateful firewalls between a client and a server, with a
// dedicated conntrack sync link), and a handle on a running vigild
// ([Vigild]: start with configuration text, signal, stop, read its status
// over the control socket, wait for a state), and the classification of
// captured frames the takeover measurements share ([Classify]: VRRP
// adverts, gratuitous ARP, unsolicited NA; [MasterDown] for RFC 5798
// section 6.1's limit). cmd/vigild's integration tests, the benchmarks
// under tools/ and the demo (tools/demo, run by scripts/demo) build their
// labs here, so that each set-up is written once. Debian's conntrackd
// beside vigild runs with [testnet.Host.Conntrackd] (the one
// conntrackd.conf template), keepalived with [testnet.Host.Keepalived].
//
// Status is read through one function, [ReadStatus] (over [Request], the
// control socket's one-line protocol); every other status helper goes
// through it.
//
// Owns: nothing beyond what testnet owns for it: namespaces, links,
// nftables tables, processes and files it creates through a [testnet.Lab]
// or t.TempDir, all removed by t.Cleanup, also when the test fails.
// Names carry the lab's random per-test prefix (NewNamedRouterPair's fixed
// one is for the demo, whose names people type).
// Must not: be imported by production code (tests, benchmarks and the demo
// only), or use addresses outside the documentation ranges 192.0.2.0/24,
// 198.51.100.0/24, 203.0.113.0/24 and 2001:db8::/32.
//
// Concurrency: as testnet's: build the set-ups and call the methods that
// take a testing.TB from the test goroutine; [ReadStatus] and
// [Vigild.Status] are safe for concurrent use.
//
// Requirements: root and iproute2; the firewall pair needs nft and
// conntrack. Missing ones make the test skip loudly, or fail under CI=true.
package harness
