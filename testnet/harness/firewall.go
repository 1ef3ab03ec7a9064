package harness

import (
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/testnet"
)

// Addresses of the firewall pair.
const (
	FWInVIP, FWOutVIP  = "192.0.2.254", "203.0.113.254" // the inside and the outside VIP
	FWClient, FWServer = "192.0.2.100", "203.0.113.100"
	FWSync1, FWSync2   = "198.51.100.1", "198.51.100.2" // fw1's and fw2's sync0
)

// FirewallRuleset is the firewalls' stateful policy: only connections from
// the inside are opened, everything else must belong to a known
// connection, and only forwarded traffic is SNATed to the outside VIP (a
// masquerade would also rewrite the firewalls' own VRRP adverts).
const FirewallRuleset = `table inet fwtest {
	chain forward {
		type filter hook forward priority 0; policy drop;
		ct state established,related accept
		iifname "eth0" oifname "eth1" ct state new accept
		counter comment "dropped"
	}
	chain postrouting {
		type nat hook postrouting priority 100;
		oifname "eth1" ip saddr 192.0.2.0/24 snat ip to 203.0.113.254
	}
}
`

// FirewallPair is two stateful firewalls between a client and a server:
//
//	cl 192.0.2.100 ── swi (inside) ──┬── fw1 eth0 192.0.2.1    VIP 192.0.2.254
//	                                 └── fw2 eth0 192.0.2.2
//	                  fw1 sync0 198.51.100.1 ══ fw2 sync0 198.51.100.2  (dedicated sync link)
//	srv 203.0.113.100 ── swo (outside) ─┬── fw1 eth1 203.0.113.1  VIP 203.0.113.254
//	                                    └── fw2 eth1 203.0.113.2
//
// The client routes via the inside VIP; the server knows no route to the
// inside network, so it only ever talks to the outside VIP (SNAT). Both
// firewalls forward, run [FirewallRuleset], and have
// nf_conntrack_tcp_loose off.
type FirewallPair struct {
	*testnet.Lab
	FW1, FW2, Client, Server *testnet.Host
	In1, In2                 *testnet.Iface // the firewalls' inside ports (eth0)
	Out1, Out2               *testnet.Iface // the firewalls' outside ports (eth1)
	Sync1, Sync2             *testnet.Iface // the sync link's ends (sync0)
}

// NewFirewallPair builds the firewall pair in a new lab of t's.
func NewFirewallPair(t testing.TB) *FirewallPair {
	t.Helper()
	testnet.NeedRoot(t, "nft", "conntrack")
	l := &FirewallPair{Lab: testnet.New(t)}
	swi, swo := l.Switch("swi"), l.Switch("swo")
	l.FW1, l.FW2, l.Client, l.Server = l.Host("fw1"), l.Host("fw2"), l.Host("cl"), l.Host("srv")
	l.In1, l.In2 = swi.Attach(l.FW1, "eth0"), swi.Attach(l.FW2, "eth0")
	l.Out1, l.Out2 = swo.Attach(l.FW1, "eth1"), swo.Attach(l.FW2, "eth1")
	l.Sync1, l.Sync2 = l.Wire(l.FW1, "sync0", l.FW2, "sync0")
	cli, srv := swi.Attach(l.Client, "eth0"), swo.Attach(l.Server, "eth0")
	l.In1.AddAddr(t, "192.0.2.1/24")
	l.In2.AddAddr(t, "192.0.2.2/24")
	l.Out1.AddAddr(t, "203.0.113.1/24")
	l.Out2.AddAddr(t, "203.0.113.2/24")
	l.Sync1.AddAddr(t, FWSync1+"/24")
	l.Sync2.AddAddr(t, FWSync2+"/24")
	cli.AddAddr(t, FWClient+"/24")
	srv.AddAddr(t, FWServer+"/24")
	l.Client.Exec(t, "ip", "route", "add", "default", "via", FWInVIP)
	acceptGARP(t, l.Client)
	acceptGARP(t, l.Server)
	for _, h := range []*testnet.Host{l.FW1, l.FW2} {
		h.Sysctl(t, "net.ipv4.ip_forward", "1")
		// The ruleset loads conntrack, whose sysctl is per namespace.
		ApplyNft(t, h, FirewallRuleset)
		// With the default (1) the new master would pick a mid-stream
		// segment up as a new connection, and a stream would survive a
		// takeover without replication: a test could not fail.
		h.Sysctl(t, "net.netfilter.nf_conntrack_tcp_loose", "0")
	}
	return l
}

// SettleNeighbours makes the client and the server send to master, which
// now holds both VIPs. At start-up both firewalls can be master for a
// moment, and the one that loses may announce the VIPs after the winner
// did; the client and the server then send to it until the winner's next
// announcement, a second later, and a connection opened meanwhile runs
// through the backup. So this waits until
// the other firewall holds no VIP and master holds both, then empties the
// client's and the server's neighbour tables: their next packet asks who
// holds the VIP, and only master answers.
func (l *FirewallPair) SettleNeighbours(t testing.TB, master *testnet.Host) {
	t.Helper()
	other := l.FW2
	if master == l.FW2 {
		other = l.FW1
	}
	holds := func(h *testnet.Host) (in, out bool) {
		in, _ = h.HasAddr(t.Context(), "eth0", FWInVIP)
		out, _ = h.HasAddr(t.Context(), "eth1", FWOutVIP)
		return in, out
	}
	testnet.Eventually(t, 10*time.Second, func() bool {
		in, out := holds(master)
		oin, oout := holds(other)
		return in && out && !oin && !oout
	}, "only %s holds the VIPs", master.Name())
	l.Client.Exec(t, "ip", "neigh", "flush", "dev", "eth0")
	l.Server.Exec(t, "ip", "neigh", "flush", "dev", "eth0")
}

// ApplyNft loads an nftables script in h. Its tables live in h's
// namespace and go with it.
func ApplyNft(t testing.TB, h *testnet.Host, script string) {
	t.Helper()
	cmd := h.Command(t.Context(), "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("harness: nft in %s: %v\n%s", h.Name(), err, out)
	}
}
