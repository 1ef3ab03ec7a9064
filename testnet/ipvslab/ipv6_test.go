package ipvslab

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
)

// ipv6Conf is a NAT service on VIP6 port 80 over two real servers'
// IPv6 addresses, checked by TCP_CHECK.
func ipv6Conf() string {
	return natService(VIP6, 80, portNAT, []string{RealAddr6(0), RealAddr6(1)}, "")
}

// natService is a NAT service on vip:port over the real servers at addrs
// (on rsPort, weight 1, checked by TCP_CHECK), with extra lines in the
// virtual_server block.
func natService(vip string, port, rsPort int, addrs []string, extra string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "virtual_server %s %d {\n delay_loop 1\n lb_algo rr\n lb_kind NAT\n protocol TCP\n%s", vip, port, extra)
	for _, a := range addrs {
		fmt.Fprintf(&b, " real_server %s %d {\n  weight 1\n%s }\n", a, rsPort, check(rsPort))
	}
	b.WriteString("}\n")
	return b.String()
}

// testIPv6 runs an IPv6 NAT service against keepalived and then vigild,
// from the same keepalived.conf: traffic from the client through the
// IPv6 VIP reaches both real servers, a dead listener leaves the table
// and comes back, the stop empties it; then the differential compares the
// two daemons' tables phase by phase.
func testIPv6(t *testing.T) { differential(t, runIPv6, nil) }

func runIPv6(t *testing.T, k Kind, r *record) {
	l := New(t, Options{Directors: 1, Reals: 2, IPv6: true})
	dir := l.Directors[0]
	for j := range 2 {
		l.Reals[j].ServeTCP(t, portNAT)
	}
	vip := net.JoinHostPort(VIP6, "80")
	table := func(ups ...int) Table {
		var dests []string
		for _, j := range ups {
			dests = append(dests, Dest(net.JoinHostPort(RealAddr6(j), strconv.Itoa(portNAT)), "Masq", 1))
		}
		return Expect(Service{Line: "TCP " + vip + " rr", Dests: dests})
	}
	phase := func(name string, want Table) {
		t.Helper()
		r.add(name, WaitTable(t, dir, settle, want, string(k)+": "+name))
	}
	d := Start(t, dir, k, ipv6Conf())
	phase("start", table(0, 1))
	roundRobin(t, l, k, vip, false)
	l.Reals[0].StopTCP(t, portNAT)
	phase("rs1 down", table(1))
	l.Reals[0].ServeTCP(t, portNAT)
	phase("rs1 back", table(0, 1))
	d.Stop(t)
	phase("stopped", Expect())
}
