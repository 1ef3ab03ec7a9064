package config

import (
	"math"
	"net/netip"
	"strconv"
	"time"

	"github.com/vigil-ha/vigil/vip"
	"github.com/vigil-ha/vigil/vrrp"
)

// inst adapts an Instance handler and records where the keyword was set.
func inst(f func(p *parser, x *Instance, l *line)) handler {
	return func(p *parser, n any, l *line) any {
		x := n.(*Instance)
		x.set[l.toks[0].s] = l.pos()
		f(p, x, l)
		return nil
	}
}

func (x *Instance) isSet(kw string) bool { _, ok := x.set[kw]; return ok }

// setPos returns where kw was set in the instance, or the instance's Pos.
func (x *Instance) setPos(kw string) Pos {
	if p, ok := x.set[kw]; ok {
		return p
	}
	return x.Pos
}

func (p *parser) notifyCmd(dst **Command, l *line, owner string) {
	if *dst != nil {
		p.warn(l.pos(), l.toks[0].s, "keeping the first script", "%s: script already specified", owner)
		return
	}
	if c := p.command(l, true); c != nil {
		*dst = c
	}
}

// trackLine parses "NAME [weight N] [reverse|no_reverse]".
func (p *parser) trackLine(l *line, min, max int64) TrackRef {
	r := TrackRef{Pos: l.pos(), Name: l.toks[0].s}
	p.weightArgs(l, 1, min, max, &r)
	return r
}

func trackBlocks(get func(n any) *[4][]TrackRef) []*kwDef {
	mk := func(name string, idx int, min, max int64, syntax string, tier Tier) *kwDef {
		return valueKw(name, tier, syntax, func(p *parser, n any, l *line) any {
			if x, ok := n.(*Instance); ok {
				x.set[name] = l.pos()
			}
			return n
		}, func(p *parser, n any, l *line) {
			lists := get(n)
			lists[idx] = append(lists[idx], p.trackLine(l, min, max))
		})
	}
	return []*kwDef{
		mk("track_interface", 0, -253, 253, "track_interface { IF [weight -253..253 [reverse]] ... }", P1),
		mk("track_script", 1, -253, 253, "track_script { NAME [weight -253..253 [reverse|no_reverse]] ... }", P0),
		mk("track_file", 2, -254, 254, "track_file { NAME [weight -254..254 [reverse|noreverse]] ... }", P2),
		mk("track_process", 3, -254, 254, "track_process { NAME [weight -254..254 [reverse]] ... }", P2),
	}
}

// trackLists gives the four track lists of an instance or sync group
// through a temporary array that is written back by syncTrack.
type trackHolder interface{ tracks() *[4][]TrackRef }

func (x *Instance) tracks() *[4][]TrackRef  { return &x.track }
func (s *SyncGroup) tracks() *[4][]TrackRef { return &s.track }

func instanceBlock() *block {
	notify := func(name string, tier Tier, get func(x *Instance) **Command) *kwDef {
		return kw(name, tier, name+" SCRIPT [USER [GROUP]]", "none", "", inst(func(p *parser, x *Instance, l *line) {
			p.notifyCmd(get(x), l, "("+x.Name+")")
		}))
	}
	// The GARP keywords default to global_defs' vrrp_NAME: a bad value
	// leaves the keyword unset, so that the global value applies.
	garpSecs := func(name string, tier Tier, rng string, dst func(x *Instance) *time.Duration) *kwDef {
		return kw(name, tier, name+" SECS", "vrrp_"+name, rng, inst(func(p *parser, x *Instance, l *line) {
			if d, ok := p.garpSecsArg(l, "ignored"); ok {
				*dst(x) = d
			} else {
				delete(x.set, name)
			}
		}))
	}
	garpRepeat := func(name string, tier Tier, dst func(x *Instance) *int) *kwDef {
		return kw(name, tier, name+" N", "vrrp_"+name, "1..", inst(func(p *parser, x *Instance, l *line) {
			if n, ok := p.garpRepeatArg(l, "ignored", "("+x.Name+") "); ok {
				*dst(x) = n
			} else {
				delete(x.set, name)
			}
		}))
	}
	b := newBlock("vrrp_instance",
		kw("state", P0, "state MASTER|BACKUP", "BACKUP", "", inst(func(p *parser, x *Instance, l *line) {
			t, ok := p.arg(l, 1)
			if !ok {
				return
			}
			switch t.s {
			case "MASTER":
				x.WantMaster = true
				x.stateSet = true
			case "BACKUP":
				if x.WantMaster {
					p.warn(t.pos, "state", "keeping MASTER", "(%s) state previously set as MASTER", x.Name)
					return
				}
				x.stateSet = true
			default:
				p.warn(t.pos, "state", "using BACKUP", "(%s) unknown state %q", x.Name, t.s)
				x.WantMaster = false
				x.stateSet = true
			}
		})),
		kw("interface", P0, "interface IFNAME", "default_interface", "", inst(func(p *parser, x *Instance, l *line) {
			t, ok := p.arg(l, 1)
			if !ok {
				return
			}
			if len(t.s) >= 16 {
				p.warn(t.pos, "interface", "ignored", "interface name %q too long", t.s)
				return
			}
			if t.s == "lo" {
				p.warn(t.pos, "interface", "ignored", "(%s) cannot use a loopback interface (lo) for vrrp", x.Name)
				return
			}
			x.Interface = t.s
			if p.opts.InterfaceExists != nil && !p.opts.InterfaceExists(t.s) {
				p.ifaceMissing(t.pos, "interface", t.s, func() {
					p.fatal(t.pos, "interface", "vigild does not start", "(%s) interface %s does not exist", x.Name, t.s)
				})
			}
		})),
		kw("virtual_router_id", P0, "virtual_router_id 1..255", "required", "1..255", inst(func(p *parser, x *Instance, l *line) {
			if n, ok := p.intArg(l, 1, vrrp.MinVRID, vrrp.MaxVRID, "ignored"); ok {
				x.VRID = n
			}
		})),
		kw("priority", P0, "priority 1..255", "100 (255 with state MASTER and no priority)", "1..255", inst(func(p *parser, x *Instance, l *line) {
			if n, ok := p.intArg(l, 1, vrrp.MinPriority, vrrp.PriorityOwner, "using 100"); ok {
				x.Priority = n
			} else {
				x.Priority = 100
			}
		})),
		kw("advert_int", P0, "advert_int SECS", "1", "0.01..255", inst(func(p *parser, x *Instance, l *line) {
			t, ok := p.arg(l, 1)
			if !ok {
				return
			}
			d, err := parseSeconds(t.s)
			if err != nil || d < vrrp.MinAdvertIntervalV3 || d > vrrp.MaxAdvertIntervalV2 {
				p.warn(t.pos, "advert_int", "ignored", "(%s) advert interval %q not valid; must be in [0.01, 255]", x.Name, t.s)
				delete(x.set, "advert_int")
				return
			}
			x.AdvertInterval = d
		})),
		kw("version", P1, "version 2|3", "vrrp_version", "2..3", inst(func(p *parser, x *Instance, l *line) {
			if n, ok := p.intArg(l, 1, 2, 3, "ignored"); ok {
				if x.Version != 0 && x.Version != n {
					p.warn(l.toks[1].pos, "version", "ignored", "(%s) version %d conflicts with version %d", x.Name, n, x.Version)
					return
				}
				x.Version = n
			} else {
				delete(x.set, "version")
			}
		})),
		kw("nopreempt", P1, "nopreempt", "preempt", "", inst(func(p *parser, x *Instance, l *line) { x.Preempt = false })),
		kw("preempt", P1, "preempt", "preempt", "", inst(func(p *parser, x *Instance, l *line) { x.Preempt = true })),
		kw("preempt_delay", P1, "preempt_delay SECS", "0", "0..1000", inst(func(p *parser, x *Instance, l *line) {
			if d, ok := p.timerArg(l, 1, 0, 1000*time.Second, "using 0"); ok {
				x.PreemptDelay = d
			} else {
				x.PreemptDelay = 0
			}
		})),
		kw("accept", P1, "accept", "accept unless strict", "", inst(func(p *parser, x *Instance, l *line) { x.acceptSet, x.Accept = true, true })),
		kw("no_accept", P1, "no_accept", "accept unless strict", "", inst(func(p *parser, x *Instance, l *line) { x.acceptSet, x.Accept = true, false })),
		kw("dont_track_primary", P2, "dont_track_primary", "off", "", inst(func(p *parser, x *Instance, l *line) { x.DontTrackPrimary = true })),
		kw("skip_check_adv_addr", P2, "skip_check_adv_addr [BOOL]", "vrrp_skip_check_adv_addr", "", inst(func(p *parser, x *Instance, l *line) {
			if v, ok := p.boolArg(l); ok {
				x.SkipCheckAdvAddr = v
			}
		})),
		kw("strict_mode", P2, "strict_mode [BOOL]", "vrrp_strict", "", inst(func(p *parser, x *Instance, l *line) {
			if v, ok := p.boolArg(l); ok {
				x.Strict = v
			} else {
				delete(x.set, "strict_mode")
			}
		})),
		kw("down_timer_adverts", P2, "down_timer_adverts 1..100", "3", "1..100", inst(func(p *parser, x *Instance, l *line) {
			if n, ok := p.intArg(l, 1, 1, 100, "ignored"); ok {
				x.DownTimerAdverts = n
			} else {
				delete(x.set, "down_timer_adverts")
			}
		})),
		kw("lower_prio_no_advert", P2, "lower_prio_no_advert [BOOL]", "global", "", inst(func(p *parser, x *Instance, l *line) {
			if v, ok := p.boolArg(l); ok {
				x.LowerPrioNoAdvert = v
			} else {
				delete(x.set, "lower_prio_no_advert")
			}
		})),
		kw("higher_prio_send_advert", P2, "higher_prio_send_advert [BOOL]", "global", "", inst(func(p *parser, x *Instance, l *line) {
			if v, ok := p.boolArg(l); ok {
				x.HigherPrioSendAdvert = v
			} else {
				delete(x.set, "higher_prio_send_advert")
			}
		})),
		kw("check_unicast_src", P2, "check_unicast_src", "vrrp_check_unicast_src", "", inst(func(p *parser, x *Instance, l *line) { x.CheckUnicastSrc = true })),
		kw("native_ipv6", P2, "native_ipv6", "from the VIPs", "", inst(func(p *parser, x *Instance, l *line) { x.IPv6 = true })).deprecatedQuiet(),
		valueKw("virtual_ipaddress", P0, "virtual_ipaddress { ADDR[/LEN] [brd A|+|-] [dev IF] [scope S] [label L] [peer P] [home] [-nodad] [mngtmpaddr] [noprefixroute] [autojoin] [preferred_lft N|forever] [no_track] [use_vmac (notice: not implemented)] }", inst2, func(p *parser, n any, l *line) {
			x := n.(*Instance)
			if a, ok := p.address(l, "virtual_ipaddress", false); ok {
				x.VIPs = append(x.VIPs, a)
			}
		}),
		valueKw("virtual_ipaddress_excluded", P1, "virtual_ipaddress_excluded { ADDR... }", inst2, func(p *parser, n any, l *line) {
			x := n.(*Instance)
			if a, ok := p.address(l, "virtual_ipaddress_excluded", false); ok {
				x.ExcludedVIPs = append(x.ExcludedVIPs, a)
			}
		}),
		valueKw("virtual_routes", P1, "virtual_routes { ROUTE ... } (ip route options: proto, tos, realms, metrics and nexthop are installed; pref, expires, encap, vrf, as, from, ttl-propagate and lock other than on mtu or rto_min draw a notice)", inst2, func(p *parser, n any, l *line) {
			x := n.(*Instance)
			if r, ok := p.route(l, "virtual_routes", false); ok {
				x.Routes = append(x.Routes, r)
			}
		}),
		valueKw("virtual_rules", P2, "virtual_rules { RULE ... } (ip rule selectors, goto and suppress_* are installed; type blackhole, unreachable, prohibit and nop are installed; l3mdev, nat, map-to and tun_id draw a notice and skip the rule)", inst2, func(p *parser, n any, l *line) {
			x := n.(*Instance)
			if r, ok := p.rule(l, "virtual_rules", &p.autoPref); ok {
				x.Rules = append(x.Rules, r)
			}
		}),
		kw("mcast_src_ip", P1, "mcast_src_ip ADDR", "primary address", "", inst(func(p *parser, x *Instance, l *line) {
			if a, ok := p.addrArg(l, 1, "ignored"); ok {
				x.McastSrcIP = a
			}
		})),
		kw("unicast_src_ip", P1, "unicast_src_ip ADDR", "primary address", "", inst(func(p *parser, x *Instance, l *line) {
			if a, ok := p.addrArg(l, 1, "ignored"); ok {
				x.UnicastSrcIP = a
			} else {
				delete(x.set, "unicast_src_ip")
			}
		})),
		kw("mcast_dst_ip", P2, "mcast_dst_ip ADDR", "vrrp_mcast_group4/6", "", inst(func(p *parser, x *Instance, l *line) {
			if a, ok := p.addrArg(l, 1, "ignored"); ok {
				if !a.IsMulticast() {
					p.warn(l.toks[1].pos, "mcast_dst_ip", "ignored", "(%s) %s is not multicast", x.Name, a)
					return
				}
				x.McastDstIP = a
			}
		})),
		kw("unicast_ttl", P2, "unicast_ttl 0..255 (TTL / hop limit of adverts to unicast peers; 0 is sent as 1)", "255", "0..255", inst(func(p *parser, x *Instance, l *line) {
			if n, ok := p.intArg(l, 1, 0, 255, "ignored"); ok {
				if n == 0 {
					// keepalived writes the IPv4 header itself and can
					// send TTL 0; the kernel refuses to send it for us.
					p.warn(l.toks[1].pos, "unicast_ttl", "using 1", "(%s) a TTL of 0 cannot be sent", x.Name)
					n = 1
				}
				x.UnicastTTL = n
			} else {
				delete(x.set, "unicast_ttl")
			}
		})),
		valueKw("unicast_peer", P1, "unicast_peer { ADDR [min_ttl N] [max_ttl N] ... } (adverts from ADDR outside the TTL range are dropped, counted as ttl)", inst2, func(p *parser, n any, l *line) {
			x := n.(*Instance)
			a, ok := parseIP(l.toks[0].s)
			if !ok {
				p.warn(l.pos(), "unicast_peer", "peer skipped", "(%s) %q is not an IP address", x.Name, l.toks[0].s)
				return
			}
			u := UnicastPeer{Pos: l.pos(), Addr: a, MaxTTL: 255}
			for i := 1; i < len(l.toks); i++ {
				switch l.toks[i].s {
				case "min_ttl":
					if v, ok := p.intArg(l, i+1, 0, 255, "ignored"); ok {
						u.MinTTL = v
					}
					i++
				case "max_ttl":
					if v, ok := p.intArg(l, i+1, 0, 255, "ignored"); ok {
						u.MaxTTL = v
					}
					i++
				default:
					p.warn(l.toks[i].pos, "unicast_peer", "ignored", "unknown option %q", l.toks[i].s)
				}
			}
			x.UnicastPeers = append(x.UnicastPeers, u)
		}),
		kw("use_vmac", P1, "use_vmac [IFNAME] [MAC (notice: not implemented)]", "off", "", inst(func(p *parser, x *Instance, l *line) {
			v := &VMAC{Pos: l.pos()}
			if x.UseVMAC != nil {
				v.XmitBase = x.UseVMAC.XmitBase
			}
			for _, t := range l.toks[1:] {
				if len(t.s) == 17 && t.s[2] == ':' {
					v.MAC = t.s
					p.notice(t.pos, "use_vmac", "the RFC 5798 virtual MAC is used", "a VMAC MAC address of one's own (%s) is not implemented by vigil", t.s)
				} else if v.Name == "" {
					if len(t.s) >= 16 {
						p.warn(t.pos, "use_vmac", "using the default name", "VMAC interface name %q too long", t.s)
						continue
					}
					if !vip.ValidIfName(t.s) {
						p.warn(t.pos, "use_vmac", "using the default name", "VMAC interface name %q is not a valid interface name", t.s)
						continue
					}
					v.Name = t.s
				}
			}
			x.UseVMAC = v
		})),
		kw("vmac_xmit_base", P1, "vmac_xmit_base", "off", "", inst(func(p *parser, x *Instance, l *line) { x.vmacXmitBase = true })),
		notify("notify_master", P0, func(x *Instance) **Command { return &x.Notify.Master }),
		notify("notify_backup", P0, func(x *Instance) **Command { return &x.Notify.Backup }),
		notify("notify_fault", P0, func(x *Instance) **Command { return &x.Notify.Fault }),
		notify("notify_stop", P1, func(x *Instance) **Command { return &x.Notify.Stop }),
		notify("notify", P1, func(x *Instance) **Command { return &x.Notify.Any }),
		notify("notify_master_rx_lower_pri", P2, func(x *Instance) **Command { return &x.Notify.MasterRxLowerPri }),
		kw("notify_deleted", P2, "notify_deleted [SCRIPT [USER [GROUP]]]", "off", "", inst(func(p *parser, x *Instance, l *line) {
			if len(l.toks) < 2 {
				x.Notify.Deleted = &Command{Pos: l.pos()}
				return
			}
			p.notifyCmd(&x.Notify.Deleted, l, "("+x.Name+")")
		})),
		kw("notify_priority_changes", P2, "notify_priority_changes [BOOL]", "off", "", inst(func(p *parser, x *Instance, l *line) {
			if v, ok := p.boolArg(l); ok {
				x.Notify.PriorityChanges = v
			}
		})),
		garpSecs("garp_master_delay", P1, "0..4294", func(x *Instance) *time.Duration { return &x.GARPMasterDelay }),
		garpRepeat("garp_master_repeat", P1, func(x *Instance) *int { return &x.GARPMasterRepeat }),
		garpSecs("garp_master_refresh", P1, "0..", func(x *Instance) *time.Duration { return &x.GARPMasterRefresh }),
		garpRepeat("garp_master_refresh_repeat", P2, func(x *Instance) *int { return &x.GARPMasterRefreshRepeat }),
		garpSecs("garp_lower_prio_delay", P2, "0..4294", func(x *Instance) *time.Duration { return &x.GARPLowerPrioDelay }),
		kw("garp_lower_prio_repeat", P2, "garp_lower_prio_repeat N", "vrrp_garp_lower_prio_repeat", "0..", inst(func(p *parser, x *Instance, l *line) {
			if n, ok := p.intArg(l, 1, 0, math.MaxInt32, "ignored"); ok {
				x.GARPLowerPrioRepeat = n
			} else {
				delete(x.set, "garp_lower_prio_repeat")
			}
		})),
		blockKw("authentication", P0, "authentication { auth_type PASS|AH; auth_pass STRING } (VRRPv2 over IPv4; AH: IPsec-AH with HMAC-MD5-96, as keepalived)", func(p *parser, n any, l *line) any {
			x := n.(*Instance)
			x.set["authentication"] = l.pos()
			if x.Auth == nil {
				x.Auth = &Auth{Pos: l.pos()}
			}
			return x
		}, newBlock("authentication",
			kw("auth_type", P0, "auth_type PASS|AH (AH: adverts in an IPsec Authentication Header, IP protocol 51, HMAC-MD5-96 keyed by auth_pass; IPv4 VRRPv2 only)", "none", "", inst(func(p *parser, x *Instance, l *line) {
				t, ok := p.arg(l, 1)
				if !ok {
					return
				}
				switch t.s {
				case "PASS", "AH":
					x.Auth.Type = t.s
				default:
					p.warn(t.pos, "auth_type", "no authentication", "(%s) unknown authentication type %q", x.Name, t.s)
				}
			})),
			kw("auth_pass", P0, "auth_pass STRING", "none", "8 characters", inst(func(p *parser, x *Instance, l *line) {
				t, ok := p.arg(l, 1)
				if !ok {
					return
				}
				s := t.s
				if len(s) > 8 {
					p.warn(t.pos, "auth_pass", "truncated to "+strconv.Quote(s[:8]), "(%s) password longer than 8 characters", x.Name)
					s = s[:8]
				}
				x.Auth.Pass = s
			})),
		)),
		rawKw("use_vmac_addr", P2, "use_vmac_addr"),
		rawKw("use_ipvlan", P2, "use_ipvlan [IFNAME] [ADDR] [bridge|private|vepa]"),
		kw("unicast_fault_no_peer", P2, "unicast_fault_no_peer (without unicast peers: FAULT, not multicast)", "off", "", inst(func(p *parser, x *Instance, l *line) {})),
		rawKw("old_unicast_checksum", P2, "old_unicast_checksum [never]"),
		rawKw("vrf", P2, "vrf IFNAME"),
		rawKw("track_bfd", P2, "track_bfd { NAME [weight N [reverse]] }"),
		kw("track_src_ip", P2, "track_src_ip (FAULT while the configured unicast_src_ip / mcast_src_ip is missing from the interface)", "off", "", inst(func(p *parser, x *Instance, l *line) {})),
		rawKw("promote_secondaries", P2, "promote_secondaries"),
		rawKw("linkbeat_use_polling", P2, "linkbeat_use_polling"),
		rawKw("debug", P2, "debug LEVEL"),
		kw("smtp_alert", P1, "smtp_alert [BOOL]", "smtp_alert_vrrp, else smtp_alert, else off", "", inst(func(p *parser, x *Instance, l *line) {
			if b, ok := p.boolArg(l); ok {
				x.SMTPAlert = b
			} else {
				delete(x.set, "smtp_alert")
			}
		})),
		kw("garp_extra_if", P2, "garp_extra_if [all] SECS (a master's GARP/NA every SECS: with all on each other interface of its VIPs; on its VMAC with vmac_xmit_base)", "vrrp_garp_extra_if", "0..86400", inst(func(p *parser, x *Instance, l *line) {
			if d, all, ok := p.garpExtraIfArg(l, "("+x.Name+") "); ok {
				x.GARPExtraIf, x.GARPExtraIfAll = d, all
			} else {
				delete(x.set, "garp_extra_if")
			}
		})),
		rawKw("kernel_rx_buf_size", P2, "kernel_rx_buf_size BYTES"),
		&kwDef{name: "lvs_sync_daemon_interface", tier: P2, status: Deprecated, syntax: "lvs_sync_daemon_interface IFNAME (use global lvs_sync_daemon)", raw: true},
		deprecated(kw("vmac_garp_intvl", P2, "vmac_garp_intvl [all] SECS (use garp_extra_if)", "vrrp_garp_extra_if", "0..86400", inst(func(p *parser, x *Instance, l *line) {
			delete(x.set, "vmac_garp_intvl")
			if d, all, ok := p.garpExtraIfArg(l, "("+x.Name+") "); ok {
				x.GARPExtraIf, x.GARPExtraIfAll = d, all
				x.set["garp_extra_if"] = l.pos()
			}
		}))),
	)
	b.add(trackBlocks(func(n any) *[4][]TrackRef { return n.(trackHolder).tracks() })...)
	return b
}

// inst2 is the opening handler of an instance value block.
func inst2(p *parser, n any, l *line) any {
	x := n.(*Instance)
	x.set[l.toks[0].s] = l.pos()
	return x
}

// deprecatedQuiet marks a keyword keepalived accepts silently although its
// documentation calls it deprecated.
func (k *kwDef) deprecatedQuiet() *kwDef { return k }

func scriptBlock() *block {
	sc := func(f func(p *parser, s *Script, l *line)) handler {
		return func(p *parser, n any, l *line) any { f(p, n.(*Script), l); return nil }
	}
	maxInt := int64(math.MaxUint32 / 1000000)
	return newBlock("vrrp_script",
		kw("script", P0, "script \"CMD ARGS\"", "required", "", sc(func(p *parser, s *Script, l *line) {
			s.Cmd = p.command(l, false)
		})),
		kw("interval", P0, "interval SECS", "1", "1..4294", sc(func(p *parser, s *Script, l *line) {
			if n, ok := p.intArg(l, 1, 0, maxInt, "ignored"); ok {
				if n == 0 {
					p.warn(l.toks[1].pos, "interval", "using 1", "(%s) interval must be greater than 0", s.Name)
					n = 1
				}
				s.Interval = time.Duration(n) * time.Second
			}
		})),
		kw("timeout", P1, "timeout SECS", "interval", "1..4294", sc(func(p *parser, s *Script, l *line) {
			if n, ok := p.intArg(l, 1, 0, maxInt, "ignored"); ok {
				if n == 0 {
					p.warn(l.toks[1].pos, "timeout", "using 1", "(%s) timeout must be greater than 0", s.Name)
					n = 1
				}
				s.Timeout = time.Duration(n) * time.Second
			}
		})),
		kw("weight", P0, "weight -253..253 [reverse]", "0", "-253..253", sc(func(p *parser, s *Script, l *line) {
			if n, ok := p.intArg(l, 1, -253, 253, "ignored"); ok {
				s.Weight = n
			}
			if len(l.toks) > 2 {
				if l.toks[2].s == "reverse" {
					s.Reverse = true
				} else {
					p.warn(l.toks[2].pos, "weight", "ignored", "(%s) unknown weight option %q", s.Name, l.toks[2].s)
				}
			}
		})),
		kw("rise", P1, "rise N", "1", "1..", sc(func(p *parser, s *Script, l *line) {
			if n, ok := p.intArg(l, 1, 1, math.MaxInt32, "using 1"); ok {
				s.Rise = n
			} else {
				s.Rise = 1
			}
		})),
		kw("fall", P1, "fall N", "1", "1..", sc(func(p *parser, s *Script, l *line) {
			if n, ok := p.intArg(l, 1, 1, math.MaxInt32, "using 1"); ok {
				s.Fall = n
			} else {
				s.Fall = 1
			}
		})),
		kw("user", P2, "user USER [GROUP]", "script_user", "", sc(func(p *parser, s *Script, l *line) {
			t, ok := p.arg(l, 1)
			if !ok {
				return
			}
			if p.opts.UserExists != nil && !p.opts.UserExists(t.s) {
				p.warn(t.pos, "user", "script removed", "(%s) user %q does not exist", s.Name, t.s)
				s.badUser = true
				return
			}
			s.User = t.s
			s.Group = ""
			if len(l.toks) > 2 {
				s.Group = l.toks[2].s
			}
		})),
		kw("init_fail", P2, "init_fail", "off", "", sc(func(p *parser, s *Script, l *line) { s.InitFail = true })),
	)
}

func trackFileBlock() *block {
	tf := func(f func(p *parser, s *TrackFile, l *line)) handler {
		return func(p *parser, n any, l *line) any { f(p, n.(*TrackFile), l); return nil }
	}
	return newBlock("track_file",
		kw("file", P2, "file PATH", "required", "", tf(func(p *parser, s *TrackFile, l *line) {
			if t, ok := p.arg(l, 1); ok {
				s.File = t.s
			}
		})),
		kw("weight", P2, "weight N [reverse]", "1", "-2147483647..2147483647", tf(func(p *parser, s *TrackFile, l *line) {
			if n, ok := p.intArg(l, 1, -math.MaxInt32, math.MaxInt32, "ignored"); ok {
				s.Weight = n
			}
			if len(l.toks) > 2 {
				if l.toks[2].s == "reverse" {
					s.Reverse = true
				} else {
					p.warn(l.toks[2].pos, "weight", "ignored", "unknown weight option %q", l.toks[2].s)
				}
			}
		})),
		kw("init_file", P2, "init_file [VALUE] [overwrite]", "off", "", tf(func(p *parser, s *TrackFile, l *line) {
			s.InitFile = true
			for _, t := range l.toks[1:] {
				if t.s == "overwrite" {
					s.Overwrite = true
					continue
				}
				n, err := strconv.Atoi(t.s)
				if err != nil {
					p.warn(t.pos, "init_file", "ignored", "invalid value %q", t.s)
					continue
				}
				s.InitValue = n
			}
		})),
	)
}

func trackProcessBlock() *block {
	tp := func(f func(p *parser, s *TrackProcess, l *line)) handler {
		return func(p *parser, n any, l *line) any { f(p, n.(*TrackProcess), l); return nil }
	}
	delay := func(name string, fork, term bool) *kwDef {
		return kw(name, P2, name+" SECS", "0", "0.000001..3600", tp(func(p *parser, s *TrackProcess, l *line) {
			if d, ok := p.timerArg(l, 1, time.Microsecond, 3600*time.Second, "ignored"); ok {
				if fork {
					s.ForkDelay = d
				}
				if term {
					s.TerminateDelay = d
				}
			}
		}))
	}
	return newBlock("vrrp_track_process",
		kw("process", P2, "process NAME [ARGS...]", "required", "", tp(func(p *parser, s *TrackProcess, l *line) {
			if t, ok := p.arg(l, 1); ok {
				if s.Process != "" {
					p.warn(t.pos, "process", "ignored", "process already set for track process %s", s.Name)
					return
				}
				s.Process = t.s
				s.Args = words(l.toks[2:])
			}
		})),
		kw("param_match", P2, "param_match initial|partial", "exact", "", tp(func(p *parser, s *TrackProcess, l *line) {
			if t, ok := p.arg(l, 1); ok {
				if t.s != "initial" && t.s != "partial" {
					p.warn(t.pos, "param_match", "ignored", "invalid param_match type %q", t.s)
					return
				}
				s.ParamMatch = t.s
			}
		})),
		kw("weight", P2, "weight -254..254 [reverse]", "0", "-254..254", tp(func(p *parser, s *TrackProcess, l *line) {
			if n, ok := p.intArg(l, 1, -254, 254, "ignored"); ok {
				s.Weight = n
			}
			if len(l.toks) > 2 {
				if l.toks[2].s == "reverse" {
					s.Reverse = true
				} else {
					p.warn(l.toks[2].pos, "weight", "ignored", "unknown weight option %q", l.toks[2].s)
				}
			}
		})),
		// quorum and quorum_max are checked against each other as they
		// come, as keepalived does: the later keyword is the one ignored.
		kw("quorum", P2, "quorum N", "1", "1..65535", tp(func(p *parser, s *TrackProcess, l *line) {
			n, ok := p.intArg(l, 1, 1, 65535, "ignored")
			if !ok {
				return
			}
			if s.QuorumMax >= 0 && n > s.QuorumMax {
				p.warn(l.toks[1].pos, "quorum", "ignored", "quorum %d is greater than quorum_max %d", n, s.QuorumMax)
				return
			}
			s.Quorum = n
		})),
		kw("quorum_max", P2, "quorum_max N", "unlimited", "0..65535", tp(func(p *parser, s *TrackProcess, l *line) {
			n, ok := p.intArg(l, 1, 0, 65535, "ignored")
			if !ok {
				return
			}
			// 0 ("the process must not run") is allowed while quorum is
			// at most 1, and then makes the quorum 0.
			if (n != 0 || s.Quorum > 1) && n < s.Quorum {
				p.warn(l.toks[1].pos, "quorum_max", "ignored", "quorum_max %d is less than quorum %d", n, s.Quorum)
				return
			}
			s.QuorumMax = n
			if n == 0 {
				s.Quorum = 0
			} else if s.Quorum == 0 {
				s.Quorum = 1
			}
		})),
		delay("delay", true, true),
		delay("fork_delay", true, false),
		delay("terminate_delay", false, true),
		kw("full_command", P2, "full_command", "off", "", tp(func(p *parser, s *TrackProcess, l *line) { s.FullCommand = true })),
	)
}

func syncGroupBlock() *block {
	sg := func(f func(p *parser, s *SyncGroup, l *line)) handler {
		return func(p *parser, n any, l *line) any { f(p, n.(*SyncGroup), l); return nil }
	}
	notify := func(name string, tier Tier, get func(s *SyncGroup) **Command) *kwDef {
		return kw(name, tier, name+" SCRIPT [USER [GROUP]]", "none", "", sg(func(p *parser, s *SyncGroup, l *line) {
			p.notifyCmd(get(s), l, "vrrp_sync_group "+s.Name)
		}))
	}
	b := newBlock("vrrp_sync_group",
		valueKw("group", P1, "group { INSTANCE ... }", func(p *parser, n any, l *line) any {
			s := n.(*SyncGroup)
			if s.groupSet {
				p.warn(l.pos(), "group", "ignored", "group list already specified for sync group %s", s.Name)
				return nil
			}
			s.groupSet = true
			return s
		}, func(p *parser, n any, l *line) {
			s := n.(*SyncGroup)
			for _, t := range l.toks {
				s.Members = append(s.Members, t.s)
				s.memberPos = append(s.memberPos, t.pos)
			}
		}),
		notify("notify_master", P1, func(s *SyncGroup) **Command { return &s.Notify.Master }),
		notify("notify_backup", P1, func(s *SyncGroup) **Command { return &s.Notify.Backup }),
		notify("notify_fault", P1, func(s *SyncGroup) **Command { return &s.Notify.Fault }),
		notify("notify_stop", P1, func(s *SyncGroup) **Command { return &s.Notify.Stop }),
		notify("notify", P2, func(s *SyncGroup) **Command { return &s.Notify.Any }),
		kw("notify_priority_changes", P2, "notify_priority_changes [BOOL]", "off", "", sg(func(p *parser, s *SyncGroup, l *line) {
			if v, ok := p.boolArg(l); ok {
				s.Notify.PriorityChanges = v
			}
		})),
		rawKw("track_bfd", P2, "track_bfd { NAME [weight N] }"),
		kw("smtp_alert", P2, "smtp_alert [BOOL]", "smtp_alert_vrrp, else smtp_alert, else off", "", sg(func(p *parser, s *SyncGroup, l *line) {
			if b, ok := p.boolArg(l); ok {
				s.SMTPAlert, s.smtpAlertSet = b, true
			}
		})),
		kw("sync_group_tracking_weight", P2, "sync_group_tracking_weight (members keep their weighted trackers)", "off", "", sg(func(p *parser, s *SyncGroup, l *line) { s.TrackingWeight = true })),
		deprecated(kw("global_tracking", P2, "global_tracking (deprecated: sync_group_tracking_weight)", "off", "", sg(func(p *parser, s *SyncGroup, l *line) { s.TrackingWeight = true }))),
	)
	b.add(trackBlocks(func(n any) *[4][]TrackRef { return n.(trackHolder).tracks() })...)
	return b
}

func addVRRPTop(top *block) {
	named := func(kwName string, p *parser, l *line) (string, bool) {
		t, ok := p.arg(l, 1)
		if !ok {
			return "", false
		}
		return t.s, true
	}
	ib := instanceBlock()
	top.add(
		blockKw("vrrp_instance", P0, "vrrp_instance NAME { ... }", func(p *parser, n any, l *line) any {
			c := n.(*Config)
			name, ok := named("vrrp_instance", p, l)
			if !ok {
				return nil
			}
			for _, x := range c.Instances {
				if x.Name == name {
					p.warn(l.toks[1].pos, "vrrp_instance", "the second definition is ignored", "vrrp instance %s already defined at %s", name, x.Pos)
					return nil
				}
			}
			x := &Instance{Pos: l.pos(), Name: name, Preempt: true, set: map[string]Pos{}}
			c.Instances = append(c.Instances, x)
			return x
		}, ib),
		blockKw("vrrp_script", P0, "vrrp_script NAME { ... }", func(p *parser, n any, l *line) any {
			c := n.(*Config)
			name, ok := named("vrrp_script", p, l)
			if !ok {
				return nil
			}
			if o := c.Scripts[name]; o != nil {
				p.warn(l.toks[1].pos, "vrrp_script", "the second definition is ignored", "vrrp_script %s already defined at %s", name, o.Pos)
				return nil
			}
			s := &Script{Pos: l.pos(), Name: name, Interval: time.Second, Rise: 1, Fall: 1}
			c.Scripts[name] = s
			p.scriptOrder = append(p.scriptOrder, name)
			return s
		}, scriptBlock()),
		blockKw("track_file", P2, "track_file NAME { ... }", p0trackFile, trackFileBlock()),
		&kwDef{name: "vrrp_track_file", tier: P2, status: Supported, syntax: "vrrp_track_file NAME { ... } (old name of track_file)", fn: p0trackFile, sub: trackFileBlock()},
		blockKw("vrrp_track_process", P2, "vrrp_track_process NAME { ... }", func(p *parser, n any, l *line) any {
			c := n.(*Config)
			name, ok := named("vrrp_track_process", p, l)
			if !ok {
				return nil
			}
			if o := c.TrackProcesses[name]; o != nil {
				p.warn(l.toks[1].pos, "vrrp_track_process", "the second definition is ignored", "vrrp_track_process %s already defined at %s", name, o.Pos)
				return nil
			}
			s := &TrackProcess{Pos: l.pos(), Name: name, Quorum: 1, QuorumMax: -1}
			c.TrackProcesses[name] = s
			return s
		}, trackProcessBlock()),
		blockKw("vrrp_sync_group", P1, "vrrp_sync_group NAME { ... }", func(p *parser, n any, l *line) any {
			c := n.(*Config)
			name, ok := named("vrrp_sync_group", p, l)
			if !ok {
				return nil
			}
			for _, s := range c.SyncGroups {
				if s.Name == name {
					p.warn(l.toks[1].pos, "vrrp_sync_group", "the second definition is ignored", "vrrp sync group %s already defined at %s", name, s.Pos)
					return nil
				}
			}
			s := &SyncGroup{Pos: l.pos(), Name: name}
			c.SyncGroups = append(c.SyncGroups, s)
			return s
		}, syncGroupBlock()),
		valueKw("static_ipaddress", P2, "static_ipaddress { ADDRESS ... } (options as virtual_ipaddress; track_group draws a notice)", ret, func(p *parser, n any, l *line) {
			c := n.(*Config)
			if a, ok := p.address(l, "static_ipaddress", true); ok {
				c.StaticAddresses = append(c.StaticAddresses, a)
			}
		}),
		valueKw("static_routes", P2, "static_routes { ROUTE ... } (options as virtual_routes; track_group draws a notice)", ret, func(p *parser, n any, l *line) {
			c := n.(*Config)
			if r, ok := p.route(l, "static_routes", true); ok {
				c.StaticRoutes = append(c.StaticRoutes, r)
			}
		}),
		valueKw("static_rules", P2, "static_rules { RULE ... } (options as virtual_rules)", ret, func(p *parser, n any, l *line) {
			c := n.(*Config)
			if r, ok := p.rule(l, "static_rules", &p.autoPref); ok {
				c.StaticRules = append(c.StaticRules, r)
			}
		}),
	)
}

func ret(p *parser, n any, l *line) any { return n }

func p0trackFile(p *parser, n any, l *line) any {
	c := n.(*Config)
	t, ok := p.arg(l, 1)
	if !ok {
		return nil
	}
	if o := c.TrackFiles[t.s]; o != nil {
		p.warn(t.pos, l.toks[0].s, "the second definition is ignored", "track_file %s already defined at %s", t.s, o.Pos)
		return nil
	}
	s := &TrackFile{Pos: l.pos(), Name: t.s, Weight: 1}
	c.TrackFiles[t.s] = s
	return s
}

var _ = netip.Addr{}
