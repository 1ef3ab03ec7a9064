package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/vip"
	"github.com/vigil-ha/vigil/vip/viptest"
	"github.com/vigil-ha/vigil/vrrp"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

const vmacConf = `
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 1
    version 3
    use_vmac
    virtual_ipaddress {
        192.0.2.254/24
        198.51.100.1/32 dev eth1
    }
}
vrrp_instance VI_6 {
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 1
    use_vmac
    virtual_ipaddress {
        2001:db8:1::254/64
    }
}
`

// vmacSysctls is a host's /proc/sys before vigild: all.rp_filter=1 (a
// common distribution default), eth0 and default lower, the VMACs' entries
// as the kernel would make them.
func vmacSysctls() *viptest.Sysctls {
	s := map[string]string{
		"net/ipv4/conf/all/rp_filter":     "1",
		"net/ipv4/conf/default/rp_filter": "0",
		"net/ipv4/conf/eth0/rp_filter":    "0",
		"net/ipv4/conf/eth0/arp_ignore":   "0",
		"net/ipv4/conf/eth0/arp_filter":   "0",
		"net/ipv4/conf/eth1/rp_filter":    "2",
	}
	for _, n := range []string{"vrrp.51", "vrrp6.51", "vrrp.52"} {
		for _, k := range []string{"arp_ignore", "accept_local", "rp_filter", "promote_secondaries"} {
			s["net/ipv4/conf/"+n+"/"+k] = "0"
		}
		s["net/ipv6/conf/"+n+"/disable_ipv6"] = "0"
	}
	return viptest.NewSysctls(s)
}

func vmacOpts(sys *viptest.Sysctls) Options {
	return Options{Host: Host{
		Sysctls: sys,
		PrimaryAddr: func(ifname string, ipv6 bool, _ ...netip.Addr) (netip.Addr, error) {
			if ifname != "eth0" {
				return netip.Addr{}, fmt.Errorf("no address on %s", ifname)
			}
			if ipv6 {
				return netip.MustParseAddr("fe80::1"), nil
			}
			return netip.MustParseAddr("192.0.2.1"), nil
		},
	}}
}

func wantSysctls(t *testing.T, sys *viptest.Sysctls, want map[string]string) {
	t.Helper()
	for p, v := range want {
		if got, _ := sys.Get(p); got != v {
			t.Errorf("sysctl %s = %q, want %q", p, got, v)
		}
	}
}

// TestLoopVMAC: instances with use_vmac get keepalived's VMACs (vrrp.51
// for IPv4, vrrp6.51 for the IPv6 instance of the same VRID, with a copy of
// eth0's link-local address) before their sockets open on them; the master's
// VIPs go on the VMAC (one with its own dev stays there) and GARP / NA
// leave it with the virtual MAC; keepalived's sysctls are set, and at stop
// the VMACs go and every sysctl holds what it held before.
func TestLoopVMAC(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		sys := vmacSysctls()
		kernel := viptest.NewKernel("eth0", "eth1")
		a := newNode(t, wire, kernel, "192.0.2.1", "fe80::1", vmacConf, vmacOpts(sys))
		vm := kernel.VMACs()
		want4 := vip.VMAC{Name: "vrrp.51", Parent: "eth0", VRID: 51}
		want6 := vip.VMAC{Name: "vrrp6.51", Parent: "eth0", VRID: 51, IPv6: true, LinkLocal: netip.MustParseAddr("fe80::1")}
		if len(vm) != 2 || vm["vrrp.51"] != want4 || vm["vrrp6.51"] != want6 {
			t.Fatalf("VMACs at New = %+v, want %+v and %+v", vm, want4, want6)
		}
		if !slices.Equal(a.listen, []string{"vrrp.51", "vrrp6.51"}) {
			t.Errorf("sockets opened on %v, want the VMACs", a.listen)
		}
		wantSysctls(t, sys, map[string]string{
			"net/ipv4/conf/vrrp.51/arp_ignore":          "1",
			"net/ipv4/conf/vrrp.51/accept_local":        "1",
			"net/ipv4/conf/vrrp.51/rp_filter":           "0",
			"net/ipv4/conf/vrrp.51/promote_secondaries": "1",
			"net/ipv6/conf/vrrp.51/disable_ipv6":        "1",
			"net/ipv6/conf/vrrp6.51/disable_ipv6":       "0",
			"net/ipv4/conf/vrrp6.51/arp_ignore":         "1", // but not accept_local: IPv4 adverts do not come here
			"net/ipv4/conf/vrrp6.51/accept_local":       "0",
			"net/ipv4/conf/eth0/arp_ignore":             "1",
			"net/ipv4/conf/eth0/arp_filter":             "1",
			"net/ipv4/conf/all/rp_filter":               "0",
			"net/ipv4/conf/default/rp_filter":           "1", // raised to all's value
			"net/ipv4/conf/eth0/rp_filter":              "1",
			"net/ipv4/conf/eth1/rp_filter":              "2", // higher already
		})

		a.start(t)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if a.state("VI_1") != "MASTER" || a.state("VI_6") != "MASTER" {
			t.Fatalf("states %s %s", a.state("VI_1"), a.state("VI_6"))
		}
		got := kernel.Addresses()
		for _, w := range []vip.Address{
			{Prefix: netip.MustParsePrefix("192.0.2.254/24"), Dev: "vrrp.51"},
			{Prefix: netip.MustParsePrefix("198.51.100.1/32"), Dev: "eth1"},
			{Prefix: netip.MustParsePrefix("2001:db8:1::254/64"), Dev: "vrrp6.51"},
		} {
			if !slices.ContainsFunc(got, func(a vip.Address) bool { return a.Prefix == w.Prefix && a.Dev == w.Dev }) {
				t.Errorf("VIP %s not on %s: %+v", w.Prefix, w.Dev, got)
			}
		}
		sent := a.d.host.Announcer.(*viptest.Announcements).Sent()
		var on4, on6 int
		for _, s := range sent {
			switch {
			case s.Iface == "vrrp.51" && s.MAC.String() == "00:00:5e:00:01:33" && slices.Equal(s.Addrs, []netip.Addr{netip.MustParseAddr("192.0.2.254")}):
				on4++
			case s.Iface == "vrrp6.51" && s.MAC.String() == "00:00:5e:00:02:33" && slices.Equal(s.Addrs, []netip.Addr{netip.MustParseAddr("2001:db8:1::254")}):
				on6++
			case s.Iface == "eth1" && s.MAC == nil && slices.Equal(s.Addrs, []netip.Addr{netip.MustParseAddr("198.51.100.1")}):
				// The VIP on another device: announced there with that
				// device's own MAC, which the Announcer looks up (nil here).
			default:
				t.Errorf("announcement %+v is not from a VMAC with its virtual MAC", s)
			}
		}
		if on4 == 0 || on6 == 0 {
			t.Errorf("announcements from the VMACs: IPv4 %d, IPv6 %d", on4, on6)
		}

		a.stop()
		if vm := kernel.VMACs(); len(vm) != 0 {
			t.Errorf("VMACs after stop: %+v", vm)
		}
		if got := kernel.Addresses(); len(got) != 0 {
			t.Errorf("addresses after stop: %+v", got)
		}
		wantSysctls(t, sys, map[string]string{
			"net/ipv4/conf/eth0/arp_ignore":   "0",
			"net/ipv4/conf/eth0/arp_filter":   "0",
			"net/ipv4/conf/all/rp_filter":     "1",
			"net/ipv4/conf/default/rp_filter": "0",
			"net/ipv4/conf/eth0/rp_filter":    "0",
			"net/ipv4/conf/eth1/rp_filter":    "2",
		})
	})
}

// TestLoopVMACReload: a reload keeps the VMAC of an instance that keeps
// use_vmac (untouched: no new VMAC, its VIP stays), removes the VMAC of one
// that drops it (its VIP moves to eth0), and a reload dropping the last
// VMAC restores eth0's sysctls. A reload that fails to load changes nothing.
func TestLoopVMACReload(t *testing.T) {
	two := vmacConf[:strings.Index(vmacConf, "vrrp_instance VI_6")] + `
vrrp_instance VI_2 {
    interface eth0
    virtual_router_id 52
    priority 150
    advert_int 1
    use_vmac
    virtual_ipaddress {
        192.0.2.253/24
    }
}
`
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		sys := vmacSysctls()
		kernel := viptest.NewKernel("eth0", "eth1")
		src := &reloadable{files: map[string]string{confPath: two}}
		opts := vmacOpts(sys)
		opts.Reload = src.load
		a := newNode(t, wire, kernel, "192.0.2.1", "fe80::1", two, opts)
		a.start(t)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if vm := kernel.VMACs(); len(vm) != 2 || vm["vrrp.52"].VRID != 52 {
			t.Fatalf("VMACs = %+v", vm)
		}
		if !a.has("192.0.2.253/24") {
			t.Fatal("VI_2 is not master with its VIP")
		}

		src.set(confPath, "garbage {\n")
		if err := a.d.Reload(context.Background()); err == nil {
			t.Fatal("a broken configuration was applied")
		}
		if len(kernel.VMACs()) != 2 {
			t.Fatalf("a refused reload changed the VMACs: %+v", kernel.VMACs())
		}

		dropped := strings.Replace(two, "    use_vmac\n    virtual_ipaddress {\n        192.0.2.253/24", "    virtual_ipaddress {\n        192.0.2.253/24", 1)
		src.set(confPath, dropped)
		changes := kernel.Changes()
		if err := a.d.Reload(context.Background()); err != nil {
			t.Fatalf("reload: %v", err)
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		vm := kernel.VMACs()
		if _, ok := vm["vrrp.52"]; ok || len(vm) != 1 || vm["vrrp.51"].VRID != 51 {
			t.Fatalf("VMACs after dropping VI_2's use_vmac = %+v", vm)
		}
		addrs := kernel.Addresses()
		if !slices.ContainsFunc(addrs, func(x vip.Address) bool { return x.Prefix.String() == "192.0.2.253/24" && x.Dev == "eth0" }) ||
			!slices.ContainsFunc(addrs, func(x vip.Address) bool { return x.Prefix.String() == "192.0.2.254/24" && x.Dev == "vrrp.51" }) {
			t.Fatalf("addresses after reload: %+v", addrs)
		}
		if kernel.Changes() == changes {
			t.Fatal("the reload changed nothing")
		}
		wantSysctls(t, sys, map[string]string{"net/ipv4/conf/eth0/arp_ignore": "1", "net/ipv4/conf/all/rp_filter": "0"})

		none := strings.Replace(dropped, "    use_vmac\n", "", 1)
		src.set(confPath, none)
		if err := a.d.Reload(context.Background()); err != nil {
			t.Fatalf("reload: %v", err)
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if vm := kernel.VMACs(); len(vm) != 0 {
			t.Fatalf("VMACs after dropping every use_vmac: %+v", vm)
		}
		if !a.has("192.0.2.254/24") || a.state("VI_1") != "MASTER" {
			t.Fatalf("VI_1 %s without its VIP on eth0: %+v", a.state("VI_1"), kernel.Addresses())
		}
		wantSysctls(t, sys, map[string]string{
			"net/ipv4/conf/eth0/arp_ignore": "0", "net/ipv4/conf/eth0/arp_filter": "0",
			"net/ipv4/conf/all/rp_filter": "1", "net/ipv4/conf/eth0/rp_filter": "0",
		})
	})
}

// TestVMACNames: keepalived's names, for both families and a prefix.
func TestVMACNames(t *testing.T) {
	cfg := loadConf(t, `global_defs {
    vmac_prefix averyverylongp
}
vrrp_instance A {
    interface eth0
    virtual_router_id 7
    use_vmac
    virtual_ipaddress {
        192.0.2.1
    }
}
vrrp_instance B {
    interface eth0
    virtual_router_id 7
    use_vmac
    virtual_ipaddress {
        2001:db8::1
    }
}
vrrp_instance C {
    interface eth1
    virtual_router_id 7
    use_vmac
    virtual_ipaddress {
        198.51.100.1
    }
}
vrrp_instance D {
    interface eth1
    virtual_router_id 8
    use_vmac mine
    virtual_ipaddress {
        198.51.100.2
    }
}
vrrp_instance E {
    interface eth1
    virtual_router_id 9
    virtual_ipaddress {
        198.51.100.3
    }
}
`)
	// keepalived cuts the prefix so that the name fits in 15 bytes.
	want := map[string]string{"A": "averyverylong.7", "B": "averyverylon6.7", "C": "averyverylon1.7", "D": "mine", "E": ""}
	for _, ic := range cfg.Instances {
		w := want[ic.Name]
		if got := vmacName(cfg, ic); got != w || len(got) > 15 {
			t.Errorf("%s: VMAC name %q, want %q", ic.Name, got, w)
		}
	}
}

// TestVMACFailsCleanly: a VMAC name held by another kind of interface makes
// New fail, and the VMACs it made before are removed again.
func TestVMACFailsCleanly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		kernel := viptest.NewKernel("eth0", "eth1", "vrrp6.51")
		sys := vmacSysctls()
		opts := vmacOpts(sys)
		opts.Host.VIPs = kernel
		opts.Host.Announcer = viptest.NewAnnouncements(kernel)
		opts.Host.GoTimer = true
		opts.Host.InterfaceEvents = make(chan check.IfaceEvent) // no netlink watcher
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		opts.Host.Listen = func(_ string, ipv6 bool, _ vrrp.ConnOptions) (vrrp.Conn, error) {
			if ipv6 {
				return wire.Conn(netip.MustParseAddr("fe80::1")), nil
			}
			return wire.Conn(netip.MustParseAddr("192.0.2.1")), nil
		}
		opts.Host.Interface = func(name string) (*net.Interface, error) {
			return &net.Interface{Index: 1, Name: name, Flags: net.FlagUp}, nil
		}
		_, err := New(loadConf(t, vmacConf), opts)
		if !errors.Is(err, vip.ErrConflict) {
			t.Fatalf("New = %v, want ErrConflict", err)
		}
		if vm := kernel.VMACs(); len(vm) != 0 {
			t.Errorf("VMACs left by a failed New: %+v", vm)
		}
		wantSysctls(t, sys, map[string]string{"net/ipv4/conf/eth0/arp_ignore": "0", "net/ipv4/conf/all/rp_filter": "1"})
	})
}

// TestLoopVMACXmitBase: with vmac_xmit_base the adverts use eth0's
// socket while the VIPs and GARP still go on the VMAC, and an IPv6 VMAC
// gets no link-local address of its own.
func TestLoopVMACXmitBase(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		kernel := viptest.NewKernel("eth0", "eth1")
		text := strings.ReplaceAll(vmacConf, "    use_vmac\n", "    use_vmac\n    vmac_xmit_base\n    garp_master_refresh 1\n")
		a := newNode(t, wire, kernel, "192.0.2.1", "fe80::1", text, vmacOpts(vmacSysctls()))
		if !slices.Equal(a.listen, []string{"eth0", "eth0"}) {
			t.Errorf("sockets opened on %v, want eth0 for both families", a.listen)
		}
		if v6 := kernel.VMACs()["vrrp6.51"]; v6.Name == "" || v6.LinkLocal.IsValid() {
			t.Errorf("IPv6 VMAC with vmac_xmit_base: %+v, want one without a link-local address", v6)
		}
		a.start(t)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if !slices.ContainsFunc(kernel.Addresses(), func(x vip.Address) bool { return x.Prefix.String() == "192.0.2.254/24" && x.Dev == "vrrp.51" }) {
			t.Errorf("VIP not on the VMAC: %+v", kernel.Addresses())
		}
		// eth0 comes back with a new index: its sockets reopen, and the
		// refresh rounds after that still carry the virtual MACs.
		a.ifev <- check.IfaceEvent{Kind: check.IfaceAdded, Name: "eth0", Index: 2, Up: true}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if st := a.d.Status(); st.Instances[0].State != "MASTER" {
			t.Fatalf("state %s", st.Instances[0].State)
		}
		reopened := false
		for _, in := range a.d.Status().Sockets {
			reopened = reopened || in.Reopens > 0
		}
		if !reopened {
			t.Fatal("no socket reopened")
		}
		sent := a.d.host.Announcer.(*viptest.Announcements).Sent()
		if len(sent) < 8 {
			t.Fatalf("%d announcements, want the takeover's and the refreshes", len(sent))
		}
		for _, s := range sent {
			if s.Iface == "eth1" && s.MAC == nil {
				continue // the VIP on another device, with that device's MAC
			}
			if s.Iface != "vrrp.51" && s.Iface != "vrrp6.51" || s.MAC[0] != 0 || s.MAC[2] != 0x5e {
				t.Errorf("announcement on %s with %s", s.Iface, s.MAC)
			}
		}
	})
}

// TestLoopVMACDeleted: a VMAC deleted behind the daemon's back is created
// again, and its master's VIP is put back on it; a VMAC whose parent is
// gone waits for the parent.
func TestLoopVMACDeleted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		kernel := viptest.NewKernel("eth0", "eth1")
		a := newNode(t, wire, kernel, "192.0.2.1", "fe80::1", vmacConf, vmacOpts(vmacSysctls()))
		iface := a.d.host.Interface
		a.d.host.Interface = func(name string) (*net.Interface, error) {
			if !kernel.HasLink(name) {
				return nil, fmt.Errorf("%s: %w", name, vip.ErrNoDevice)
			}
			return iface(name)
		}
		a.start(t)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		onVMAC := func() bool {
			return slices.ContainsFunc(kernel.Addresses(), func(x vip.Address) bool { return x.Prefix.String() == "192.0.2.254/24" && x.Dev == "vrrp.51" })
		}
		if !onVMAC() {
			t.Fatalf("no VIP on vrrp.51: %+v", kernel.Addresses())
		}

		kernel.DelLink("vrrp.51")
		a.ifev <- check.IfaceEvent{Kind: check.IfaceRemoved, Name: "vrrp.51", Index: 9}
		time.Sleep(time.Second)
		synctest.Wait()
		if _, ok := kernel.VMACs()["vrrp.51"]; !ok || !onVMAC() || a.state("VI_1") != "MASTER" {
			t.Fatalf("after vrrp.51 was deleted: VMACs %v, addresses %+v, %s", kernel.VMACs(), kernel.Addresses(), a.state("VI_1"))
		}

		// The parent goes (and its VMACs with it): nothing to do until it
		// is back.
		kernel.DelLink("vrrp.51")
		kernel.DelLink("vrrp6.51")
		kernel.DelLink("eth0")
		a.ifev <- check.IfaceEvent{Kind: check.IfaceRemoved, Name: "vrrp.51", Index: 10}
		time.Sleep(time.Second)
		synctest.Wait()
		if len(kernel.VMACs()) != 0 {
			t.Fatalf("VMACs without their parent: %v", kernel.VMACs())
		}
		kernel.AddLink("eth0")
		a.ifev <- check.IfaceEvent{Kind: check.IfaceAdded, Name: "eth0", Index: 11, Up: true}
		time.Sleep(time.Second)
		synctest.Wait()
		if vm := kernel.VMACs(); len(vm) != 2 {
			t.Fatalf("VMACs once eth0 is back: %v", vm)
		}
	})
}

// TestLoopVMACGARPExtraIf: garp_extra_if without all, on a VMAC whose
// adverts leave from the parent (vmac_xmit_base), sends one GARP / NA on
// the VMAC with the virtual MAC every interval while MASTER and none on
// the other interface of its VIPs; with all it sends on that one as well,
// with its own MAC.
func TestLoopVMACGARPExtraIf(t *testing.T) {
	for _, tc := range []struct {
		kw     string
		onEth1 bool
	}{
		{"garp_extra_if 30", false},
		{"garp_extra_if all 30", true},
	} {
		t.Run(tc.kw, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				wire := vrrptest.NewWire(vrrptest.WireOptions{})
				kernel := viptest.NewKernel("eth0", "eth1")
				text := strings.ReplaceAll(vmacConf, "    use_vmac\n", "    use_vmac\n    vmac_xmit_base\n    "+tc.kw+"\n")
				a := newNode(t, wire, kernel, "192.0.2.1", "fe80::1", text, vmacOpts(vmacSysctls()))
				a.start(t)
				// Single addresses: the master's own rounds carry every
				// VIP of a device, so on eth1 they are told apart by
				// the round, on the VMAC by the count below.
				single := func(iface string) []viptest.Announcement {
					var out []viptest.Announcement
					for _, s := range a.d.host.Announcer.(*viptest.Announcements).Sent() {
						if s.Iface == iface && len(s.Addrs) == 1 {
							out = append(out, s)
						}
					}
					return out
				}
				time.Sleep(20 * time.Second) // MASTER and past the second GARP set
				synctest.Wait()
				if st := a.d.Status(); st.Instances[0].State != "MASTER" {
					t.Fatalf("state %s", st.Instances[0].State)
				}
				vmac0, eth10 := len(single("vrrp.51")), len(single("eth1"))
				time.Sleep(30 * time.Second)
				synctest.Wait()
				got := single("vrrp.51")[vmac0:]
				if len(got) != 1 || !slices.Equal(got[0].Addrs, []netip.Addr{netip.MustParseAddr("192.0.2.254")}) || got[0].MAC.String() != "00:00:5e:00:01:33" {
					t.Errorf("on the VMAC in one interval: %+v, want one GARP for 192.0.2.254 from 00:00:5e:00:01:33", got)
				}
				want := 0
				if tc.onEth1 {
					want = 1
				}
				if got := single("eth1")[eth10:]; len(got) != want || want == 1 && got[0].MAC != nil {
					t.Errorf("on eth1 in one interval: %+v, want %d with eth1's own MAC", got, want)
				}
			})
		})
	}
}

// TestLoopVMACSourceFollowsParent: an IPv4 VMAC has no address of its own,
// so its adverts come from the parent's primary address; when that changes
// (an address event on the parent), the VMAC's socket is reopened with the
// new one, and the parent's own events never touch its index check.
func TestLoopVMACSourceFollowsParent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		kernel := viptest.NewKernel("eth0", "eth1")
		opts := vmacOpts(vmacSysctls())
		primary := netip.MustParseAddr("192.0.2.1")
		var asked []string
		opts.Host.PrimaryAddr = func(ifname string, ipv6 bool, _ ...netip.Addr) (netip.Addr, error) {
			asked = append(asked, ifname)
			if ifname != "eth0" {
				return netip.Addr{}, fmt.Errorf("no address on %s", ifname)
			}
			if ipv6 {
				return netip.MustParseAddr("fe80::1"), nil
			}
			return primary, nil
		}
		a := newNode(t, wire, kernel, "192.0.2.1", "fe80::1", vmacConf, opts)
		a.start(t)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if a.state("VI_1") != "MASTER" || len(a.listen) != 2 {
			t.Fatalf("set-up: %s, sockets on %v", a.state("VI_1"), a.listen)
		}
		asked = nil
		a.ifev <- check.IfaceEvent{Kind: check.AddrAdded, Index: 1, Name: "eth0", Up: true, Addr: netip.MustParsePrefix("192.0.2.40/24")}
		synctest.Wait()
		if !slices.Equal(asked, []string{"eth0"}) || len(a.listen) != 2 {
			t.Errorf("another address on eth0, the primary unchanged: asked %v, sockets on %v; want eth0 asked once, no reopen", asked, a.listen)
		}
		primary = netip.MustParseAddr("192.0.2.41")
		a.ifev <- check.IfaceEvent{Kind: check.AddrAdded, Index: 1, Name: "eth0", Up: true, Addr: netip.MustParsePrefix("192.0.2.41/24")}
		synctest.Wait()
		if !slices.Equal(a.listen, []string{"vrrp.51", "vrrp6.51", "vrrp.51"}) {
			t.Errorf("eth0's primary address changed: sockets opened on %v, want vrrp.51 again", a.listen)
		}
	})
}
