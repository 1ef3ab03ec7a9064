// Package nftfilter drops traffic to and from the virtual addresses of
// VRRP instances that must not accept it, with nftables, as keepalived
// does for no_accept and vrrp_strict.
//
// RFC 5798 §6.1 Accept_Mode: a master that is not the address owner must
// not accept packets addressed to its virtual addresses unless accept mode
// is on. keepalived enforces this with a firewall: before such an instance
// adds its addresses it puts them in a drop set, and it takes them out
// after it has removed them. The addresses are only on the host while the
// instance is master, so the filter protects a non-owner master; a backup
// holds neither the addresses nor the set entries.
//
// # What it owns
//
//   - [Ruleset], [Sync] and [Teardown]: pure functions from a [Config] and
//     the blocked addresses to an nft script (`nft -f` syntax). Each script
//     is one nftables transaction, so the kernel sees the whole change or
//     none of it. The table is vigil's own (family inet, default name
//     "vigil"): no script names any other table, so rules an operator or
//     another daemon (keepalived's ip/ip6 "keepalived" tables, firewalld)
//     keeps are never touched.
//   - [Exec], the applier: it runs `nft -f -` with the script on standard
//     input. The project pins no nftables netlink library, and the nft
//     binary parses, checks and commits the script as one batch; the
//     scripts are generated from typed addresses and a validated table
//     name, never from raw configuration text.
//
// The table holds two base chains, "in" (hook input) and "out" (hook
// output), at the configured priority (keepalived's default is -1, ahead of
// the usual filter chains at 0), and three sets: vips4 (ipv4_addr), vips6
// (ipv6_addr) and vips6_ll (ipv6_addr . ifname, for link-local addresses,
// which are only unique per interface). IPv6 neighbour solicitations and
// advertisements pass before the drops, as in keepalived, so the master
// still answers for its addresses.
//
// # What it must not touch
//
// Any nftables table but its own; addresses (package vip does that); VRRP
// state (the daemon decides which addresses are blocked and when).
package nftfilter
