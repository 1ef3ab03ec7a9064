package config

import (
	"net/netip"
	"strings"
	"time"

	"github.com/vigil-ha/vigil/vrrp"
)

// RFC 5798 and keepalived constants used by resolution.
const (
	// RFC 5798 §5.2.7: Max Advertise Interval is 12 bits of centiseconds.
	maxAdvertV3 = vrrp.MaxAdvertIntervalV3
	// RFC 3768 §5.3.7: Adver Int is 8 bits of seconds.
	maxAdvertV2 = vrrp.MaxAdvertIntervalV2
	// The Count IPvX Addr field is 8 bits (RFC 5798 §5.2.5).
	maxVIPs = 255
	// keepalived's DEFAULT_MTU, for an interface it cannot see.
	defaultMTU = 1500
)

// vipLimit is how many VIPs fit one advert on mtu, as keepalived computes
// it: the Ethernet, IP and VRRP headers, RFC 3768's 8 bytes of
// authentication data for version 2 (and keepalived's 24-byte AH header
// when auth_type AH is set, although vigil sends none), then 4 or 16 bytes
// per address, at most 255.
func vipLimit(mtu int, ipv6 bool, version int, ah bool) int {
	const ether, ip4, ip6, vrrpHdr, authData, ahHdr = 14, 20, 40, 8, 8, 24
	n := 0
	if ipv6 {
		n = (mtu - ether - ip6 - vrrpHdr) / 16
	} else {
		hdr := ether + ip4 + vrrpHdr
		if version == 2 {
			hdr += authData
			if ah {
				hdr += ahHdr
			}
		}
		n = (mtu - hdr) / 4
	}
	return max(min(n, maxVIPs), 0)
}

var (
	defaultMcast4 = vrrp.DefaultGroup(false)
	defaultMcast6 = vrrp.DefaultGroup(true)
)

func newConfig() *Config {
	return &Config{
		Global: Global{
			VRRPVersion:             2,
			GARPMasterDelay:         5 * time.Second,
			GARPMasterRepeat:        5,
			GARPMasterRefreshRepeat: 1,
			McastGroup4:             defaultMcast4,
			McastGroup6:             defaultMcast6,
			DownTimerAdverts:        3,
			NFTablesPriority:        -1,
			SMTPConnectTimeout:      30 * time.Second,
			set:                     map[string]Pos{},
		},
		Scripts:             map[string]*Script{},
		TrackFiles:          map[string]*TrackFile{},
		TrackProcesses:      map[string]*TrackProcess{},
		VirtualServerGroups: map[string]*VirtualServerGroup{},
	}
}

// resolve applies keepalived's defaults, inheritance and validation.
func (p *parser) resolve() {
	c := p.cfg
	g := &c.Global
	if _, ok := g.set["vrrp_garp_lower_prio_delay"]; !ok {
		g.GARPLowerPrioDelay = g.GARPMasterDelay
	}
	if _, ok := g.set["vrrp_garp_lower_prio_repeat"]; !ok {
		g.GARPLowerPrioRepeat = g.GARPMasterRepeat
	}
	p.resolveMail()

	// vrrp_script without script, or with a bad user, is removed.
	for _, name := range p.scriptOrder {
		s := c.Scripts[name]
		if s == nil {
			continue
		}
		if s.Cmd == nil {
			p.warn(s.Pos, "vrrp_script", "script removed", "no script set for vrrp_script %s", s.Name)
			delete(c.Scripts, name)
			continue
		}
		if s.badUser {
			delete(c.Scripts, name)
			continue
		}
		if s.Timeout == 0 {
			s.Timeout = s.Interval
		}
		s.Cmd.User, s.Cmd.Group = s.User, s.Group
	}
	for name, f := range c.TrackFiles {
		if f.File == "" {
			p.warn(f.Pos, "track_file", "track_file removed", "no file set for track_file %s", name)
			delete(c.TrackFiles, name)
		}
	}
	for name, tp := range c.TrackProcesses {
		if tp.Process == "" {
			p.warn(tp.Pos, "vrrp_track_process", "track process removed", "process name not specified for %s", name)
			delete(c.TrackProcesses, name)
		}
	}

	// Minimal instance configuration: keepalived refuses to start the VRRP
	// process without it, so these are fatal.
	var keep []*Instance
	for _, x := range c.Instances {
		x.TrackInterfaces, x.TrackScripts, x.TrackFiles, x.TrackProcesses = x.track[0], x.track[1], x.track[2], x.track[3]
		if x.VRID == 0 {
			p.fatal(x.Pos, "virtual_router_id", "vigild does not start", "(%s) the virtual router id must be set", x.Name)
			continue
		}
		if x.Interface == "" && len(x.UnicastPeers) == 0 {
			if g.DefaultInterface != "" {
				x.Interface = g.DefaultInterface
			} else {
				p.fatal(x.Pos, "interface", "vigild does not start", "(%s) no interface and no unicast peers", x.Name)
				continue
			}
		}
		keep = append(keep, x)
	}
	c.Instances = keep

	byName := map[string]*Instance{}
	for _, x := range c.Instances {
		byName[x.Name] = x
	}

	// Sync groups.
	var groups []*SyncGroup
	for _, sg := range c.SyncGroups {
		sg.TrackInterfaces, sg.TrackScripts, sg.TrackFiles, sg.TrackProcesses = sg.track[0], sg.track[1], sg.track[2], sg.track[3]
		if len(sg.Members) == 0 {
			p.warn(sg.Pos, "vrrp_sync_group", "sync group removed", "sync group %s has no virtual router(s)", sg.Name)
			continue
		}
		var members []string
		for i, m := range sg.Members {
			x := byName[m]
			pos := sg.Pos
			if i < len(sg.memberPos) {
				pos = sg.memberPos[i]
			}
			if x == nil {
				p.warn(pos, "group", "ignored", "virtual router %s specified in sync group %s does not exist", m, sg.Name)
				continue
			}
			if x.SyncGroup != "" && x.SyncGroup != sg.Name {
				p.warn(pos, "group", "ignored", "virtual router %s cannot be in more than one sync group (already in %s)", m, x.SyncGroup)
				continue
			}
			x.SyncGroup = sg.Name
			members = append(members, m)
		}
		sg.Members = members
		sg.memberPos = nil
		if len(members) == 0 {
			p.warn(sg.Pos, "vrrp_sync_group", "sync group removed", "sync group %s has no matching virtual router", sg.Name)
			continue
		}
		if len(members) == 1 {
			p.warn(sg.Pos, "vrrp_sync_group", "kept", "sync group %s has only 1 virtual router", sg.Name)
		}
		sg.TrackScripts = p.resolveTracks(sg.TrackScripts, "track_script", "sync group "+sg.Name)
		sg.TrackFiles = p.resolveTracks(sg.TrackFiles, "track_file", "sync group "+sg.Name)
		sg.TrackProcesses = p.resolveTracks(sg.TrackProcesses, "track_process", "sync group "+sg.Name)
		sg.TrackInterfaces = p.resolveTracks(sg.TrackInterfaces, "track_interface", "sync group "+sg.Name)
		groups = append(groups, sg)
	}
	c.SyncGroups = groups

	keep = keep[:0]
	for _, x := range c.Instances {
		if p.resolveInstance(x) {
			keep = append(keep, x)
		}
	}
	c.Instances = keep
	p.checkVRIDs()
	p.resolveIfaceDelays(c)
	p.resolveLVS()
	p.resolveConntrack()
}

// trackerWeight returns the weight of the vrrp_script, vrrp_track_file or
// vrrp_track_process that a track_KIND reference names, if it exists.
func (c *Config) trackerWeight(kind, name string) (weight int, reverse, ok bool) {
	switch kind {
	case "track_script":
		if s := c.Scripts[name]; s != nil {
			return s.Weight, s.Reverse, true
		}
	case "track_file":
		if f := c.TrackFiles[name]; f != nil {
			return f.Weight, f.Reverse, true
		}
	case "track_process":
		if tp := c.TrackProcesses[name]; tp != nil {
			return tp.Weight, tp.Reverse, true
		}
	}
	return 0, false, false
}

// resolveTracks drops references to unknown trackers.
func (p *parser) resolveTracks(refs []TrackRef, kind, owner string) []TrackRef {
	var out []TrackRef
	seen := map[string]bool{}
	for _, r := range refs {
		if seen[r.Name] {
			p.warn(r.Pos, kind, "ignored", "(%s) duplicate %s %s", owner, kind, r.Name)
			continue
		}
		switch kind {
		case "track_script", "track_file", "track_process":
			weight, reverse, ok := p.cfg.trackerWeight(kind, r.Name)
			if !ok {
				p.warn(r.Pos, kind, "ignored", "(%s) %s %s not found", owner, strings.ReplaceAll(kind, "_", " "), r.Name)
				continue
			}
			if !r.HasWeight {
				r.Weight, r.Reverse = weight, reverse
			}
		case "track_interface":
			if r.Name == "lo" {
				p.warn(r.Pos, kind, "ignored", "(%s) cannot track the loopback interface", owner)
				continue
			}
			if p.opts.InterfaceExists != nil && !p.opts.InterfaceExists(r.Name) && !p.ifaceMissing(r.Pos, kind, r.Name, func() {
				p.warn(r.Pos, kind, "ignored", "(%s) tracked interface %s does not exist", owner, r.Name)
			}) {
				continue
			}
		}
		seen[r.Name] = true
		out = append(out, r)
	}
	return out
}

// resolveInstance applies keepalived's vrrp_complete_instance; false means
// the instance cannot run (and vigild does not start).
func (p *parser) resolveInstance(x *Instance) bool {
	g := &p.cfg.Global
	owner := "(" + x.Name + ")"
	if !x.isSet("strict_mode") {
		x.Strict = g.Strict
	}

	// Family from the VIPs; mismatched VIPs are dropped.
	nativeV6 := x.IPv6
	var vips []Address
	famSet := false
	for _, a := range x.VIPs {
		v6 := a.Prefix.Addr().Is6()
		if !famSet {
			if nativeV6 && !v6 {
				p.warn(a.Pos, "native_ipv6", "address ignored", "%s cannot use IPv4 address %s with native_ipv6", owner, a.Prefix)
				continue
			}
			x.IPv6, famSet = v6, true
		} else if v6 != x.IPv6 {
			p.warn(a.Pos, "virtual_ipaddress", "address ignored", "%s address family of %s must match the instance", owner, a.Prefix)
			continue
		}
		vips = append(vips, a)
	}
	x.VIPs = vips

	if x.IPv6 {
		if x.Version == 2 {
			p.warn(x.setPos("version"), "version", "using version 3", "%s VRRP version 2 does not support IPv6", owner)
		}
		x.Version = 3
	} else if x.Version == 0 {
		x.Version = g.VRRPVersion
	}

	if len(x.VIPs) == 0 {
		if x.Version == 3 || x.Strict {
			p.fatal(x.Pos, "virtual_ipaddress", "vigild does not start", "%s no VIP specified; at least one is required", owner)
			return false
		}
		p.warn(x.Pos, "virtual_ipaddress", "running without VIPs", "%s no VIP specified; at least one is sensible", owner)
	}

	// Priority and state derive from each other.
	if x.Priority == 0 {
		if x.WantMaster {
			x.Priority = vrrp.PriorityOwner
		} else {
			x.Priority = 100
		}
	}
	if !x.stateSet {
		x.WantMaster = x.Priority == vrrp.PriorityOwner
	} else if x.Strict && x.WantMaster != (x.Priority == vrrp.PriorityOwner) {
		p.warn(x.setPos("state"), "state", "state follows priority", "%s state MASTER must match being address owner (priority 255) in strict mode", owner)
		x.WantMaster = x.Priority == vrrp.PriorityOwner
	}

	// Authentication (VRRPv2 only).
	if x.Auth != nil {
		ap := x.setPos("authentication")
		switch {
		case x.Auth.Type == "":
			x.Auth = nil
		case x.Strict:
			p.warn(ap, "authentication", "no authentication", "%s strict mode does not support authentication", owner)
			x.Auth = nil
		case x.Version == 3:
			p.warn(ap, "authentication", "no authentication", "%s VRRP version 3 does not support authentication", owner)
			x.Auth = nil
		case x.Auth.Pass == "":
			p.warn(ap, "authentication", "no authentication", "%s authentication specified but no password given", owner)
			x.Auth = nil
		case x.IPv6 && x.Auth.Type == "AH":
			p.warn(ap, "auth_type", "no authentication", "%s cannot use AH authentication with IPv6", owner)
			x.Auth = nil
		case x.Auth.Type == "AH" && x.WantMaster && x.Priority != vrrp.PriorityOwner:
			p.warn(x.setPos("state"), "state", "starting as BACKUP", "%s initial state MASTER is incompatible with AH authentication", owner)
			x.WantMaster = false
		}
		if x.Auth != nil {
			x.Auth.Pos = ap
		}
	}

	unicast := len(x.UnicastPeers) > 0
	if x.Strict && unicast {
		p.warn(x.setPos("unicast_peer"), "unicast_peer", "unicast peers ignored", "%s unicast peers are not supported in strict mode", owner)
		x.UnicastPeers = nil
		unicast = false
	}
	if !unicast && !x.isSet("unicast_fault_no_peer") && (x.isSet("unicast_peer") || x.isSet("unicast_src_ip")) {
		kw := "unicast_src_ip"
		if x.isSet("unicast_peer") {
			kw = "unicast_peer"
		}
		p.warn(x.setPos(kw), kw, "using multicast", "%s a unicast keyword has been specified without any unicast peers (deprecated)", owner)
	}
	if x.isSet("unicast_ttl") && !unicast {
		p.warn(x.setPos("unicast_ttl"), "unicast_ttl", "ignored", "%s cannot use unicast_ttl without unicast peers", owner)
		x.UnicastTTL = 0
	}
	if x.UnicastTTL == 0 && !x.isSet("unicast_ttl") || !unicast {
		x.UnicastTTL = vrrp.TTL
	}
	if x.UnicastSrcIP.IsValid() && unicast && x.UnicastSrcIP.Is6() != x.IPv6 {
		p.warn(x.setPos("unicast_src_ip"), "unicast_src_ip", "ignored", "%s unicast_src_ip family does not match the instance", owner)
		x.UnicastSrcIP = netip.Addr{}
	}
	var peers []UnicastPeer
	for _, u := range x.UnicastPeers {
		if u.Addr.Is6() != x.IPv6 {
			p.warn(u.Pos, "unicast_peer", "peer ignored", "%s unicast peer %s does not match the instance family", owner, u.Addr)
			continue
		}
		if u.MinTTL > u.MaxTTL {
			p.warn(u.Pos, "unicast_peer", "all packets will be discarded", "%s min_ttl %d > max_ttl %d", owner, u.MinTTL, u.MaxTTL)
		}
		peers = append(peers, u)
	}
	x.UnicastPeers = peers
	x.UnicastNoPeerFault = len(peers) == 0 && x.isSet("unicast_fault_no_peer")
	if x.isSet("track_src_ip") {
		src := x.McastSrcIP
		if len(peers) > 0 {
			src = x.UnicastSrcIP
		}
		x.TrackSrcIP = src.IsValid()
		if !x.TrackSrcIP {
			p.warn(x.setPos("track_src_ip"), "track_src_ip", "ignored", "%s track_src_ip needs a configured source address (unicast_src_ip or mcast_src_ip)", owner)
		}
	}

	// RFC 5798 §5.2.9: an IPv6 advert's first address is the link-local one.
	if x.IPv6 && !unicast && len(x.VIPs) > 0 && !x.VIPs[0].Prefix.Addr().IsLinkLocalUnicast() {
		if x.Strict {
			p.warn(x.VIPs[0].Pos, "virtual_ipaddress", "running anyway", "%s the first IPv6 VIP address must be link local", owner)
		} else {
			p.notice(x.VIPs[0].Pos, "virtual_ipaddress", "running anyway", "%s the first IPv6 VIP address should be link local", owner)
		}
	}

	// VIP count: what fits an advert on the interface's MTU; the excess
	// becomes excluded VIPs, after the configured ones (keepalived's order).
	mtu, mtuFrom := defaultMTU, "default MTU"
	if ifname := x.Interface; ifname != "" && p.opts.InterfaceMTU != nil {
		if m, ok := p.opts.InterfaceMTU(ifname); ok && m > 0 {
			mtu, mtuFrom = m, ifname+" MTU"
		}
	}
	limit := vipLimit(mtu, x.IPv6, x.Version, x.Auth != nil && x.Auth.Type == "AH")
	if len(x.VIPs) > limit {
		p.warn(x.VIPs[limit].Pos, "virtual_ipaddress", "the excess is moved to virtual_ipaddress_excluded",
			"%s number of VIPs (%d) exceeds the space available in an advert (%s %d: at most %d addresses)", owner, len(x.VIPs), mtuFrom, mtu, limit)
		x.ExcludedVIPs = append(x.ExcludedVIPs, x.VIPs[limit:]...)
		x.VIPs = x.VIPs[:limit]
	}

	// Preemption.
	if x.Priority == vrrp.PriorityOwner && !x.Preempt {
		p.warn(x.setPos("nopreempt"), "nopreempt", "preempting", "%s nopreempt is incompatible with priority 255", owner)
		x.Preempt = true
	}
	if x.WantMaster {
		if !x.Preempt {
			p.warn(x.setPos("nopreempt"), "nopreempt", "preempting", "%s nopreempt does not work with initial state MASTER (use state BACKUP)", owner)
			x.Preempt = true
		}
		if x.PreemptDelay != 0 {
			p.warn(x.setPos("preempt_delay"), "preempt_delay", "no preempt delay", "%s preempt_delay does not work with initial state MASTER", owner)
			x.PreemptDelay = 0
		}
	}
	if x.PreemptDelay != 0 {
		if x.Strict {
			p.warn(x.setPos("preempt_delay"), "preempt_delay", "no preempt delay", "%s preempt_delay is incompatible with strict mode", owner)
			x.PreemptDelay = 0
		} else if !x.Preempt {
			p.warn(x.setPos("preempt_delay"), "preempt_delay", "no preempt delay", "%s preempt_delay is incompatible with nopreempt", owner)
			x.PreemptDelay = 0
		}
	}
	if !x.isSet("down_timer_adverts") {
		x.DownTimerAdverts = g.DownTimerAdverts
	} else if x.Strict && x.DownTimerAdverts != 3 {
		p.warn(x.setPos("down_timer_adverts"), "down_timer_adverts", "using 3", "%s down_timer_adverts is incompatible with strict mode", owner)
		x.DownTimerAdverts = 3
	}

	// Accept mode (RFC 5798 §6.1 Accept_Mode).
	if !x.acceptSet {
		x.Accept = x.Priority == vrrp.PriorityOwner || !x.Strict
	}
	if x.Accept && x.Priority != vrrp.PriorityOwner && x.Strict && x.Version == 2 {
		p.warn(x.setPos("accept"), "accept", "no accept mode", "%s accept mode for VRRP version 2 does not comply with RFC 3768", owner)
		x.Accept = false
	}

	// Multicast destination.
	if unicast {
		if x.McastDstIP.IsValid() {
			p.warn(x.setPos("mcast_dst_ip"), "mcast_dst_ip", "ignored", "%s multicast destination specified with unicast", owner)
		}
		x.McastDstIP = netip.Addr{}
	} else if !x.McastDstIP.IsValid() {
		if x.IPv6 {
			x.McastDstIP = g.McastGroup6
		} else {
			x.McastDstIP = g.McastGroup4
		}
	} else if x.McastDstIP.Is6() != x.IPv6 {
		p.warn(x.setPos("mcast_dst_ip"), "mcast_dst_ip", "using the global group", "%s mcast_dst_ip family does not match the instance", owner)
		x.McastDstIP = g.McastGroup4
		if x.IPv6 {
			x.McastDstIP = g.McastGroup6
		}
	}

	// GARP values inherit from global_defs.
	if !x.isSet("garp_master_delay") {
		x.GARPMasterDelay = g.GARPMasterDelay
	}
	if !x.isSet("garp_master_repeat") {
		x.GARPMasterRepeat = g.GARPMasterRepeat
	}
	if !x.isSet("garp_master_refresh") {
		x.GARPMasterRefresh = g.GARPMasterRefresh
	}
	if !x.isSet("garp_extra_if") {
		x.GARPExtraIf, x.GARPExtraIfAll = g.GARPExtraIf, g.GARPExtraIfAll
	}
	if !x.isSet("garp_master_refresh_repeat") {
		x.GARPMasterRefreshRepeat = g.GARPMasterRefreshRepeat
	}
	if !x.isSet("garp_lower_prio_repeat") {
		if x.Strict {
			x.GARPLowerPrioRepeat = 0
		} else {
			x.GARPLowerPrioRepeat = g.GARPLowerPrioRepeat
		}
	} else if x.Strict && x.GARPLowerPrioRepeat != 0 {
		p.warn(x.setPos("garp_lower_prio_repeat"), "garp_lower_prio_repeat", "using 0", "%s strict mode requires no repeat garps", owner)
		x.GARPLowerPrioRepeat = 0
	}
	if !x.isSet("garp_lower_prio_delay") {
		if x.Strict {
			x.GARPLowerPrioDelay = 0
		} else {
			x.GARPLowerPrioDelay = g.GARPLowerPrioDelay
		}
	} else if x.Strict && x.GARPLowerPrioDelay != 0 {
		p.warn(x.setPos("garp_lower_prio_delay"), "garp_lower_prio_delay", "using 0", "%s strict mode requires no repeat garp delay", owner)
		x.GARPLowerPrioDelay = 0
	}
	if !x.isSet("lower_prio_no_advert") {
		x.LowerPrioNoAdvert = x.Strict || g.LowerPrioNoAdvert
	} else if x.Strict && !x.LowerPrioNoAdvert {
		p.warn(x.setPos("lower_prio_no_advert"), "lower_prio_no_advert", "set", "%s strict mode requires lower_prio_no_advert", owner)
		x.LowerPrioNoAdvert = true
	}
	if !x.isSet("higher_prio_send_advert") {
		x.HigherPrioSendAdvert = !x.Strict && g.HigherPrioSendAdvert
	} else if x.Strict && x.HigherPrioSendAdvert {
		p.warn(x.setPos("higher_prio_send_advert"), "higher_prio_send_advert", "cleared", "%s strict mode requires higher_prio_send_advert to be clear", owner)
		x.HigherPrioSendAdvert = false
	}
	if !x.isSet("skip_check_adv_addr") {
		x.SkipCheckAdvAddr = g.SkipCheckAdvAddr
	}
	x.CheckUnicastSrc = x.CheckUnicastSrc || g.CheckUnicastSrc

	// Advertisement interval (RFC 3768 §5.3.7 seconds; RFC 5798 §5.2.7 centiseconds).
	if x.AdvertInterval == 0 {
		x.AdvertInterval = time.Second
	}
	ap := x.setPos("advert_int")
	if x.Version == 2 {
		if x.AdvertInterval > maxAdvertV2 {
			p.warn(ap, "advert_int", "using 255", "%s VRRPv2 advertisement interval must be less than 256s", owner)
			x.AdvertInterval = maxAdvertV2
		} else if x.AdvertInterval%time.Second != 0 {
			r := (x.AdvertInterval + time.Second/2).Truncate(time.Second)
			if r == 0 {
				r = time.Second
			}
			p.warn(ap, "advert_int", "rounded to "+secs(r), "%s VRRPv2 advertisement interval %ss must be an integer", owner, secs(x.AdvertInterval))
			x.AdvertInterval = r
		}
	} else {
		if x.AdvertInterval > maxAdvertV3 {
			p.warn(ap, "advert_int", "using 40.95", "%s VRRPv3 advertisement interval must be less than 40.96s", owner)
			x.AdvertInterval = maxAdvertV3
		} else if x.AdvertInterval%vrrp.Centisecond != 0 {
			r := (x.AdvertInterval + vrrp.Centisecond/2).Truncate(vrrp.Centisecond)
			if r == 0 {
				r = vrrp.MinAdvertIntervalV3
			}
			p.warn(ap, "advert_int", "rounded to "+secs(r), "%s VRRPv3 advertisement interval %ss must be in units of 10ms", owner, secs(x.AdvertInterval))
			x.AdvertInterval = r
		}
	}

	// VIPs go to the instance interface unless they name one.
	fill := func(list []Address, kw string) []Address {
		var out []Address
		for _, a := range list {
			if a.Dev == "" {
				if x.Interface == "" {
					p.warn(a.Pos, kw, "address removed", "%s no interface for VIP %s", owner, a.Prefix)
					continue
				}
				a.Dev = x.Interface
			}
			out = append(out, a)
		}
		return out
	}
	x.VIPs = fill(x.VIPs, "virtual_ipaddress")
	x.ExcludedVIPs = fill(x.ExcludedVIPs, "virtual_ipaddress_excluded")

	// VMAC.
	if x.UseVMAC != nil {
		x.UseVMAC.XmitBase = x.vmacXmitBase
		if unicast && !x.UseVMAC.XmitBase {
			p.warn(x.UseVMAC.Pos, "use_vmac", "vmac_xmit_base set", "%s unicast with use_vmac requires vmac_xmit_base", owner)
			x.UseVMAC.XmitBase = true
		}
		if x.UseVMAC.MAC != "" && x.Strict {
			p.warn(x.UseVMAC.Pos, "use_vmac", "MAC address cleared", "%s cannot specify a MAC address in strict mode", owner)
			x.UseVMAC.MAC = ""
		}
		if x.UseVMAC.XmitBase && x.Strict {
			p.warn(x.setPos("vmac_xmit_base"), "vmac_xmit_base", "cleared", "%s vmac_xmit_base is incompatible with strict mode", owner)
			x.UseVMAC.XmitBase = false
		}
	} else if x.vmacXmitBase {
		p.warn(x.setPos("vmac_xmit_base"), "vmac_xmit_base", "ignored", "%s vmac_xmit_base is only valid with use_vmac", owner)
	}
	// garp_extra_if without all announces only on VMACs: on the
	// instance's own with vmac_xmit_base (adverts then leave from the
	// parent, which keeps no switch learning the VMAC), on no other
	// interface. The only VMAC vigil gives an instance is its own.
	if !x.GARPExtraIfAll && (x.UseVMAC == nil || !x.UseVMAC.XmitBase) {
		x.GARPExtraIf = 0
	}

	// Tracking.
	x.TrackScripts = p.resolveTracks(x.TrackScripts, "track_script", x.Name)
	x.TrackFiles = p.resolveTracks(x.TrackFiles, "track_file", x.Name)
	x.TrackProcesses = p.resolveTracks(x.TrackProcesses, "track_process", x.Name)
	x.TrackInterfaces = p.resolveTracks(x.TrackInterfaces, "track_interface", x.Name)
	p.noTrackingWeights(x)
	return true
}

// noTrackingWeights applies keepalived's rule that members of a sync group
// (without sync_group_tracking_weight) and address owners do not float
// their priority: weighted trackers are ignored or made unweighted.
func (p *parser) noTrackingWeights(x *Instance) {
	sync := false
	if x.SyncGroup != "" {
		sync = true
		for _, g := range p.cfg.SyncGroups {
			if g.Name == x.SyncGroup && g.TrackingWeight {
				sync = false
			}
		}
	}
	if !sync && x.Priority != vrrp.PriorityOwner {
		return
	}
	why := "address owner"
	if sync {
		why = "sync group"
	}
	owner := "(" + x.Name + ")"
	var ifs []TrackRef
	for _, r := range x.TrackInterfaces {
		if r.Weight != 0 {
			if sync {
				p.warn(r.Pos, "track_interface", "weight 0: a failure means FAULT", "%s tracked interface %s: weights are ignored in a %s", owner, r.Name, why)
				r.Weight, r.HasWeight = 0, true
			} else {
				p.warn(r.Pos, "track_interface", "not tracked", "%s tracked interface %s: weights are ignored for an %s", owner, r.Name, why)
				continue
			}
		}
		ifs = append(ifs, r)
	}
	x.TrackInterfaces = ifs
	// dropWeighted keeps the references without a weight.
	dropWeighted := func(refs []TrackRef, kw, what string) []TrackRef {
		var out []TrackRef
		for _, r := range refs {
			if r.Weight != 0 {
				p.warn(r.Pos, kw, "not tracked", "%s tracked %s %s with a weight is ignored in a %s", owner, what, r.Name, why)
				continue
			}
			out = append(out, r)
		}
		return out
	}
	x.TrackScripts = dropWeighted(x.TrackScripts, "track_script", "script")
	var fls []TrackRef
	for _, r := range x.TrackFiles {
		switch {
		case r.Weight == 1 && !r.HasWeight:
			p.warn(r.Pos, "track_file", "weight 0", "%s weight of tracked file %s is ignored in a %s; specify weight 0", owner, r.Name, why)
			r.Weight, r.HasWeight = 0, true
		case r.Weight != 0:
			p.warn(r.Pos, "track_file", "not tracked", "%s tracked file %s with weight %d is ignored in a %s", owner, r.Name, r.Weight, why)
			continue
		}
		fls = append(fls, r)
	}
	x.TrackFiles = fls
	x.TrackProcesses = dropWeighted(x.TrackProcesses, "track_process", "process")
}

// checkVRIDs rejects two multicast instances using one VRID on one
// interface and family (keepalived refuses to start). IPv4 and IPv6
// instances may share a VRID.
func (p *parser) checkVRIDs() {
	type key struct {
		dev   string
		v6    bool
		vrid  int
		group netip.Addr
	}
	seen := map[key]*Instance{}
	for _, x := range p.cfg.Instances {
		if len(x.UnicastPeers) > 0 {
			continue
		}
		k := key{x.Interface, x.IPv6, x.VRID, x.McastDstIP}
		if o := seen[k]; o != nil {
			fam := "4"
			if x.IPv6 {
				fam = "6"
			}
			p.fatal(x.setPos("virtual_router_id"), "virtual_router_id", "vigild does not start",
				"%s and %s both use VRID %d with IPv%s on interface %s", o.Name, x.Name, x.VRID, fam, x.Interface)
			continue
		}
		seen[k] = x
	}
	// unicast: same VRID, same source and a shared peer conflicts too
	type ukey struct {
		vrid int
		v6   bool
		src  netip.Addr
		dev  string
		peer netip.Addr
	}
	useen := map[ukey]*Instance{}
	for _, x := range p.cfg.Instances {
		for _, u := range x.UnicastPeers {
			k := ukey{x.VRID, x.IPv6, x.UnicastSrcIP, x.Interface, u.Addr}
			if o := useen[k]; o != nil && o != x {
				p.fatal(x.setPos("virtual_router_id"), "virtual_router_id", "vigild does not start",
					"(%s) duplicate VRID conflict with %s VRID %d", x.Name, o.Name, x.VRID)
				break
			}
			useen[k] = x
		}
	}
}
