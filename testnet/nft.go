package testnet

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// Direction selects which frames a fault applies to, seen from the
// interface it is put on.
type Direction int

// Directions for [Host.DropRandom].
const (
	In   Direction = iota + 1 // frames received on the interface (netdev ingress)
	Out                       // frames sent from the interface (netdev egress)
	Both                      // both
)

func (d Direction) String() string {
	switch d {
	case In:
		return "in"
	case Out:
		return "out"
	case Both:
		return "both"
	}
	return fmt.Sprintf("Direction(%d)", int(d))
}

// Rule is an nftables table installed by a fault-injection call; Remove
// takes it out again. Safe for concurrent use.
type Rule struct {
	host  *Host
	table string // netdev family table name

	mu      sync.Mutex
	removed bool // guarded by mu
}

// nft runs an nft script inside the host's namespace.
func (h *Host) nft(script string) error {
	cmd := h.Command(context.Background(), "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("testnet: in %s: nft: %w: %s\nscript:\n%s", h.ns, err, strings.TrimSpace(string(out)), script)
	}
	return nil
}

func (h *Host) newTable(kind string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.tables++
	return fmt.Sprintf("testnet_%s%d", kind, h.tables)
}

// DropRandom drops about percent % (0..100) of the frames on ifname in the
// given direction, chosen independently per frame with nftables `numgen
// random`. It acts at the netdev ingress/egress hooks, so it applies to every
// frame (ARP, IPv4, IPv6, VRRP...). 0 installs a rule that drops nothing.
// The rule stays until Remove or the lab's cleanup.
func (h *Host) DropRandom(t testing.TB, ifname string, percent int, dir Direction) *Rule {
	t.Helper()
	return h.DropRandomMatch(t, ifname, percent, dir, "")
}

// DropRandomMatch is DropRandom restricted to the frames that the nftables
// expression match selects in the netdev family, for example
// "meta l4proto udp", "ip protocol vrrp" or "udp dport 3780"; "" matches
// every frame.
func (h *Host) DropRandomMatch(t testing.TB, ifname string, percent int, dir Direction, match string) *Rule {
	t.Helper()
	need(t, "nft")
	if percent < 0 || percent > 100 {
		t.Fatalf("testnet: DropRandom: percent %d not in 0..100", percent)
	}
	if dir != In && dir != Out && dir != Both {
		t.Fatalf("testnet: DropRandom: bad direction %v", dir)
	}
	checkIfname(t, ifname)
	r := &Rule{host: h, table: h.newTable("drop")}
	var stmt string
	switch percent {
	case 0:
		stmt = match + " counter" // counts, drops nothing
	case 100:
		stmt = match + " counter drop"
	default:
		stmt = fmt.Sprintf("%s numgen random mod 100 < %d counter drop", match, percent)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "table netdev %s {\n", r.table)
	if dir == In || dir == Both {
		fmt.Fprintf(&b, "  chain in { type filter hook ingress device %q priority -500; policy accept; %s; }\n", ifname, stmt)
	}
	if dir == Out || dir == Both {
		fmt.Fprintf(&b, "  chain out { type filter hook egress device %q priority -500; policy accept; %s; }\n", ifname, stmt)
	}
	b.WriteString("}\n")
	if err := h.nft(b.String()); err != nil {
		t.Fatalf("testnet: DropRandom: %v", err)
	}
	return r
}

// Remove deletes the rule. Removing twice is a no-op.
func (r *Rule) Remove(t testing.TB) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.removed {
		return
	}
	if err := r.host.nft("delete table netdev " + r.table + "\n"); err != nil {
		t.Fatalf("testnet: Rule.Remove: %v", err)
	}
	r.removed = true
}

// Isolate silently cuts this interface off: every frame to and from it is
// dropped at the far end (the switch port, or the wire peer) with nftables,
// while both ends keep carrier. Isolating an isolated interface is a no-op.
func (i *Iface) Isolate(t testing.TB) {
	t.Helper()
	need(t, "nft")
	i.isoMu.Lock()
	defer i.isoMu.Unlock()
	if i.iso != nil {
		return
	}
	p := i.peer
	r := &Rule{host: p.host, table: p.host.newTable("iso")}
	script := fmt.Sprintf("table netdev %s {\n"+
		"  chain in { type filter hook ingress device %q priority -500; policy drop; }\n"+
		"  chain out { type filter hook egress device %q priority -500; policy drop; }\n"+
		"}\n", r.table, p.name, p.name)
	if err := p.host.nft(script); err != nil {
		t.Fatalf("testnet: Isolate %s: %v", i.name, err)
	}
	i.iso = r
}

// Rejoin undoes Isolate. Rejoining an interface that is not isolated is a
// no-op.
func (i *Iface) Rejoin(t testing.TB) {
	t.Helper()
	i.isoMu.Lock()
	defer i.isoMu.Unlock()
	if i.iso == nil {
		return
	}
	i.iso.Remove(t)
	i.iso = nil
}
