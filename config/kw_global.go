package config

import (
	"math"
	"net/netip"
	"strconv"
	"time"

	"github.com/vigil-ha/vigil/vip"
	"github.com/vigil-ha/vigil/vip/nftfilter"
	"github.com/vigil-ha/vigil/vrrp"
)

// Helpers to build keyword tables compactly.

func kw(name string, tier Tier, syntax, def, rng string, fn handler) *kwDef {
	return &kwDef{name: name, tier: tier, syntax: syntax, def: def, rng: rng, fn: fn}
}

// rawKw is a keyword vigil keeps as Raw and does not act on.
func rawKw(name string, tier Tier, syntax string) *kwDef {
	return &kwDef{name: name, tier: tier, status: NotImplemented, syntax: syntax, raw: true}
}

func legacyKw(name string, syntax string) *kwDef {
	return &kwDef{name: name, tier: P2, status: Legacy, syntax: syntax, raw: true}
}

func blockKw(name string, tier Tier, syntax string, fn handler, sub *block) *kwDef {
	return &kwDef{name: name, tier: tier, syntax: syntax, fn: fn, sub: sub}
}

func valueKw(name string, tier Tier, syntax string, fn handler, v valueHandler) *kwDef {
	return &kwDef{name: name, tier: tier, syntax: syntax, fn: fn, value: v}
}

// gl adapts a Global handler.
func gl(f func(p *parser, g *Global, l *line)) handler {
	return func(p *parser, n any, l *line) any {
		g := n.(*Global)
		if g.set == nil {
			g.set = map[string]Pos{}
		}
		g.set[l.toks[0].s] = l.pos()
		f(p, g, l)
		return nil
	}
}

const maxTimer = time.Duration(math.MaxUint32/1000000) * time.Second // keepalived's UINT_MAX / TIMER_HZ

func globalBlock() *block {
	return newBlock("global_defs",
		kw("router_id", P0, "router_id STRING", "host name", "", gl(func(p *parser, g *Global, l *line) {
			if t, ok := p.arg(l, 1); ok {
				g.RouterID = t.s
			}
		})),
		kw("vmac_prefix", P2, "vmac_prefix STRING", "vrrp", "", gl(func(p *parser, g *Global, l *line) {
			t, ok := p.arg(l, 1)
			if !ok {
				return
			}
			// The prefix becomes part of interface names ("<prefix>.<VRID>"),
			// which the kernel limits to 15 bytes without '/', ':' or blanks.
			if !vip.ValidIfName(t.s) {
				p.warn(t.pos, "vmac_prefix", "ignored", "VMAC prefix %q is not usable in an interface name", t.s)
				return
			}
			g.VMACPrefix = t.s
		})),
		valueKw("notification_email", P1, "notification_email { ADDR ... }", func(p *parser, n any, l *line) any { return n },
			func(p *parser, n any, l *line) {
				g := n.(*Global)
				for _, t := range l.toks {
					g.NotificationEmail = append(g.NotificationEmail, t.s)
				}
			}),
		kw("notification_email_from", P1, "notification_email_from ADDR", "USER@HOST (the user vigild runs as)", "", gl(func(p *parser, g *Global, l *line) {
			if t, ok := p.arg(l, 1); ok {
				g.NotificationEmailFrom = t.s
			}
		})),
		kw("smtp_server", P1, "smtp_server HOST [PORT]", "none", "", gl(func(p *parser, g *Global, l *line) {
			if t, ok := p.arg(l, 1); ok {
				g.SMTPServer = t.s
				g.SMTPServerPort = 0
				if len(l.toks) > 2 {
					if n, ok := p.intArg(l, 2, 1, 65535, "port 25"); ok {
						g.SMTPServerPort = n
					}
				}
			}
		})),
		kw("smtp_connect_timeout", P1, "smtp_connect_timeout SECS", "30", "1..4294", gl(func(p *parser, g *Global, l *line) {
			if n, ok := p.intArg(l, 1, 0, math.MaxUint32/1000000, "keeping "+secs(g.SMTPConnectTimeout)); ok {
				if n == 0 {
					p.warn(l.toks[1].pos, "smtp_connect_timeout", "using 1", "must be greater than 0")
					n = 1
				}
				g.SMTPConnectTimeout = time.Duration(n) * time.Second
			}
		})),
		kw("smtp_helo_name", P2, "smtp_helo_name NAME", "host name", "", gl(func(p *parser, g *Global, l *line) {
			if t, ok := p.arg(l, 1); ok {
				g.SMTPHeloName = t.s
			}
		})),
		kw("smtp_alert", P2, "smtp_alert [BOOL]", "off", "", gl(func(p *parser, g *Global, l *line) {
			if b, ok := p.boolArg(l); ok {
				g.SMTPAlert = b
			}
		})),
		kw("smtp_alert_vrrp", P2, "smtp_alert_vrrp [BOOL]", "smtp_alert", "", gl(func(p *parser, g *Global, l *line) {
			if b, ok := p.boolArg(l); ok {
				g.SMTPAlertVRRP = b
			}
		})),
		kw("smtp_alert_checker", P2, "smtp_alert_checker [BOOL]", "smtp_alert", "", gl(func(p *parser, g *Global, l *line) {
			if b, ok := p.boolArg(l); ok {
				g.SMTPAlertChecker = b
			}
		})),
		kw("no_checker_emails", P2, "no_checker_emails", "off", "", gl(func(p *parser, g *Global, l *line) { g.NoCheckerEmails = true })),
		kw("no_email_faults", P2, "no_email_faults", "off", "", gl(func(p *parser, g *Global, l *line) { g.NoEmailFaults = true })),
	).addAll(
		kw("vrrp_version", P1, "vrrp_version 2|3", "2", "2..3", gl(func(p *parser, g *Global, l *line) {
			if n, ok := p.intArg(l, 1, 2, 3, "using "+strconv.Itoa(g.VRRPVersion)); ok {
				g.VRRPVersion = n
			}
		})),
		kw("vrrp_strict", P1, "vrrp_strict", "off", "", gl(func(p *parser, g *Global, l *line) { g.Strict = true })),
		kw("nftables", P2, "nftables [TABLE]", "vigil, when a filter is needed", "", gl(func(p *parser, g *Global, l *line) {
			if g.NFTables != "" {
				p.warn(l.pos(), "nftables", "ignored", "nftables already specified")
				return
			}
			if len(l.toks) < 2 {
				g.NFTables = nftfilter.DefaultTable
				return
			}
			if err := nftfilter.ValidTableName(l.toks[1].s); err != nil {
				p.warn(l.toks[1].pos, "nftables", "using table "+nftfilter.DefaultTable, "%v", err)
				g.NFTables = nftfilter.DefaultTable
				return
			}
			g.NFTables = l.toks[1].s
		})),
		kw("nftables_priority", P2, "nftables_priority N", "-1", "int32", gl(func(p *parser, g *Global, l *line) {
			if n, ok := p.intArg(l, 1, math.MinInt32, math.MaxInt32, "keeping "+strconv.Itoa(g.NFTablesPriority)); ok {
				g.NFTablesPriority = n
			}
		})),
		kw("nftables_counters", P2, "nftables_counters", "off", "", gl(func(p *parser, g *Global, l *line) { g.NFTablesCounters = true })),
		kw("vrrp_priority", P2, "vrrp_priority -20..19", "inherited", "-20..19", gl(func(p *parser, g *Global, l *line) {
			if n, ok := p.intArg(l, 1, -20, 19, "ignored"); ok {
				g.VRRPPriority = &n
			}
		})),
		kw("startup_script", P2, "startup_script SCRIPT [USER [GROUP]]", "none", "", gl(func(p *parser, g *Global, l *line) {
			p.startStopScript(l, &g.StartupScript, &g.StartupScriptTimeout)
		})),
		kw("startup_script_timeout", P2, "startup_script_timeout SECS", "10", "1..1000", gl(func(p *parser, g *Global, l *line) {
			if n, ok := p.intArg(l, 1, 1, 1000, "ignored"); ok {
				g.StartupScriptTimeout = time.Duration(n) * time.Second
			}
		})),
		kw("shutdown_script", P2, "shutdown_script SCRIPT [USER [GROUP]]", "none", "", gl(func(p *parser, g *Global, l *line) {
			p.startStopScript(l, &g.ShutdownScript, &g.ShutdownScriptTimeout)
		})),
		kw("shutdown_script_timeout", P2, "shutdown_script_timeout SECS", "10", "1..1000", gl(func(p *parser, g *Global, l *line) {
			if n, ok := p.intArg(l, 1, 1, 1000, "ignored"); ok {
				g.ShutdownScriptTimeout = time.Duration(n) * time.Second
			}
		})),
		kw("vrrp_garp_master_delay", P1, "vrrp_garp_master_delay SECS", "5", "0..4294", gl(func(p *parser, g *Global, l *line) {
			if d, ok := p.garpSecsArg(l, "keeping "+secs(g.GARPMasterDelay)); ok {
				g.GARPMasterDelay = d
			}
		})),
		kw("vrrp_garp_master_repeat", P1, "vrrp_garp_master_repeat N", "5", "1..", gl(func(p *parser, g *Global, l *line) {
			if n, ok := p.garpRepeatArg(l, "keeping "+strconv.Itoa(g.GARPMasterRepeat), ""); ok {
				g.GARPMasterRepeat = n
			}
		})),
		kw("vrrp_garp_extra_if", P2, "vrrp_garp_extra_if [all] SECS (with all: a master's GARP/NA every SECS on its VIPs' other interfaces)", "0 (off)", "0..86400", gl(func(p *parser, g *Global, l *line) {
			if d, all, ok := p.garpExtraIfArg(l, ""); ok {
				g.GARPExtraIf, g.GARPExtraIfAll = d, all
			}
		})),
		deprecated(kw("vrrp_vmac_garp_intvl", P2, "vrrp_vmac_garp_intvl [all] SECS (use vrrp_garp_extra_if)", "0 (off)", "0..86400", gl(func(p *parser, g *Global, l *line) {
			if d, all, ok := p.garpExtraIfArg(l, ""); ok {
				g.GARPExtraIf, g.GARPExtraIfAll = d, all
			}
		}))),
		kw("vrrp_garp_master_refresh", P1, "vrrp_garp_master_refresh SECS", "0 (off)", "0..", gl(func(p *parser, g *Global, l *line) {
			if d, ok := p.garpSecsArg(l, "keeping "+secs(g.GARPMasterRefresh)); ok {
				g.GARPMasterRefresh = d
			}
		})),
		kw("vrrp_garp_master_refresh_repeat", P2, "vrrp_garp_master_refresh_repeat N", "1", "1..", gl(func(p *parser, g *Global, l *line) {
			if n, ok := p.garpRepeatArg(l, "keeping "+strconv.Itoa(g.GARPMasterRefreshRepeat), ""); ok {
				g.GARPMasterRefreshRepeat = n
			}
		})),
		kw("vrrp_garp_lower_prio_delay", P2, "vrrp_garp_lower_prio_delay SECS", "vrrp_garp_master_delay", "0..4294", gl(func(p *parser, g *Global, l *line) {
			if d, ok := p.garpSecsArg(l, "ignored"); ok {
				g.GARPLowerPrioDelay = d
			} else {
				delete(g.set, "vrrp_garp_lower_prio_delay")
			}
		})),
		kw("vrrp_garp_lower_prio_repeat", P2, "vrrp_garp_lower_prio_repeat N", "vrrp_garp_master_repeat", "0..", gl(func(p *parser, g *Global, l *line) {
			if n, ok := p.intArg(l, 1, 0, math.MaxInt32, "ignored"); ok {
				g.GARPLowerPrioRepeat = n
			} else {
				delete(g.set, "vrrp_garp_lower_prio_repeat")
			}
		})),
		kw("vrrp_garp_interval", P1, "vrrp_garp_interval SECS", "0", "0.000001..4294", gl(func(p *parser, g *Global, l *line) {
			if d, ok := p.timerArg(l, 1, time.Microsecond, maxTimer, "keeping "+secs(g.GARPInterval)); ok {
				g.GARPInterval = d
			}
		})),
		kw("vrrp_gna_interval", P1, "vrrp_gna_interval SECS", "0", "0.000001..4294", gl(func(p *parser, g *Global, l *line) {
			if d, ok := p.timerArg(l, 1, time.Microsecond, maxTimer, "keeping "+secs(g.GNAInterval)); ok {
				g.GNAInterval = d
			}
		})),
		kw("vrrp_down_timer_adverts", P2, "vrrp_down_timer_adverts N", "3", "1..100", gl(func(p *parser, g *Global, l *line) {
			if n, ok := p.intArg(l, 1, 1, 100, "keeping "+strconv.Itoa(g.DownTimerAdverts)); ok {
				g.DownTimerAdverts = n
			}
		})),
		kw("vrrp_mcast_group4", P2, "vrrp_mcast_group4 ADDR", vrrp.GroupIPv4.String(), "IPv4 multicast", gl(func(p *parser, g *Global, l *line) {
			if a, ok := p.addrArg(l, 1, "keeping "+g.McastGroup4.String()); ok {
				if !a.Is4() || !a.IsMulticast() {
					p.warn(l.toks[1].pos, "vrrp_mcast_group4", "keeping "+g.McastGroup4.String(), "%s is not an IPv4 multicast address", a)
					return
				}
				g.McastGroup4 = a
			}
		})),
		kw("vrrp_mcast_group6", P2, "vrrp_mcast_group6 ADDR", vrrp.GroupIPv6.String(), "IPv6 multicast", gl(func(p *parser, g *Global, l *line) {
			if a, ok := p.addrArg(l, 1, "keeping "+g.McastGroup6.String()); ok {
				if !a.Is6() || !a.IsMulticast() {
					p.warn(l.toks[1].pos, "vrrp_mcast_group6", "keeping "+g.McastGroup6.String(), "%s is not an IPv6 multicast address", a)
					return
				}
				if !a.IsLinkLocalMulticast() {
					p.warn(l.toks[1].pos, "vrrp_mcast_group6", "using it anyway", "%s should be link-local multicast", a)
				}
				g.McastGroup6 = a
			}
		})),
		kw("enable_script_security", P1, "enable_script_security", "off", "", gl(func(p *parser, g *Global, l *line) { g.EnableScriptSecurity = true })),
		kw("script_user", P1, "script_user USER [GROUP]", "keepalived_script, else root", "", gl(func(p *parser, g *Global, l *line) {
			t, ok := p.arg(l, 1)
			if !ok {
				return
			}
			if p.opts.UserExists != nil && !p.opts.UserExists(t.s) {
				p.warn(t.pos, "script_user", "scripts run as root", "user %q does not exist", t.s)
				return
			}
			g.ScriptUser = t.s
			g.ScriptGroup = ""
			if len(l.toks) > 2 {
				g.ScriptGroup = l.toks[2].s
			}
		})),
		kw("notify_fifo", P2, "notify_fifo PATH [USER [GROUP]]", "none", "", gl(func(p *parser, g *Global, l *line) {
			if c := p.command(l, true); c != nil {
				g.NotifyFIFO = c
			}
		})),
		kw("notify_fifo_script", P2, "notify_fifo_script SCRIPT [USER [GROUP]]", "none", "", gl(func(p *parser, g *Global, l *line) {
			if c := p.command(l, true); c != nil {
				g.NotifyFIFOScript = c
			}
		})),
		kw("vrrp_notify_fifo", P2, "vrrp_notify_fifo PATH [USER [GROUP]]", "none", "", gl(func(p *parser, g *Global, l *line) {
			if c := p.command(l, true); c != nil {
				g.VRRPNotifyFIFO = c
			}
		})),
		kw("vrrp_notify_fifo_script", P2, "vrrp_notify_fifo_script SCRIPT [USER [GROUP]]", "none", "", gl(func(p *parser, g *Global, l *line) {
			if c := p.command(l, true); c != nil {
				g.VRRPNotifyFIFOScript = c
			}
		})),
		kw("vrrp_startup_delay", P2, "vrrp_startup_delay SECS", "0", "0.001..4294", gl(func(p *parser, g *Global, l *line) {
			if d, ok := p.timerArg(l, 1, time.Millisecond, maxTimer, "keeping "+secs(g.VRRPStartupDelay)); ok {
				g.VRRPStartupDelay = d
			}
		})),
		kw("default_interface", P2, "default_interface IFNAME", "eth0", "", gl(func(p *parser, g *Global, l *line) {
			if t, ok := p.arg(l, 1); ok {
				g.DefaultInterface = t.s
			}
		})),
		kw("vrrp_lower_prio_no_advert", P2, "vrrp_lower_prio_no_advert [BOOL]", "off", "", gl(func(p *parser, g *Global, l *line) {
			if b, ok := p.boolArg(l); ok {
				g.LowerPrioNoAdvert = b
			}
		})),
		kw("vrrp_higher_prio_send_advert", P2, "vrrp_higher_prio_send_advert [BOOL]", "off", "", gl(func(p *parser, g *Global, l *line) {
			if b, ok := p.boolArg(l); ok {
				g.HigherPrioSendAdvert = b
			}
		})),
		kw("vrrp_skip_check_adv_addr", P1, "vrrp_skip_check_adv_addr", "off", "", gl(func(p *parser, g *Global, l *line) { g.SkipCheckAdvAddr = true })),
		kw("vrrp_check_unicast_src", P2, "vrrp_check_unicast_src", "off", "", gl(func(p *parser, g *Global, l *line) { g.CheckUnicastSrc = true })),
		kw("dynamic_interfaces", P2, "dynamic_interfaces [allow_if_changes]", "off", "", gl(func(p *parser, g *Global, l *line) {
			g.DynamicInterfaces = true
			switch {
			case len(l.toks) < 2:
			case l.toks[1].s == "allow_if_changes":
				// keepalived refuses, without it, a recreated interface whose
				// macvlan/ipvlan kind or base changed; vigil has no such
				// interfaces of its own and follows any recreated one.
				p.notice(l.toks[1].pos, "dynamic_interfaces", "accepted", "allow_if_changes: vigil always follows a recreated interface, whatever its kind")
			default:
				p.warn(l.toks[1].pos, "dynamic_interfaces", "ignored", "unknown option %q", l.toks[1].s)
			}
		})),
	)
}

// startStopScript reads startup_script or shutdown_script: a second one is
// ignored, and the timeout becomes 10 s unless a timeout keyword came first
// (keepalived's order rule).
func (p *parser) startStopScript(l *line, cmd **Command, timeout *time.Duration) {
	kw := l.toks[0].s
	if *cmd != nil {
		p.warn(l.pos(), kw, "ignored", "%s already specified", kw)
		return
	}
	c := p.command(l, true)
	if c == nil {
		return
	}
	*cmd = c
	if *timeout == 0 {
		*timeout = 10 * time.Second
	}
}

// deprecated marks a modelled keyword that keepalived accepts with a
// deprecation warning.
func deprecated(k *kwDef) *kwDef { k.status = Deprecated; return k }

// notImpl marks a modelled keyword that vigil does not act on.
func (k *kwDef) notImpl() *kwDef { k.status = NotImplemented; return k }

func (b *block) addAll(kws ...*kwDef) *block { b.add(kws...); return b }

// globalRaw lists the global_defs keywords vigil parses but does not act on.
var globalRaw = []struct {
	name   string
	syntax string
}{
	{"process_names", ""}, {"process_name", "NAME"}, {"vrrp_process_name", "NAME"}, {"checker_process_name", "NAME"},
	{"lvs_process_name", "NAME"}, {"bfd_process_name", "NAME"},
	{"max_auto_priority", "[-1..99]"}, {"min_auto_priority_delay", "USECS"},
	{"checker_log_all_failures", "[BOOL]"},
	{"disable_local_igmp", ""},
	{"vrrp_min_garp", "[BOOL]"},
	{"vrrp_iptables", "[IN [OUT]]"}, {"vrrp_ipsets", "[NAMES...]"},
	{"nftables_ifindex", "[BOOL]"},
	{"nftables_ipvs", "[TABLE]"}, {"nftables_ipvs_priority", "N"}, {"nftables_ipvs_start_fwmark", "N"},
	{"vrrp_no_swap", ""}, {"vrrp_rt_priority", "1..99"}, {"vrrp_cpu_affinity", "CPU..."},
	{"vrrp_rlimit_rttime", "USECS"}, {"vrrp_rlimit_rtime", "USECS"},
	{"vrrp_notify_priority_changes", "[BOOL]"}, {"fifo_write_vrrp_states_on_reload", ""},
	{"checker_priority", "-20..19"}, {"checker_no_swap", ""}, {"checker_rt_priority", "1..99"}, {"checker_cpu_affinity", "CPU..."},
	{"checker_rlimit_rttime", "USECS"}, {"checker_rlimit_rtime", "USECS"},
	{"bfd_priority", "-20..19"}, {"bfd_no_swap", ""}, {"bfd_rt_priority", "1..99"}, {"bfd_cpu_affinity", "CPU..."},
	{"bfd_rlimit_rttime", "USECS"}, {"bfd_rlimit_rtime", "USECS"},
	{"snmp_socket", "SPEC"}, {"enable_traps", ""}, {"enable_snmp_vrrp", ""}, {"enable_snmp_keepalived", ""},
	{"enable_snmp_rfc", ""}, {"enable_snmp_rfcv2", ""}, {"enable_snmp_rfcv3", ""}, {"enable_snmp_checker", ""},
	{"enable_dbus", ""}, {"dbus_service_name", "NAME"},
	{"vrrp_netlink_cmd_rcv_bufs", "BYTES"}, {"vrrp_netlink_cmd_rcv_bufs_force", "[BOOL]"},
	{"vrrp_netlink_monitor_rcv_bufs", "BYTES"}, {"vrrp_netlink_monitor_rcv_bufs_force", "[BOOL]"},
	{"process_monitor_rcv_bufs", "BYTES"}, {"process_monitor_rcv_bufs_force", "[BOOL]"},
	{"lvs_netlink_cmd_rcv_bufs", "BYTES"}, {"lvs_netlink_cmd_rcv_bufs_force", "[BOOL]"},
	{"lvs_netlink_monitor_rcv_bufs", "BYTES"}, {"lvs_netlink_monitor_rcv_bufs_force", "[BOOL]"},
	{"vrrp_rx_bufs_policy", "MTU|ADVERT|N"}, {"vrrp_rx_bufs_multiplier", "N"},
	{"log_unknown_vrids", ""}, {"vmac_addr_prefix", "STRING"},
	{"umask", "NUMBER|BITS"}, {"random_seed", "UINT"},
	{"reload_check_config", "[FILE]"}, {"reload_time_file", "FILE"}, {"reload_repeat", ""}, {"reload_file", "FILE"},
	{"include_check", "[TYPES]"}, {"config_save_dir", "DIR"}, {"tmp_config_directory", "DIR"}, {"data_use_instance", ""},
}

func topBlock() *block {
	g := globalBlock()
	for _, r := range globalRaw {
		g.add(rawKw(r.name, P2, r.name+" "+r.syntax))
	}
	g.add(kw("lvs_notify_fifo", P2, "lvs_notify_fifo PATH [USER [GROUP]]", "none", "", gl(func(p *parser, g *Global, l *line) {
		if c := p.command(l, true); c != nil {
			g.LVSNotifyFIFO = c
		}
	})))
	g.add(kw("lvs_notify_fifo_script", P2, "lvs_notify_fifo_script SCRIPT [USER [GROUP]]", "none", "", gl(func(p *parser, g *Global, l *line) {
		if c := p.command(l, true); c != nil {
			g.LVSNotifyFIFOScript = c
		}
	})))
	g.add(kw("rs_init_notifies", P2, "rs_init_notifies", "off", "", gl(func(p *parser, g *Global, l *line) { g.RSInitNotifies = true })))
	g.add(kw("lvs_flush", P2, "lvs_flush", "off", "", gl(func(p *parser, g *Global, l *line) { g.LVSFlush = true })))
	g.add(kw("lvs_timeouts", P2, "lvs_timeouts [tcp S] [tcpfin S] [udp S]", "kernel's", "0..2678400", gl(func(p *parser, g *Global, l *line) {
		p.lvsTimeouts(g, l)
	})))
	for _, name := range []string{"lvs_flush_on_stop", "lvs_flush_onstop"} {
		g.add(kw(name, P2, name+" [VS]", "remove each service and its real servers", "", gl(func(p *parser, g *Global, l *line) {
			p.lvsFlushOnStop(g, l)
		})))
	}
	g.add(kw("lvs_sync_daemon", P2, "lvs_sync_daemon IF [[inst] VRRP_INST] [id N] [maxlen N] [port N] [ttl N] [group ADDR]", "none", "",
		gl(func(p *parser, g *Global, l *line) { p.lvsSyncDaemon(g, l) })))
	g.add(legacyKw("lvs_id", "lvs_id STRING (keepalived 1.x; use router_id)"))
	top := newBlock("top level",
		blockKw("global_defs", P0, "global_defs { ... }", func(p *parser, n any, l *line) any {
			c := n.(*Config)
			if !c.Global.Pos.IsValid() {
				c.Global.Pos = l.pos()
			}
			return &c.Global
		}, g),
		kw("net_namespace", P2, "net_namespace NAME", "none", "", func(p *parser, n any, l *line) any {
			if t, ok := p.arg(l, 1); ok {
				n.(*Config).Process.NetNamespace = t.s
			}
			return nil
		}).notImpl(),
		kw("net_namespace_ipvs", P2, "net_namespace_ipvs [NAME]", "same", "", func(p *parser, n any, l *line) any {
			if len(l.toks) > 1 {
				n.(*Config).Process.NetNamespaceIPVS = l.toks[1].s
			}
			return nil
		}).notImpl(),
		kw("instance", P2, "instance NAME", "none", "", func(p *parser, n any, l *line) any {
			if t, ok := p.arg(l, 1); ok {
				n.(*Config).Process.InstanceName = t.s
			}
			return nil
		}).notImpl(),
		kw("use_pid_dir", P2, "use_pid_dir", "off", "", func(p *parser, n any, l *line) any {
			n.(*Config).Process.UsePidDir = true
			return nil
		}).notImpl(),
		rawKw("namespace_with_ipsets", P2, "namespace_with_ipsets"),
		rawKw("linkbeat_use_polling", P2, "linkbeat_use_polling"),
		rawKw("child_wait_time", P2, "child_wait_time SECS"),
		rawKw("linkbeat_interfaces", P2, "linkbeat_interfaces { IF [MII|ETHTOOL|IOCTL] ... }"),
		valueKw("interface_up_down_delays", P2, "interface_up_down_delays { IF DOWN_SECS [UP_SECS] ... }", ret, func(p *parser, n any, l *line) {
			p.ifaceDelay(n.(*Config), l)
		}),
		rawKw("track_group", P2, "track_group NAME { group { INST ... } }"),
		rawKw("garp_group", P2, "garp_group { garp_interval T; gna_interval T; interface IF | interfaces { ... } }"),
		rawKw("bfd_instance", P2, "bfd_instance NAME { ... }"),
	)
	addVRRPTop(top)
	addLVSTop(top)
	addConntrackTop(top)
	return top
}

// parseIP is netip.ParseAddr without zones, IPv4-mapped addresses unmapped.
func parseIP(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// lvsTimeouts reads "lvs_timeouts [tcp S] [tcpfin S] [udp S]" (at least
// one; each 0..2678400 seconds, 0 = leave the kernel's value).
func (p *parser) lvsTimeouts(g *Global, l *line) {
	var t LVSTimeouts
	if len(l.toks) < 3 || len(l.toks)%2 == 0 {
		p.warn(l.pos(), "lvs_timeouts", "ignored", "want one or more of: tcp SECS, tcpfin SECS, udp SECS")
		return
	}
	for i := 1; i+1 < len(l.toks); i += 2 {
		n, ok := p.intArg(l, i+1, 0, 2678400, "ignored")
		if !ok {
			return
		}
		switch l.toks[i].s {
		case "tcp":
			t.TCP = n
		case "tcpfin":
			t.TCPFin = n
		case "udp":
			t.UDP = n
		default:
			p.warn(l.toks[i].pos, "lvs_timeouts", "ignored", "unknown timeout %q", l.toks[i].s)
			return
		}
	}
	g.LVSTimeouts = t
}

// lvsFlushOnStop reads "lvs_flush_on_stop [VS]": bare, the whole IPVS
// table is flushed at stop; VS, each service is deleted without its real
// servers being removed one by one (and without their notifications).
func (p *parser) lvsFlushOnStop(g *Global, l *line) {
	switch {
	case len(l.toks) == 1:
		g.LVSFlushOnStop = FlushOnStopAll
	case len(l.toks) == 2 && l.toks[1].s == "VS":
		g.LVSFlushOnStop = FlushOnStopVS
	default:
		p.warn(l.toks[1].pos, l.toks[0].s, "ignored", "want no argument or VS, not %q", l.toks[1].s)
	}
}

// lvsSyncDaemon reads "lvs_sync_daemon IFNAME [[inst] VRRP_INSTANCE] [id
// 0..255] [maxlen 1..65507] [port 1..65535] [ttl 1..255] [group ADDR]"
// as keepalived does: a bare third word is the instance, a bare fourth the
// sync id; the group must be a multicast address.
func (p *parser) lvsSyncDaemon(g *Global, l *line) {
	t, ok := p.arg(l, 1)
	if !ok {
		return
	}
	if len(t.s) >= 16 {
		p.warn(t.pos, "lvs_sync_daemon", "ignored", "interface name %q is too long", t.s)
		return
	}
	sd := &LVSSyncDaemon{Pos: l.pos(), Interface: t.s}
	for i := 2; i < len(l.toks); i++ {
		w := l.toks[i].s
		num := func(lo, hi int64) (int, bool) {
			i++
			return p.intArg(l, i, lo, hi, "lvs_sync_daemon ignored")
		}
		var ok bool
		switch {
		case w == "inst":
			var a token
			i++
			if a, ok = p.arg(l, i); ok {
				sd.Instance = a.s
			}
		case w == "id":
			sd.SyncID, ok = num(0, 255)
			sd.SyncIDSet = ok
		case w == "maxlen":
			sd.MaxLen, ok = num(1, 65507)
		case w == "port":
			sd.Port, ok = num(1, 65535)
		case w == "ttl":
			sd.TTL, ok = num(1, 255)
		case w == "group":
			i++
			sd.Group, ok = p.addrArg(l, i, "lvs_sync_daemon ignored")
			if ok && !sd.Group.IsMulticast() {
				p.warn(l.toks[i].pos, "lvs_sync_daemon", "ignored", "group %s is not a multicast address", sd.Group)
				ok = false
			}
		case i == 2:
			sd.Instance, ok = w, true
		case i == 3 && sd.Instance != "":
			i--
			sd.SyncID, ok = num(0, 255)
			sd.SyncIDSet = ok
		default:
			p.warn(l.toks[i].pos, "lvs_sync_daemon", "ignored", "unknown option %q", w)
		}
		if !ok {
			return
		}
	}
	g.LVSSyncDaemon = sd
}
