package ipvs_test

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/vigil-ha/vigil/ipvs"
)

// testIPVSADM programs a table through the reconciler and compares it
// with what ipvsadm, which reads the kernel on its own, prints.
func testIPVSADM(t *testing.T, k *ipvs.Kernel) {
	tcp4 := ipvs.ServiceKey{Family: ipvs.IPv4, Protocol: ipvs.TCP, Addr: vip4, Port: 80}
	udp6 := ipvs.ServiceKey{Family: ipvs.IPv6, Protocol: ipvs.UDP, Addr: vip6, Port: 53}
	mark := ipvs.ServiceKey{Family: ipvs.IPv4, FWMark: 7}
	desired := table(
		svc(tcp4, "wrr", ipvs.FlagPersistent, 300, 0xffffff00,
			ipvs.Dest{Addr: rs4a, Port: 8080, Method: ipvs.NAT, Weight: 3},
			ipvs.Dest{Addr: rs4b, Port: 80, Method: ipvs.DR, Weight: 1}),
		svc(udp6, "sh", ipvs.FlagSched1|ipvs.FlagSched2, 0, 0,
			ipvs.Dest{Addr: rs6a, Port: 53, Method: ipvs.TUN, Weight: 2}),
		svc(mark, "rr", 0, 0, 0,
			ipvs.Dest{Addr: rs4a, Port: 0, Method: ipvs.DR, Weight: 0}),
	)
	if _, err := ipvs.NewReconciler(k).Apply(desired); err != nil {
		t.Fatal(err)
	}
	got := ipvsadm(t)
	want := []string{
		"TCP 192.0.2.1:80 wrr persistent 300 mask 255.255.255.0",
		"-> 198.51.100.1:8080 Masq 3 0 0",
		"-> 198.51.100.2:80 Route 1 0 0",
		"UDP [2001:db8::1]:53 sh (sh-fallback,sh-port)",
		"-> [2001:db8::10]:53 Tunnel 2 0 0",
		"FWM 7 rr",
		"-> 198.51.100.1:0 Route 0 0 0",
	}
	if !slices.Equal(got, want) {
		t.Errorf("ipvsadm -Ln:\n%q\nwant\n%q", got, want)
	}
	// A weight change shows in ipvsadm and nothing else moves.
	d := desired[tcp4].Dests[netip.AddrPortFrom(rs4a, 8080)]
	d.Weight = 7
	desired[tcp4].Dests[d.Key()] = d
	if _, err := ipvs.NewReconciler(k).Apply(desired); err != nil {
		t.Fatal(err)
	}
	want[1] = "-> 198.51.100.1:8080 Masq 7 0 0"
	if got := ipvsadm(t); !slices.Equal(got, want) {
		t.Errorf("after the weight change, ipvsadm -Ln:\n%q\nwant\n%q", got, want)
	}
}

// testTimeouts sets lvs_timeouts and reads them back, then restores them.
func testTimeouts(t *testing.T, k *ipvs.Kernel) {
	orig, err := k.Timeouts()
	if err != nil {
		t.Fatal(err)
	}
	if err := k.SetTimeouts(ipvs.Timeouts{TCP: 7200, TCPFin: 60, UDP: 90}); err != nil {
		t.Fatal(err)
	}
	got, err := k.Timeouts()
	if err != nil || got != (ipvs.Timeouts{TCP: 7200, TCPFin: 60, UDP: 90}) {
		t.Errorf("timeouts %+v (%v), want 7200/60/90", got, err)
	}
	if err := k.SetTimeouts(orig); err != nil {
		t.Fatal(err)
	}
	if got, _ := k.Timeouts(); got != orig {
		t.Errorf("restored timeouts %+v, want %+v", got, orig)
	}
}
