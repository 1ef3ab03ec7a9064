package ipvs_test

import (
	"errors"
	"net/netip"
	"strings"
	"syscall"
	"testing"

	"github.com/vigil-ha/vigil/ipvs"
)

// testBatch programs a table large enough to take many pipelined writes,
// with services whose destination dumps take several messages (so that the
// kernel refuses the dumps sent after them as busy and they are sent
// again), and two changes the kernel refuses in the middle of a batch:
// each failure is reported on its own change, the destinations of the
// service that could not be added are not tried, and everything else is
// made. ipvsadm counts the table independently.
func testBatch(t *testing.T, k *ipvs.Kernel) {
	const services = 600
	key := func(i int) ipvs.ServiceKey {
		return ipvs.ServiceKey{Family: ipvs.IPv4, Protocol: ipvs.TCP, Addr: vip4, Port: uint16(1000 + i)}
	}
	desired := ipvs.Table{}
	for i := range services {
		s := svc(key(i), "wrr", 0, 0, 0)
		n := 3
		if i%100 == 50 {
			n = 300 // a dump of several messages
		}
		for j := range n {
			d := ipvs.Dest{Addr: netip.AddrFrom4([4]byte{198, 51, 100, byte(1 + j%200)}), Port: uint16(80 + j/200), Method: ipvs.NAT, Weight: uint32(1 + j%3)}
			s.Dests[d.Key()] = d
		}
		desired[s.Key] = s
	}
	badSvc, badDest := key(300), key(400)
	desired[badSvc].Scheduler = "nosuch"                                       // unknown: ENOENT
	bd := ipvs.Dest{Addr: rs4a, Port: 9999, Method: ipvs.NAT, Weight: 1 << 31} // the kernel takes weight as a signed int
	desired[badDest].Dests[bd.Key()] = bd

	count := func(tb ipvs.Table) (n int) {
		for _, s := range tb {
			n += 1 + len(s.Dests)
		}
		return n
	}
	r := ipvs.NewReconciler(k)
	res, err := r.Apply(desired)
	var failed []string
	for _, o := range res.Ops {
		if o.Err != nil {
			failed = append(failed, o.String())
		}
		if o.Service == badSvc && o.Kind != ipvs.OpAddService {
			t.Errorf("a change to the service that could not be added was tried: %s", o)
		}
	}
	if len(failed) != 2 || !strings.HasPrefix(failed[0], "add-service [192.0.2.1]:tcp:1300: ") ||
		!strings.HasPrefix(failed[1], "add-dest [192.0.2.1]:tcp:1400 -> [198.51.100.1]:9999 NAT w2147483648: ") {
		t.Fatalf("failed changes %q, want the add-service of :1300 and the add-dest of w2147483648", failed)
	}
	if !errors.Is(err, syscall.ENOENT) || !errors.Is(err, syscall.ERANGE) {
		t.Errorf("Apply's error %v, want ENOENT (the scheduler) and ERANGE (the weight)", err)
	}
	if want := count(desired) - len(desired[badSvc].Dests); len(res.Ops) != want {
		t.Errorf("%d changes, want %d", len(res.Ops), want)
	}
	want := desired.Clone()
	delete(want, badSvc)
	delete(want[badDest].Dests, bd.Key())
	got, err := k.Services()
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != want.String() {
		t.Fatalf("table after the first apply differs from the desired one (%d services, want %d)", len(got), len(want))
	}
	if n := len(ipvsadm(t)); n != count(want) {
		t.Errorf("ipvsadm lists %d services and destinations, want %d", n, count(want))
	}

	// Fixed, the next Apply makes exactly what failed.
	desired[badSvc].Scheduler = "rr"
	bd.Weight = 5
	desired[badDest].Dests[bd.Key()] = bd
	res, err = r.Apply(desired)
	if w := 1 + len(desired[badSvc].Dests) + 1; err != nil || len(res.Ops) != w {
		t.Fatalf("retry: %d changes (%v), want %d", len(res.Ops), err, w)
	}
	// 1 % of the weights changed: that many edits and nothing else.
	edits := 0
	for i := 0; i < services; i += 10 {
		s := desired[key(i)]
		for dk, d := range s.Dests {
			d.Weight += 10
			s.Dests[dk] = d
			edits++
			break
		}
	}
	res, err = r.Apply(desired)
	if err != nil || len(res.Ops) != edits {
		t.Fatalf("weight changes: %d changes (%v), want %d", len(res.Ops), err, edits)
	}
	for _, o := range res.Ops {
		if o.Kind != ipvs.OpEditDest {
			t.Errorf("weight changes: %s", o)
		}
	}
	if res, err = r.Apply(desired); err != nil || len(res.Ops) != 0 {
		t.Errorf("the same table again: %d changes (%v), want none", len(res.Ops), err)
	}
	got, err = k.Services()
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != desired.String() {
		t.Errorf("table after the edits differs from the desired one")
	}
	if res, err := r.Release(); err != nil || len(res.Ops) != services {
		t.Errorf("release: %d changes (%v), want %d", len(res.Ops), err, services)
	}
	if n := len(ipvsadm(t)); n != 0 {
		t.Errorf("ipvsadm lists %d lines after release, want none", n)
	}
}
