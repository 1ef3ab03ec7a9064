package config

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Dump prints the effective configuration in keepalived.conf syntax: every
// value explicit (defaults and inherited values resolved), includes,
// conditionals and parameters already applied. Parse of its output gives
// the same model, positions aside.
func Dump(cfg *Config) []byte {
	if cfg == nil {
		return nil
	}
	d := &dumper{}
	d.config(cfg)
	return d.buf.Bytes()
}

type dumper struct {
	buf   bytes.Buffer
	depth int
	// mailDefault is the smtp_alert instances and groups inherit; theirs
	// is written when it differs.
	mailDefault bool
}

// quote makes s one token for keepalived's tokenizer.
func quote(s string) string {
	if s == "" {
		return `""`
	}
	if strings.ContainsAny(s, " \t\"{}#!'\\$") {
		return `"` + s + `"`
	}
	return s
}

func (d *dumper) line(words ...string) {
	d.buf.WriteString(strings.Repeat("    ", d.depth))
	d.buf.WriteString(strings.Join(words, " "))
	d.buf.WriteByte('\n')
}

func (d *dumper) open(words ...string) {
	d.line(append(words, "{")...)
	d.depth++
}

func (d *dumper) close() {
	d.depth--
	d.line("}")
}

// list writes the block name with one entry per item, or nothing when
// there are no items.
func list[T any](d *dumper, name string, items []T, entry func(T)) {
	if len(items) == 0 {
		return
	}
	d.open(name)
	for _, it := range items {
		entry(it)
	}
	d.close()
}

func q(words ...string) []string {
	out := make([]string, len(words))
	for i, w := range words {
		out[i] = quote(w)
	}
	return out
}

func itoa(n int) string { return strconv.Itoa(n) }

func onOff(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// scriptString renders argv so that keepalived's two-level split gives it
// back: each argument escaped (quotes as octal \042 and \047, so that no bare
// quote confuses the brace splitter) and single-quoted when needed, the
// whole in double quotes with backslashes escaped again.
func scriptString(argv []string) string {
	parts := make([]string, len(argv))
	for i, a := range argv {
		e := strings.NewReplacer(`\`, `\\`, `'`, `\047`, `"`, `\042`).Replace(a)
		if a == "" || strings.ContainsAny(a, " \t") {
			e = "'" + e + "'"
		}
		parts[i] = e
	}
	inner := strings.Join(parts, " ")
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(inner) + `"`
}

func (d *dumper) cmd(kw string, c *Command, withUser bool) {
	if c == nil {
		return
	}
	w := []string{kw, scriptString(c.Argv)}
	if withUser && c.User != "" {
		w = append(w, quote(c.User))
		if c.Group != "" {
			w = append(w, quote(c.Group))
		}
	}
	d.line(w...)
}

func (d *dumper) raws(rs []Raw) {
	for _, r := range rs {
		w := []string{}
		if r.Keyword != "" {
			w = append(w, quote(r.Keyword))
		}
		w = append(w, q(r.Args...)...)
		if r.IsBlock {
			d.open(w...)
			d.raws(r.Block)
			d.close()
			continue
		}
		d.line(w...)
	}
}

func (d *dumper) config(c *Config) {
	d.line("# effective configuration printed by vigild --dump-config")
	if c.Process.NetNamespace != "" {
		d.line("net_namespace", quote(c.Process.NetNamespace))
	}
	if c.Process.NetNamespaceIPVS != "" {
		d.line("net_namespace_ipvs", quote(c.Process.NetNamespaceIPVS))
	}
	if c.Process.InstanceName != "" {
		d.line("instance", quote(c.Process.InstanceName))
	}
	if c.Process.UsePidDir {
		d.line("use_pid_dir")
	}
	d.global(&c.Global)
	d.raws(c.Extra)
	list(d, "static_ipaddress", c.StaticAddresses, d.address)
	list(d, "static_routes", c.StaticRoutes, d.route)
	list(d, "static_rules", c.StaticRules, d.rule)
	list(d, "interface_up_down_delays", c.IfaceDelays, func(x IfaceDelay) {
		d.line(quote(x.Interface), secs(x.Down), secs(x.Up))
	})
	for _, name := range sortedKeys(c.Scripts) {
		d.script(c.Scripts[name])
	}
	for _, name := range sortedKeys(c.TrackFiles) {
		f := c.TrackFiles[name]
		d.open("track_file", quote(name))
		d.line("file", quote(f.File))
		w := []string{"weight", itoa(f.Weight)}
		if f.Reverse {
			w = append(w, "reverse")
		}
		d.line(w...)
		if f.InitFile {
			w := []string{"init_file", itoa(f.InitValue)}
			if f.Overwrite {
				w = append(w, "overwrite")
			}
			d.line(w...)
		}
		d.close()
	}
	for _, name := range sortedKeys(c.TrackProcesses) {
		t := c.TrackProcesses[name]
		d.open("vrrp_track_process", quote(name))
		d.line(append([]string{"process", quote(t.Process)}, q(t.Args...)...)...)
		if t.ParamMatch != "" {
			d.line("param_match", t.ParamMatch)
		}
		w := []string{"weight", itoa(t.Weight)}
		if t.Reverse {
			w = append(w, "reverse")
		}
		d.line(w...)
		if t.Quorum > 0 {
			d.line("quorum", itoa(t.Quorum))
		}
		if t.QuorumMax >= 0 {
			d.line("quorum_max", itoa(t.QuorumMax))
		}
		if t.ForkDelay != 0 {
			d.line("fork_delay", secs(t.ForkDelay))
		}
		if t.TerminateDelay != 0 {
			d.line("terminate_delay", secs(t.TerminateDelay))
		}
		if t.FullCommand {
			d.line("full_command")
		}
		d.close()
	}
	for _, g := range c.SyncGroups {
		d.syncGroup(g)
	}
	for _, x := range c.Instances {
		d.instance(x)
	}
	for _, name := range sortedKeys(c.VirtualServerGroups) {
		g := c.VirtualServerGroups[name]
		d.open("virtual_server_group", quote(name))
		for _, e := range g.Entries {
			if e.IsFWMark {
				w := []string{"fwmark", strconv.FormatUint(uint64(e.FWMark), 10)}
				if e.Family != "" {
					w = append(w, e.Family)
				}
				d.line(w...)
				continue
			}
			a := e.Addr.String()
			if e.RangeEnd != 0 {
				if e.Addr.Is6() {
					a += "-" + strconv.FormatInt(int64(e.RangeEnd), 16)
				} else {
					a += "-" + itoa(e.RangeEnd)
				}
			}
			if e.Port != 0 {
				d.line(a, itoa(e.Port))
			} else {
				d.line(a)
			}
		}
		d.close()
	}
	for _, v := range c.VirtualServers {
		d.virtualServer(v)
	}
	if c.SSL != nil {
		d.open("SSL")
		if c.SSL.Password != "" {
			d.line("password", quote(c.SSL.Password))
		}
		if c.SSL.CA != "" {
			d.line("ca", quote(c.SSL.CA))
		}
		if c.SSL.Certificate != "" {
			d.line("certificate", quote(c.SSL.Certificate))
		}
		if c.SSL.Key != "" {
			d.line("key", quote(c.SSL.Key))
		}
		d.close()
	}
	if s := c.ConntrackSync; s != nil {
		d.dumpConntrack(s)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (d *dumper) global(g *Global) {
	d.open("global_defs")
	if g.RouterID != "" {
		d.line("router_id", quote(g.RouterID))
	}
	if g.VMACPrefix != "" {
		d.line("vmac_prefix", quote(g.VMACPrefix))
	}
	if len(g.NotificationEmail) > 0 {
		d.open("notification_email")
		for _, e := range g.NotificationEmail {
			d.line(quote(e))
		}
		d.close()
	}
	if g.NotificationEmailFrom != "" {
		d.line("notification_email_from", quote(g.NotificationEmailFrom))
	}
	if g.SMTPServer != "" {
		if g.SMTPServerPort != 0 {
			d.line("smtp_server", quote(g.SMTPServer), itoa(g.SMTPServerPort))
		} else {
			d.line("smtp_server", quote(g.SMTPServer))
		}
	}
	d.line("smtp_connect_timeout", itoa(int(g.SMTPConnectTimeout/time.Second)))
	if g.SMTPHeloName != "" {
		d.line("smtp_helo_name", quote(g.SMTPHeloName))
	}
	if g.SMTPAlert {
		d.line("smtp_alert", "true")
	}
	if _, ok := g.set["smtp_alert_vrrp"]; ok {
		d.line("smtp_alert_vrrp", onOff(g.SMTPAlertVRRP))
	}
	if _, ok := g.set["smtp_alert_checker"]; ok {
		d.line("smtp_alert_checker", onOff(g.SMTPAlertChecker))
	}
	if g.NoEmailFaults {
		d.line("no_email_faults")
	}
	if g.NoCheckerEmails {
		d.line("no_checker_emails")
	}
	d.mailDefault = g.vrrpMailDefault()
	d.line("vrrp_version", itoa(g.VRRPVersion))
	if g.Strict {
		d.line("vrrp_strict")
	}
	d.line("vrrp_garp_master_delay", itoa(int(g.GARPMasterDelay/time.Second)))
	d.line("vrrp_garp_master_repeat", itoa(g.GARPMasterRepeat))
	d.line("vrrp_garp_master_refresh", itoa(int(g.GARPMasterRefresh/time.Second)))
	if g.GARPExtraIf > 0 && g.GARPExtraIfAll {
		d.line("vrrp_garp_extra_if", "all", itoa(int(g.GARPExtraIf/time.Second)))
	} else if g.GARPExtraIf > 0 {
		d.line("vrrp_garp_extra_if", itoa(int(g.GARPExtraIf/time.Second)))
	}
	d.line("vrrp_garp_master_refresh_repeat", itoa(g.GARPMasterRefreshRepeat))
	d.line("vrrp_garp_lower_prio_delay", itoa(int(g.GARPLowerPrioDelay/time.Second)))
	d.line("vrrp_garp_lower_prio_repeat", itoa(g.GARPLowerPrioRepeat))
	if g.GARPInterval != 0 {
		d.line("vrrp_garp_interval", secs(g.GARPInterval))
	}
	if g.GNAInterval != 0 {
		d.line("vrrp_gna_interval", secs(g.GNAInterval))
	}
	d.line("vrrp_mcast_group4", g.McastGroup4.String())
	d.line("vrrp_mcast_group6", g.McastGroup6.String())
	d.line("vrrp_down_timer_adverts", itoa(g.DownTimerAdverts))
	if g.EnableScriptSecurity {
		d.line("enable_script_security")
	}
	if g.LVSFlush {
		d.line("lvs_flush")
	}
	if t := g.LVSTimeouts; t != (LVSTimeouts{}) {
		d.line("lvs_timeouts", "tcp", itoa(t.TCP), "tcpfin", itoa(t.TCPFin), "udp", itoa(t.UDP))
	}
	switch g.LVSFlushOnStop {
	case FlushOnStopVS:
		d.line("lvs_flush_on_stop", "VS")
	case FlushOnStopAll:
		d.line("lvs_flush_on_stop")
	}
	if sd := g.LVSSyncDaemon; sd != nil {
		w := []string{"lvs_sync_daemon", sd.Interface}
		if sd.Instance != "" {
			w = append(w, "inst", sd.Instance)
		}
		w = append(w, "id", itoa(sd.SyncID))
		for _, o := range []struct {
			k string
			v int
		}{{"maxlen", sd.MaxLen}, {"port", sd.Port}, {"ttl", sd.TTL}} {
			if o.v != 0 {
				w = append(w, o.k, itoa(o.v))
			}
		}
		if sd.Group.IsValid() {
			w = append(w, "group", sd.Group.String())
		}
		d.line(w...)
	}
	if g.ScriptUser != "" {
		w := []string{"script_user", quote(g.ScriptUser)}
		if g.ScriptGroup != "" {
			w = append(w, quote(g.ScriptGroup))
		}
		d.line(w...)
	}
	d.cmd("notify_fifo", g.NotifyFIFO, true)
	d.cmd("notify_fifo_script", g.NotifyFIFOScript, true)
	d.cmd("vrrp_notify_fifo", g.VRRPNotifyFIFO, true)
	d.cmd("vrrp_notify_fifo_script", g.VRRPNotifyFIFOScript, true)
	d.cmd("lvs_notify_fifo", g.LVSNotifyFIFO, true)
	d.cmd("lvs_notify_fifo_script", g.LVSNotifyFIFOScript, true)
	if g.RSInitNotifies {
		d.line("rs_init_notifies")
	}
	if g.StartupScriptTimeout != 0 {
		d.line("startup_script_timeout", itoa(int(g.StartupScriptTimeout/time.Second)))
	}
	d.cmd("startup_script", g.StartupScript, true)
	if g.ShutdownScriptTimeout != 0 {
		d.line("shutdown_script_timeout", itoa(int(g.ShutdownScriptTimeout/time.Second)))
	}
	d.cmd("shutdown_script", g.ShutdownScript, true)
	if g.NFTables != "" {
		d.line("nftables", g.NFTables)
	}
	if g.NFTablesPriority != -1 {
		d.line("nftables_priority", itoa(g.NFTablesPriority))
	}
	if g.NFTablesCounters {
		d.line("nftables_counters")
	}
	if g.VRRPPriority != nil {
		d.line("vrrp_priority", itoa(*g.VRRPPriority))
	}
	if g.VRRPStartupDelay != 0 {
		d.line("vrrp_startup_delay", secs(g.VRRPStartupDelay))
	}
	if g.DefaultInterface != "" {
		d.line("default_interface", quote(g.DefaultInterface))
	}
	d.line("vrrp_lower_prio_no_advert", onOff(g.LowerPrioNoAdvert))
	d.line("vrrp_higher_prio_send_advert", onOff(g.HigherPrioSendAdvert))
	if g.SkipCheckAdvAddr {
		d.line("vrrp_skip_check_adv_addr")
	}
	if g.CheckUnicastSrc {
		d.line("vrrp_check_unicast_src")
	}
	if g.DynamicInterfaces {
		d.line("dynamic_interfaces")
	}
	d.raws(g.Extra)
	d.close()
}

func (d *dumper) script(s *Script) {
	d.open("vrrp_script", quote(s.Name))
	if s.Cmd != nil {
		d.line("script", scriptString(s.Cmd.Argv))
	}
	d.line("interval", itoa(int(s.Interval/time.Second)))
	d.line("timeout", itoa(int(s.Timeout/time.Second)))
	w := []string{"weight", itoa(s.Weight)}
	if s.Reverse {
		w = append(w, "reverse")
	}
	d.line(w...)
	d.line("rise", itoa(s.Rise))
	d.line("fall", itoa(s.Fall))
	if s.User != "" {
		w := []string{"user", quote(s.User)}
		if s.Group != "" {
			w = append(w, quote(s.Group))
		}
		d.line(w...)
	}
	if s.InitFail {
		d.line("init_fail")
	}
	d.close()
}

func (d *dumper) tracks(kw string, refs []TrackRef) {
	if len(refs) == 0 {
		return
	}
	d.open(kw)
	for _, r := range refs {
		w := []string{quote(r.Name)}
		if r.HasWeight {
			w = append(w, "weight", itoa(r.Weight))
			if r.Reverse {
				w = append(w, "reverse")
			}
		}
		d.line(w...)
	}
	d.close()
}

func (d *dumper) notify(n *Notify) {
	d.cmd("notify_master", n.Master, true)
	d.cmd("notify_backup", n.Backup, true)
	d.cmd("notify_fault", n.Fault, true)
	d.cmd("notify_stop", n.Stop, true)
	d.cmd("notify", n.Any, true)
	d.cmd("notify_master_rx_lower_pri", n.MasterRxLowerPri, true)
	if n.Deleted != nil {
		if len(n.Deleted.Argv) == 0 {
			d.line("notify_deleted")
		} else {
			d.cmd("notify_deleted", n.Deleted, true)
		}
	}
	if n.PriorityChanges {
		d.line("notify_priority_changes", "true")
	}
}

func (d *dumper) syncGroup(g *SyncGroup) {
	d.open("vrrp_sync_group", quote(g.Name))
	d.open("group")
	for _, m := range g.Members {
		d.line(quote(m))
	}
	d.close()
	d.tracks("track_interface", g.TrackInterfaces)
	d.tracks("track_script", g.TrackScripts)
	d.tracks("track_file", g.TrackFiles)
	d.tracks("track_process", g.TrackProcesses)
	d.notify(&g.Notify)
	if g.SMTPAlert != d.mailDefault {
		d.line("smtp_alert", onOff(g.SMTPAlert))
	}
	if g.TrackingWeight {
		d.line("sync_group_tracking_weight")
	}
	d.raws(g.Extra)
	d.close()
}

func (d *dumper) instance(x *Instance) {
	d.open("vrrp_instance", quote(x.Name))
	if x.WantMaster {
		d.line("state", "MASTER")
	} else {
		d.line("state", "BACKUP")
	}
	if x.Interface != "" {
		d.line("interface", quote(x.Interface))
	}
	d.line("virtual_router_id", itoa(x.VRID))
	d.line("priority", itoa(x.Priority))
	d.line("advert_int", secs(x.AdvertInterval))
	d.line("version", itoa(x.Version))
	if x.SMTPAlert != d.mailDefault {
		d.line("smtp_alert", onOff(x.SMTPAlert))
	}
	if x.IPv6 && len(x.VIPs) == 0 {
		d.line("native_ipv6")
	}
	if x.Preempt {
		d.line("preempt")
	} else {
		d.line("nopreempt")
	}
	if x.PreemptDelay != 0 {
		d.line("preempt_delay", secs(x.PreemptDelay))
	}
	if x.Accept {
		d.line("accept")
	} else {
		d.line("no_accept")
	}
	d.line("strict_mode", onOff(x.Strict))
	if x.DontTrackPrimary {
		d.line("dont_track_primary")
	}
	d.line("skip_check_adv_addr", onOff(x.SkipCheckAdvAddr))
	if x.CheckUnicastSrc {
		d.line("check_unicast_src")
	}
	d.line("down_timer_adverts", itoa(x.DownTimerAdverts))
	d.line("lower_prio_no_advert", onOff(x.LowerPrioNoAdvert))
	d.line("higher_prio_send_advert", onOff(x.HigherPrioSendAdvert))
	d.line("garp_master_delay", itoa(int(x.GARPMasterDelay/time.Second)))
	d.line("garp_master_repeat", itoa(x.GARPMasterRepeat))
	d.line("garp_master_refresh", itoa(int(x.GARPMasterRefresh/time.Second)))
	if x.GARPExtraIf > 0 && x.GARPExtraIfAll {
		d.line("garp_extra_if", "all", itoa(int(x.GARPExtraIf/time.Second)))
	} else if x.GARPExtraIf > 0 {
		d.line("garp_extra_if", itoa(int(x.GARPExtraIf/time.Second)))
	}
	d.line("garp_master_refresh_repeat", itoa(x.GARPMasterRefreshRepeat))
	d.line("garp_lower_prio_delay", itoa(int(x.GARPLowerPrioDelay/time.Second)))
	d.line("garp_lower_prio_repeat", itoa(x.GARPLowerPrioRepeat))
	if x.McastSrcIP.IsValid() {
		d.line("mcast_src_ip", x.McastSrcIP.String())
	}
	if x.McastDstIP.IsValid() {
		d.line("mcast_dst_ip", x.McastDstIP.String())
	}
	if x.UnicastSrcIP.IsValid() {
		d.line("unicast_src_ip", x.UnicastSrcIP.String())
	}
	if x.TrackSrcIP {
		d.line("track_src_ip")
	}
	if x.UnicastNoPeerFault {
		d.line("unicast_fault_no_peer")
	}
	if len(x.UnicastPeers) > 0 {
		d.line("unicast_ttl", itoa(x.UnicastTTL))
		d.open("unicast_peer")
		for _, u := range x.UnicastPeers {
			w := []string{u.Addr.String()}
			if u.MinTTL != 0 {
				w = append(w, "min_ttl", itoa(u.MinTTL))
			}
			if u.MaxTTL != 255 {
				w = append(w, "max_ttl", itoa(u.MaxTTL))
			}
			d.line(w...)
		}
		d.close()
	}
	if x.Auth != nil {
		d.open("authentication")
		d.line("auth_type", x.Auth.Type)
		d.line("auth_pass", quote(x.Auth.Pass))
		d.close()
	}
	if x.UseVMAC != nil {
		w := []string{"use_vmac"}
		if x.UseVMAC.Name != "" {
			w = append(w, quote(x.UseVMAC.Name))
		}
		if x.UseVMAC.MAC != "" {
			w = append(w, x.UseVMAC.MAC)
		}
		d.line(w...)
		if x.UseVMAC.XmitBase {
			d.line("vmac_xmit_base")
		}
	}
	list(d, "virtual_ipaddress", x.VIPs, d.address)
	list(d, "virtual_ipaddress_excluded", x.ExcludedVIPs, d.address)
	list(d, "virtual_routes", x.Routes, d.route)
	list(d, "virtual_rules", x.Rules, d.rule)
	d.tracks("track_interface", x.TrackInterfaces)
	d.tracks("track_script", x.TrackScripts)
	d.tracks("track_file", x.TrackFiles)
	d.tracks("track_process", x.TrackProcesses)
	d.notify(&x.Notify)
	d.raws(x.Extra)
	d.close()
}

func (d *dumper) address(a Address) {
	w := []string{a.Prefix.String()}
	if a.Broadcast.IsValid() {
		w = append(w, "brd", a.Broadcast.String())
	} else if a.BroadcastAuto {
		w = append(w, "brd", "+")
	}
	if a.Dev != "" {
		w = append(w, "dev", quote(a.Dev))
	}
	if a.Scope != "" {
		w = append(w, "scope", a.Scope)
	}
	if a.Label != "" {
		w = append(w, "label", quote(a.Label))
	}
	if a.Peer.IsValid() {
		w = append(w, "peer", a.Peer.String())
	}
	for _, f := range []struct {
		on   bool
		word string
	}{{a.Home, "home"}, {a.NoDAD, "-nodad"}, {a.MngTmpAddr, "mngtmpaddr"}, {a.NoPrefixRoute, "noprefixroute"},
		{a.AutoJoin, "autojoin"}, {a.NoTrack, "no_track"}, {a.UseVMAC, "use_vmac"}} {
		if f.on {
			w = append(w, f.word)
		}
	}
	if a.TrackGroup != "" {
		w = append(w, "track_group", quote(a.TrackGroup))
	}
	if a.PreferredLft != nil {
		w = append(w, "preferred_lft", itoa(*a.PreferredLft))
	}
	d.line(w...)
}

func (d *dumper) route(r Route) {
	var w []string
	if r.Src.IsValid() {
		w = append(w, "src", r.Src.String())
	}
	if r.Type != "" {
		w = append(w, r.Type)
	}
	w = append(w, r.Dst.String())
	if r.Via.IsValid() {
		w = append(w, "via", r.Via.String())
	}
	if r.Dev != "" {
		w = append(w, "dev", quote(r.Dev))
	}
	if r.Table != 0 {
		w = append(w, "table", itoa(r.Table))
	}
	if r.Metric != 0 {
		w = append(w, "metric", itoa(r.Metric))
	}
	if r.Scope != "" {
		w = append(w, "scope", r.Scope)
	}
	if r.Proto != "" {
		w = append(w, "protocol", quote(r.Proto))
	}
	if r.OnLink {
		w = append(w, "onlink")
	}
	if r.MTU != 0 {
		w = append(w, "mtu", itoa(r.MTU))
	}
	if r.NoTrack {
		w = append(w, "no_track")
	}
	w = append(w, q(r.Extra...)...)
	d.line(w...)
}

func (d *dumper) rule(r Rule) {
	var w []string
	if r.From.IsValid() {
		w = append(w, "from", r.From.String())
	}
	if r.To.IsValid() {
		w = append(w, "to", r.To.String())
	}
	if r.Table != 0 {
		w = append(w, "table", itoa(r.Table))
	}
	w = append(w, "preference", itoa(r.Preference))
	if r.IIF != "" {
		w = append(w, "iif", quote(r.IIF))
	}
	if r.OIF != "" {
		w = append(w, "oif", quote(r.OIF))
	}
	if r.FWMark != 0 || r.HasFWMask {
		m := strconv.FormatUint(uint64(r.FWMark), 10)
		if r.HasFWMask {
			m += "/" + strconv.FormatUint(uint64(r.FWMask), 10)
		}
		w = append(w, "fwmark", m)
	}
	if r.NoTrack {
		w = append(w, "no_track")
	}
	if r.IPv6 && !r.From.IsValid() && !r.To.IsValid() {
		w = append(w, "inet6")
	}
	w = append(w, q(r.Extra...)...)
	d.line(w...)
}
