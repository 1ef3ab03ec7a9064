package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/vip"
	"github.com/vigil-ha/vigil/vrrp"
)

// VMACs (keepalived's use_vmac): an instance with use_vmac runs on a
// macvlan of its interface carrying the RFC 5798 §7.3 virtual MAC. As in
// keepalived 2.2.7, the macvlan is created (or a matching one adopted) when
// the instance is built and stays up in every state; the master's VIPs go
// on it, its adverts leave from it (from the parent with vmac_xmit_base),
// and GARP / NA carry the virtual MAC. One deleted behind our back is
// created again (when its parent is there). It is removed when vigild stops
// or when a reload drops it, after the VIPs on it are gone.
//
// The sysctls follow keepalived's too (vip.VMAC.Sysctls): settings on the
// VMAC itself go with it; the parent's arp_ignore and arp_filter are
// restored to what was found once the parent's last IPv4 VMAC is gone; and,
// while an IPv4 VMAC exists, a non-zero net.ipv4.conf.all.rp_filter is
// moved onto "default" and every interface and set to 0 (the kernel uses
// the larger of "all" and the interface's value, so the VMAC's rp_filter=0
// would otherwise not count), then put back at the end where nobody
// changed it meanwhile.

// vmacs is the daemon's record of the VMACs it made and the sysctl values
// it replaced, and what makes and removes them. Only the loop touches it
// (and New, before the loop runs).
type vmacs struct {
	links vip.VMACs
	sys   vip.Sysctls
	log   *slog.Logger

	live   map[string]vip.VMAC // by name
	parent map[string]string   // a parent's sysctl path -> the value found before ours
	// rp is the value of all.rp_filter found non-zero and cleared (0 when
	// untouched); rpOld the values it raised, by path.
	rp    int
	rpOld map[string]int
}

// vmacName is the VMAC name ic gets in cfg, or "" without use_vmac:
// the configured name, else "<prefix>.<VRID>", and when another instance
// of cfg has that name, keepalived's next choices ("<prefix>6.<VRID>"
// first for IPv6, then "<prefix>1.<VRID>", "<prefix>2.<VRID>", ...).
func vmacName(cfg *config.Config, ic *config.Instance) string {
	if ic.UseVMAC == nil {
		return ""
	}
	taken := map[string]bool{}
	for _, o := range cfg.Instances {
		if o.UseVMAC != nil && o.UseVMAC.Name != "" && o != ic {
			taken[o.UseVMAC.Name] = true
		}
	}
	if n := ic.UseVMAC.Name; n != "" && !taken[n] {
		return n
	}
	prefix := cfg.Global.VMACPrefix
	if prefix == "" {
		prefix = "vrrp"
	}
	for _, o := range cfg.Instances {
		if o == ic {
			return defaultVMACName(prefix, o, taken)
		}
		if o.UseVMAC != nil && o.UseVMAC.Name == "" {
			taken[defaultVMACName(prefix, o, taken)] = true
		}
	}
	return defaultVMACName(prefix, ic, taken)
}

func defaultVMACName(prefix string, ic *config.Instance, taken map[string]bool) string {
	vrid := strconv.Itoa(ic.VRID)
	name := func(num string) string {
		if over := len(prefix) + len(num) + 1 + len(vrid) - 15; over > 0 {
			return prefix[:len(prefix)-over] + num + "." + vrid
		}
		return prefix + num + "." + vrid
	}
	n := name("")
	for num := 0; taken[n] && num < 256; {
		switch {
		case ic.IPv6 && num == 0:
			num = 6
		case ic.IPv6 && num == 6:
			num = 1
		default:
			num++
			if ic.IPv6 && num == 6 {
				num++
			}
		}
		n = name(strconv.Itoa(num))
	}
	return n
}

// vmacOf describes ic's VMAC in cfg, or nil.
func vmacOf(cfg *config.Config, ic *config.Instance) *vip.VMAC {
	name := vmacName(cfg, ic)
	if name == "" {
		return nil
	}
	return &vip.VMAC{Name: name, Parent: ic.Interface, VRID: ic.VRID, IPv6: ic.IPv6}
}

// xmitIface is the interface inst's adverts use: the VMAC, or its parent
// with vmac_xmit_base (or without use_vmac).
func xmitIface(ic *config.Instance, vmac string) string {
	if vmac == "" || ic.UseVMAC.XmitBase {
		return ic.Interface
	}
	return vmac
}

// vmacName is the name of inst's VMAC, "" without.
func (inst *instance) vmacName() string {
	if inst.vmac != nil {
		return inst.vmac.Name
	}
	return ""
}

// vipIface is where inst's VIPs without a dev of their own go: its VMAC,
// or its interface.
func (inst *instance) vipIface() string {
	if inst.vmac != nil {
		return inst.vmac.Name
	}
	return inst.cfg.Interface
}

// vipDev is the interface a of inst's virtual addresses goes on: as in
// keepalived, one on the instance's interface (named or implied) and of
// the instance's family goes on its VMAC; any other stays where it is.
func (inst *instance) vipDev(a config.Address) string {
	dev := a.Dev
	if dev == "" {
		dev = inst.cfg.Interface
	}
	if inst.vmac != nil && dev == inst.cfg.Interface && a.Prefix.Addr().Is6() == inst.cfg.IPv6 {
		return inst.vmac.Name
	}
	return dev
}

// setupVMAC creates (or adopts) inst's VMAC, if it has one, with its
// sysctls, and makes the virtual MAC the one inst announces. It runs on
// the loop (or in New), before inst's socket opens on the VMAC.
func (d *Daemon) setupVMAC(inst *instance) error {
	v := vmacOf(d.cfg, inst.cfg)
	if v == nil {
		return nil
	}
	if d.host.VMACs == nil {
		return fmt.Errorf("use_vmac: VMACs are not supported here")
	}
	ic := inst.cfg
	if v.IPv6 && !ic.UseVMAC.XmitBase {
		// Adverts leave the VMAC from the configured source, or from a
		// copy of the parent's link-local address (keepalived's choice).
		if ic.McastSrcIP.IsValid() && ic.McastSrcIP.IsLinkLocalUnicast() {
			v.LinkLocal = ic.McastSrcIP
		} else if ll, err := d.host.PrimaryAddr(ic.Interface, true, d.vipAddrs()...); err == nil && ll.IsLinkLocalUnicast() {
			v.LinkLocal = ll
		} else {
			return fmt.Errorf("use_vmac: no IPv6 link-local address on %s to send adverts from", ic.Interface)
		}
	}
	if d.vm.live == nil {
		d.vm.live = map[string]vip.VMAC{}
	}
	_, had := d.vm.live[v.Name]
	if err := d.vm.ensure(*v); err != nil {
		return err
	}
	if !had {
		inst.log.Info(fmt.Sprintf("(%s) VMAC %s on %s", ic.Name, v.Name, v.Parent), "mac", v.MAC().String())
	}
	inst.vmac = v
	inst.mac = v.MAC()
	return nil
}

// ensure creates or adopts v, records it and writes its sysctls.
func (vm *vmacs) ensure(v vip.VMAC) error {
	ctx, cancel := context.WithTimeout(context.Background(), netlinkTimeout)
	defer cancel()
	if _, err := vm.links.EnsureVMAC(ctx, v); err != nil {
		return err
	}
	vm.live[v.Name] = v
	own, parent := v.Sysctls()
	if !v.IPv6 {
		vm.clearRPFilter()
	}
	for _, s := range own {
		vm.writeSysctl(s.Path, s.Value)
	}
	for _, s := range parent {
		if _, saved := vm.parent[s.Path]; saved {
			vm.writeSysctl(s.Path, s.Value)
			continue
		}
		old, err := vm.sys.ReadSysctl(s.Path)
		if err != nil {
			vm.log.Warn("VMAC: sysctl not read", "path", s.Path, "err", err)
			continue
		}
		if vm.parent == nil {
			vm.parent = map[string]string{}
		}
		vm.parent[s.Path] = old
		if old != s.Value {
			vm.writeSysctl(s.Path, s.Value)
		}
	}
	return nil
}

// vmacEvent puts back a VMAC of ours that was deleted behind our back (or
// went with its parent, when the parent comes back), as keepalived does.
// The sockets on it reopen on the new link's own event (ifaceChanged).
func (d *Daemon) vmacEvent(e check.IfaceEvent, now time.Time) {
	if len(d.vm.live) == 0 || e.Kind != check.IfaceRemoved && e.Kind != check.IfaceAdded {
		return
	}
	for _, name := range slices.Sorted(maps.Keys(d.vm.live)) {
		v := d.vm.live[name]
		if e.Kind == check.IfaceRemoved && e.Name != v.Name || e.Kind == check.IfaceAdded && e.Name != v.Parent {
			continue
		}
		if _, err := d.host.Interface(v.Name); err == nil {
			continue // there (the watcher reports every link at start)
		}
		if err := d.vm.ensure(v); err != nil {
			if e.Kind == check.IfaceAdded || !errors.Is(err, vip.ErrNoDevice) { // a parent gone takes its VMACs: wait for it
				d.log.Warn("VMAC could not be created again", "iface", v.Name, "err", err)
			}
			continue
		}
		d.log.Info("VMAC created again", "iface", v.Name, "parent", v.Parent, "after", e.String())
		// The addresses went with the link: a master puts them back on
		// the new one and announces them.
		for _, inst := range d.instances {
			if inst.vmacName() == v.Name && inst.m.State() == vrrp.StateMaster {
				d.addVIPs(inst, nil)
				d.scheduleAnnounce(inst, now)
			}
		}
	}
}

func (vm *vmacs) writeSysctl(path, value string) {
	if err := vm.sys.WriteSysctl(path, value); err != nil {
		vm.log.Warn("VMAC: sysctl not set", "path", path, "value", value, "err", err)
	}
}

func (vm *vmacs) readSysctlInt(path string) (int, bool) {
	s, err := vm.sys.ReadSysctl(path)
	if err != nil {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

const ipv4Conf = "net/ipv4/conf"

// clearRPFilter moves a non-zero all.rp_filter onto "default" and every
// interface (where lower) and sets it to 0, once, as keepalived does for
// its first IPv4 VMAC.
func (vm *vmacs) clearRPFilter() {
	if vm.rp != 0 {
		return
	}
	all, ok := vm.readSysctlInt(ipv4Conf + "/all/rp_filter")
	if !ok || all == 0 {
		return
	}
	vm.rp, vm.rpOld = all, map[string]int{}
	names, err := vm.sys.ListSysctl(ipv4Conf)
	if err != nil {
		vm.log.Warn("VMAC: interfaces' rp_filter not read", "err", err)
	}
	for _, n := range names {
		if n == "all" || !vip.ValidIfName(n) {
			continue
		}
		p := ipv4Conf + "/" + n + "/rp_filter"
		if v, ok := vm.readSysctlInt(p); ok && v < all {
			vm.rpOld[p] = v
			vm.writeSysctl(p, strconv.Itoa(all))
		}
	}
	vm.log.Info(fmt.Sprintf("NOTICE: setting sysctl net.ipv4.conf.all.rp_filter from %d to 0", all))
	vm.writeSysctl(ipv4Conf+"/all/rp_filter", "0")
}

// vmacRestore is what release hands the kernel worker: VMACs to
// delete, then sysctl values to put back, each only while the setting
// still holds ifValue ("" = whatever it holds).
type vmacRestore struct {
	remove []string
	writes []sysctlRestore
}

type sysctlRestore struct{ path, value, ifValue string }

// release removes, through the kernel worker kw (at once when nil) and
// behind the VIP removals queued before, the VMACs no instance of keep
// uses, and puts back the sysctls they no longer need.
func (vm *vmacs) release(kw *kernelWork, keep []*instance) {
	used := map[string]bool{}
	for _, inst := range keep {
		if inst.vmac != nil {
			used[inst.vmac.Name] = true
		}
	}
	var r vmacRestore
	for _, name := range slices.Sorted(maps.Keys(vm.live)) {
		if !used[name] {
			r.remove = append(r.remove, name)
			delete(vm.live, name)
		}
	}
	if len(r.remove) == 0 {
		return
	}
	ipv4 := map[string]bool{} // parents that keep an IPv4 VMAC
	for _, v := range vm.live {
		if !v.IPv6 {
			ipv4[v.Parent] = true
		}
	}
	for _, p := range slices.Sorted(maps.Keys(vm.parent)) {
		parent := strings.Split(p, "/")[3]
		if !ipv4[parent] {
			r.writes = append(r.writes, sysctlRestore{path: p, value: vm.parent[p]})
			delete(vm.parent, p)
		}
	}
	if len(ipv4) == 0 && vm.rp != 0 {
		all := strconv.Itoa(vm.rp)
		vm.log.Info("NOTICE: resetting sysctl net.ipv4.conf.all.rp_filter to " + all)
		r.writes = append(r.writes, sysctlRestore{path: ipv4Conf + "/all/rp_filter", value: all, ifValue: "0"})
		for _, p := range slices.Sorted(maps.Keys(vm.rpOld)) {
			r.writes = append(r.writes, sysctlRestore{path: p, value: strconv.Itoa(vm.rpOld[p]), ifValue: all})
		}
		vm.rp, vm.rpOld = 0, nil
	}
	links, sys, log := vm.links, vm.sys, vm.log
	kw.submit(func(ctx context.Context) func(time.Time) {
		var errs []string
		for _, name := range r.remove {
			if err := links.RemoveVMAC(ctx, name); err != nil {
				errs = append(errs, err.Error())
			}
		}
		for _, w := range r.writes {
			if w.ifValue != "" {
				if cur, err := sys.ReadSysctl(w.path); err != nil || cur != w.ifValue {
					continue
				}
			}
			if err := sys.WriteSysctl(w.path, w.value); err != nil {
				errs = append(errs, fmt.Sprintf("sysctl %s: %v", w.path, err))
			}
		}
		return func(time.Time) {
			for _, name := range r.remove {
				log.Info("VMAC removed", "iface", name)
			}
			for _, e := range errs {
				log.Warn("VMAC: cleanup failed", "err", e)
			}
		}
	})
}
