package ipvs_test

import (
	"errors"
	"io/fs"
	"net/netip"
	"slices"
	"testing"

	"github.com/vigil-ha/vigil/ipvs"
	"github.com/vigil-ha/vigil/ipvs/ipvstest"
)

var (
	vip4  = netip.MustParseAddr("192.0.2.1")
	vip6  = netip.MustParseAddr("2001:db8::1")
	rs4a  = netip.MustParseAddr("198.51.100.1")
	rs4b  = netip.MustParseAddr("198.51.100.2")
	rs6a  = netip.MustParseAddr("2001:db8::10")
	other = netip.MustParseAddr("203.0.113.7")
)

func svc(k ipvs.ServiceKey, sched string, flags, timeout, mask uint32, dests ...ipvs.Dest) *ipvs.Service {
	s := &ipvs.Service{Key: k, Scheduler: sched, Flags: flags, TimeoutSecs: timeout, Netmask: mask, Dests: map[ipvs.DestKey]ipvs.Dest{}}
	if mask == 0 {
		s.Netmask = ipvs.DefaultNetmask(k.Family)
	}
	for _, d := range dests {
		s.Dests[d.Key()] = d
	}
	return s
}

func table(ss ...*ipvs.Service) ipvs.Table {
	t := ipvs.Table{}
	for _, s := range ss {
		t[s.Key] = s
	}
	return t
}

func ops(r ipvs.Result) []string {
	var out []string
	for _, o := range r.Ops {
		out = append(out, o.String())
	}
	return out
}

// testContract is the one test body for every [ipvs.Client]: the kernel
// (in a VM with IPVS) and the in-memory twin. It starts from an empty
// table.
func testContract(t *testing.T, c ipvs.Client) {
	t.Helper()
	tcp4 := ipvs.ServiceKey{Family: ipvs.IPv4, Protocol: ipvs.TCP, Addr: vip4, Port: 80}
	udp6 := ipvs.ServiceKey{Family: ipvs.IPv6, Protocol: ipvs.UDP, Addr: vip6, Port: 53}
	sctp4 := ipvs.ServiceKey{Family: ipvs.IPv4, Protocol: ipvs.SCTP, Addr: vip4, Port: 3868}
	mark4 := ipvs.ServiceKey{Family: ipvs.IPv4, FWMark: 7}
	mark6 := ipvs.ServiceKey{Family: ipvs.IPv6, FWMark: 7}
	foreignKey := ipvs.ServiceKey{Family: ipvs.IPv4, Protocol: ipvs.TCP, Addr: other, Port: 443}

	desired := table(
		svc(tcp4, "wrr", 0, 0, 0,
			ipvs.Dest{Addr: rs4a, Port: 8080, Method: ipvs.NAT, Weight: 3, UThreshold: 100, LThreshold: 10},
			ipvs.Dest{Addr: rs4b, Port: 80, Method: ipvs.DR, Weight: 1}),
		svc(udp6, "sh", ipvs.FlagPersistent|ipvs.FlagOnePacket|ipvs.FlagSched1|ipvs.FlagSched2, 600, 64,
			ipvs.Dest{Addr: rs6a, Port: 53, Method: ipvs.NAT, Weight: 1}),
		svc(sctp4, "rr", ipvs.FlagPersistent, 360, 0xffffff00,
			ipvs.Dest{Addr: rs4a, Port: 3868, Method: ipvs.TUN, Weight: 2, TunnelType: ipvs.GUE, TunnelPort: 6080, TunnelFlags: ipvs.TunnelCsum}),
		svc(mark4, "wlc", 0, 0, 0,
			ipvs.Dest{Addr: rs4a, Port: 0, Method: ipvs.DR, Weight: 1},
			ipvs.Dest{Addr: rs4b, Port: 0, Method: ipvs.TUN, Weight: 1, TunnelType: ipvs.GRE}),
		svc(mark6, "mh", ipvs.FlagSched2, 0, 0,
			ipvs.Dest{Addr: rs6a, Port: 0, Method: ipvs.DR, Weight: 5}),
	)

	// A service that is not ours, present before vigil starts.
	if err := c.AddService(svc(foreignKey, "rr", 0, 0, 0)); err != nil {
		t.Fatalf("adding the foreign service: %v", err)
	}
	if err := c.AddDest(foreignKey, ipvs.Dest{Addr: rs4b, Port: 443, Method: ipvs.NAT, Weight: 1}); err != nil {
		t.Fatalf("adding the foreign destination: %v", err)
	}
	foreign, err := c.Services()
	if err != nil {
		t.Fatal(err)
	}

	r := ipvs.NewReconciler(c)
	res, err := r.Apply(desired)
	if err != nil {
		t.Fatalf("first apply: %v\n%q", err, ops(res))
	}
	if !slices.Equal(res.Foreign, []ipvs.ServiceKey{foreignKey}) {
		t.Errorf("foreign = %v, want [%v]", res.Foreign, foreignKey)
	}
	want := desired.Clone()
	want[foreignKey] = foreign[foreignKey]
	expect := func(what string, want ipvs.Table) {
		t.Helper()
		got, err := c.Services()
		if err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Fatalf("%s: table\n%s\nwant\n%s", what, got, want)
		}
	}
	expect("after the first apply", want)

	res, err = r.Apply(desired)
	if err != nil || len(res.Ops) != 0 {
		t.Errorf("second apply of the same table: ops %q, err %v", ops(res), err)
	}

	// A weight change is one edit of one destination.
	d := desired[tcp4].Dests[netip.AddrPortFrom(rs4a, 8080)]
	d.Weight = 9
	desired[tcp4].Dests[d.Key()] = d
	res, err = r.Apply(desired)
	if w := []string{"edit-dest [192.0.2.1]:tcp:80 -> [198.51.100.1]:8080 NAT w9 thresh 10-100"}; err != nil || !slices.Equal(ops(res), w) {
		t.Errorf("weight change: ops %q, err %v; want %q", ops(res), err, w)
	}
	// A scheduler and persistence change edits the service in place, and
	// a method change edits the destination in place.
	desired[udp6].Scheduler, desired[udp6].Flags, desired[udp6].TimeoutSecs = "rr", ipvs.FlagPersistent, 30
	d = desired[tcp4].Dests[netip.AddrPortFrom(rs4b, 80)]
	d.Method, d.TunnelType = ipvs.TUN, ipvs.IPIP
	desired[tcp4].Dests[d.Key()] = d
	res, err = r.Apply(desired)
	if w := []string{"edit-dest [192.0.2.1]:tcp:80 -> [198.51.100.2]:80 TUN w1 tun0/0/0", "edit-service [2001:db8::1]:udp:53"}; err != nil || !slices.Equal(ops(res), w) {
		t.Errorf("service and method change: ops %q, err %v; want %q", ops(res), err, w)
	}
	// A removed real server is one deletion; a removed service goes whole.
	delete(desired[tcp4].Dests, netip.AddrPortFrom(rs4b, 80))
	delete(desired, sctp4)
	res, err = r.Apply(desired)
	if w := []string{"del-service [192.0.2.1]:sctp:3868", "del-dest [192.0.2.1]:tcp:80 -> [198.51.100.2]:80 TUN w1 tun0/0/0"}; err != nil || !slices.Equal(ops(res), w) {
		t.Errorf("removals: ops %q, err %v; want %q", ops(res), err, w)
	}
	want = desired.Clone()
	want[foreignKey] = foreign[foreignKey]
	expect("after the edits", want)

	// What the reconciler reads. The same table again reads no
	// destinations.
	if res, err := r.Apply(desired); err != nil || len(res.Ops) != 0 || res.Read != 0 {
		t.Errorf("apply of an unchanged table: ops %q, %d services read, err %v; want none", ops(res), res.Read, err)
	}
	// A service others deleted is added again whole.
	if err := c.DelService(mark4); err != nil {
		t.Fatal(err)
	}
	res, err = r.Apply(desired)
	if w := []string{"add-service FWM 7", "add-dest FWM 7 -> [198.51.100.1]:0 DR w1", "add-dest FWM 7 -> [198.51.100.2]:0 TUN w1 tun2/0/0"}; err != nil || !slices.Equal(ops(res), w) {
		t.Errorf("service deleted by others: ops %q, err %v; want %q", ops(res), err, w)
	}
	// A destination others changed in a service the reconciler does not
	// change is left until a Resync; in a service it changes, it is read
	// and corrected with the change.
	d = desired[tcp4].Dests[netip.AddrPortFrom(rs4a, 8080)]
	d.Weight = 50
	if err := c.EditDest(tcp4, d); err != nil {
		t.Fatal(err)
	}
	if err := c.DelDest(udp6, netip.AddrPortFrom(rs6a, 53)); err != nil {
		t.Fatal(err)
	}
	if res, err := r.Apply(desired); err != nil || len(res.Ops) != 0 || res.Read != 0 {
		t.Errorf("apply after others changed destinations: ops %q, %d read, err %v; want none until a Resync", ops(res), res.Read, err)
	}
	add := ipvs.Dest{Addr: rs4b, Port: 8080, Method: ipvs.NAT, Weight: 4}
	desired[tcp4].Dests[add.Key()] = add
	res, err = r.Apply(desired)
	if w := []string{"edit-dest [192.0.2.1]:tcp:80 -> [198.51.100.1]:8080 NAT w9 thresh 10-100",
		"add-dest [192.0.2.1]:tcp:80 -> [198.51.100.2]:8080 NAT w4"}; err != nil || !slices.Equal(ops(res), w) || res.Read != 1 {
		t.Errorf("changing a service others changed: ops %q, %d read, err %v; want %q and 1 read", ops(res), res.Read, err, w)
	}
	r.Resync()
	res, err = r.Apply(desired)
	if w := []string{"add-dest [2001:db8::1]:udp:53 -> [2001:db8::10]:53 NAT w1"}; err != nil || !slices.Equal(ops(res), w) || res.Read != len(desired) {
		t.Errorf("after Resync: ops %q, %d read, err %v; want %q and %d read", ops(res), res.Read, err, w, len(desired))
	}
	want = desired.Clone()
	want[foreignKey] = foreign[foreignKey]
	expect("after the corrections", want)

	// The client's own errors: adding what exists, deleting what does not.
	if err := c.AddService(desired[tcp4]); !errors.Is(err, fs.ErrExist) {
		t.Errorf("adding an existing service: %v, want ErrExist", err)
	}
	if err := c.DelService(sctp4); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("deleting a missing service: %v, want ErrNotExist", err)
	}
	if err := c.AddDest(tcp4, desired[tcp4].Dests[netip.AddrPortFrom(rs4a, 8080)]); !errors.Is(err, fs.ErrExist) {
		t.Errorf("adding an existing destination: %v, want ErrExist", err)
	}
	if err := c.DelDest(tcp4, netip.AddrPortFrom(other, 1)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("deleting a missing destination: %v, want ErrNotExist", err)
	}
	if err := c.AddService(svc(sctp4, "no-such-scheduler", 0, 0, 0)); err == nil {
		t.Error("a service with an unknown scheduler was accepted")
	}

	// Release removes ours and leaves the foreign service.
	if res, err := r.Release(); err != nil || len(res.Ops) != len(desired) {
		t.Errorf("release: ops %q, err %v", ops(res), err)
	}
	expect("after release", table(foreign[foreignKey]))
	if len(r.Owned()) != 0 {
		t.Errorf("still owned after release: %v", r.Owned())
	}

	// Flush empties everything, foreign services too.
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	expect("after flush", ipvs.Table{})
}

func TestContractTwin(t *testing.T) {
	testContract(t, ipvstest.New())
}

// TestReconcileAdoptsAndCorrects: a service the configuration names that
// already exists (left by a killed predecessor) is taken over and
// corrected in place, never deleted and re-added.
func TestReconcileAdoptsAndCorrects(t *testing.T) {
	tw := ipvstest.New()
	k := ipvs.ServiceKey{Family: ipvs.IPv4, Protocol: ipvs.TCP, Addr: vip4, Port: 80}
	if err := tw.AddService(svc(k, "rr", 0, 0, 0)); err != nil {
		t.Fatal(err)
	}
	stale := ipvs.Dest{Addr: rs4b, Port: 80, Method: ipvs.NAT, Weight: 1}
	if err := tw.AddDest(k, stale); err != nil {
		t.Fatal(err)
	}
	want := table(svc(k, "wlc", 0, 0, 0, ipvs.Dest{Addr: rs4a, Port: 80, Method: ipvs.NAT, Weight: 1}))
	res, err := ipvs.NewReconciler(tw).Apply(want)
	w := []string{"edit-service [192.0.2.1]:tcp:80", "del-dest [192.0.2.1]:tcp:80 -> [198.51.100.2]:80 NAT w1", "add-dest [192.0.2.1]:tcp:80 -> [198.51.100.1]:80 NAT w1"}
	if err != nil || !slices.Equal(ops(res), w) || len(res.Foreign) != 0 {
		t.Errorf("ops %q foreign %v err %v; want %q", ops(res), res.Foreign, err, w)
	}
}

// TestReconcileFailureContinues: one failing change is reported and the
// others are still made; the next Apply retries it.
func TestReconcileFailureContinues(t *testing.T) {
	tw := ipvstest.New()
	a := ipvs.ServiceKey{Family: ipvs.IPv4, Protocol: ipvs.TCP, Addr: vip4, Port: 80}
	b := ipvs.ServiceKey{Family: ipvs.IPv4, Protocol: ipvs.TCP, Addr: vip4, Port: 443}
	boom := errors.New("boom")
	tw.FailWith(func(op ipvs.OpKind, k ipvs.ServiceKey) error {
		if k == a {
			return boom
		}
		return nil
	})
	want := table(svc(a, "rr", 0, 0, 0, ipvs.Dest{Addr: rs4a, Port: 80, Weight: 1}), svc(b, "rr", 0, 0, 0, ipvs.Dest{Addr: rs4a, Port: 443, Weight: 1}))
	r := ipvs.NewReconciler(tw)
	res, err := r.Apply(want)
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if w := []string{"add-service [192.0.2.1]:tcp:80: boom", "add-service [192.0.2.1]:tcp:443", "add-dest [192.0.2.1]:tcp:443 -> [198.51.100.1]:443 NAT w1"}; !slices.Equal(ops(res), w) {
		t.Errorf("ops %q, want %q", ops(res), w)
	}
	tw.FailWith(nil)
	res, err = r.Apply(want)
	if w := []string{"add-service [192.0.2.1]:tcp:80", "add-dest [192.0.2.1]:tcp:80 -> [198.51.100.1]:80 NAT w1"}; err != nil || !slices.Equal(ops(res), w) {
		t.Errorf("retry: ops %q err %v, want %q", ops(res), err, w)
	}
}

// TestReconcileRereadsAfterFailure: a service with a failed change is
// forgotten, so the next Apply reads its destinations again before it
// retries, and a service without changes is not read.
func TestReconcileRereadsAfterFailure(t *testing.T) {
	tw := ipvstest.New()
	a := ipvs.ServiceKey{Family: ipvs.IPv4, Protocol: ipvs.TCP, Addr: vip4, Port: 80}
	b := ipvs.ServiceKey{Family: ipvs.IPv4, Protocol: ipvs.TCP, Addr: vip4, Port: 443}
	want := table(svc(a, "rr", 0, 0, 0, ipvs.Dest{Addr: rs4a, Port: 80, Weight: 1}), svc(b, "rr", 0, 0, 0, ipvs.Dest{Addr: rs4a, Port: 443, Weight: 1}))
	r := ipvs.NewReconciler(tw)
	if _, err := r.Apply(want); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	tw.FailWith(func(op ipvs.OpKind, k ipvs.ServiceKey) error {
		if op == ipvs.OpEditDest {
			return boom
		}
		return nil
	})
	want[a].Dests[netip.AddrPortFrom(rs4a, 80)] = ipvs.Dest{Addr: rs4a, Port: 80, Weight: 5}
	if res, err := r.Apply(want); !errors.Is(err, boom) || res.Read != 1 {
		t.Fatalf("failing edit: %d read, err %v; want 1 read and boom", res.Read, err)
	}
	tw.FailWith(nil)
	res, err := r.Apply(want)
	if w := []string{"edit-dest [192.0.2.1]:tcp:80 -> [198.51.100.1]:80 NAT w5"}; err != nil || !slices.Equal(ops(res), w) || res.Read != 1 {
		t.Errorf("retry: ops %q, %d read, err %v; want %q and 1 read", ops(res), res.Read, err, w)
	}
	if res, err := r.Apply(want); err != nil || len(res.Ops) != 0 || res.Read != 0 {
		t.Errorf("after the retry: ops %q, %d read, err %v; want nothing", ops(res), res.Read, err)
	}
}
