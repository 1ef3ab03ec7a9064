package config

import (
	"net/netip"
	"strconv"
	"time"
)

// resolveLVS applies keepalived's virtual server checks and the
// virtual_server -> real_server -> checker inheritance.
func (p *parser) resolveLVS() {
	c := p.cfg
	if sd := c.Global.LVSSyncDaemon; sd != nil && sd.Instance != "" {
		var inst *Instance
		for _, in := range c.Instances {
			if in.Name == sd.Instance {
				inst = in
			}
		}
		switch {
		case inst == nil:
			p.warn(sd.Pos, "lvs_sync_daemon", "lvs_sync_daemon ignored", "Unable to find vrrp instance %s for lvs_syncd", sd.Instance)
			c.Global.LVSSyncDaemon = nil
		case !sd.SyncIDSet:
			sd.SyncID = inst.VRID
		}
	}
	for name, g := range c.VirtualServerGroups {
		if len(g.Entries) == 0 {
			p.warn(g.Pos, "virtual_server_group", "group removed", "virtual server group %s has no entries", name)
			delete(c.VirtualServerGroups, name)
		}
	}
	var keep []*VirtualServer
	for _, v := range c.VirtualServers {
		name := vsName(v)
		if v.Group != "" && c.VirtualServerGroups[v.Group] == nil {
			p.warn(v.Pos, "virtual_server", "virtual server ignored", "virtual server group %s not found", v.Group)
			continue
		}
		if len(v.RealServers) == 0 {
			p.warn(v.Pos, "virtual_server", "virtual server ignored", "virtual server %s has no real servers", name)
			continue
		}
		byAddr := v.Group == "" && !v.IsFWMark
		hasAddrs, hasMarks := false, false
		if g := c.VirtualServerGroups[v.Group]; g != nil {
			for _, e := range g.Entries {
				if e.IsFWMark {
					hasMarks = true
				} else {
					hasAddrs = true
				}
			}
			byAddr = hasAddrs
		}
		if v.HASuspend && (v.IsFWMark || hasMarks) {
			p.warn(v.Pos, "ha_suspend", "ha_suspend cleared", "virtual server %s: cannot use ha_suspend with fwmarks", name)
			v.HASuspend = false
		}
		if byAddr {
			if v.Protocol == "" {
				p.warn(v.Pos, "protocol", "using UDP", "virtual server %s: no protocol set", name)
				v.Protocol = "UDP"
			}
			if v.Ops && v.Protocol != "UDP" {
				p.warn(v.Pos, "ops", "ops cleared", "virtual server %s: one packet scheduling requires UDP", name)
				v.Ops = false
			}
			if v.Persistence == 0 && v.Group == "" && v.Port == 0 {
				p.warn(v.Pos, "virtual_server", "persistence_timeout 360", "virtual server %s: zero port only valid for persistent services", name)
				v.Persistence = 360 * time.Second
			}
		}
		if v.Protocol != "" && !byAddr {
			p.warn(v.Pos, "protocol", "protocol ignored", "virtual server %s: protocol specified for fwmark", name)
			v.Protocol = ""
		}
		if v.Scheduler == "" {
			p.warn(v.Pos, "lb_algo", "using wlc", "virtual server %s: no scheduler set", name)
			v.Scheduler = "wlc"
		}
		seen := map[netip.AddrPort]bool{}
		var rss []*RealServer
		for _, r := range v.RealServers {
			if r.Addr.Is6() != (v.Addr.IsValid() && v.Addr.Is6()) && v.Addr.IsValid() {
				p.warn(r.Pos, "real_server", "real server skipped", "address family of virtual server and real server %s do not match", r.Addr)
				continue
			}
			if !r.portSet && !v.IsFWMark {
				r.Port = v.Port
			}
			ap := netip.AddrPortFrom(r.Addr, uint16(r.Port))
			if seen[ap] {
				p.warn(r.Pos, "real_server", "second one removed", "virtual server %s: real server %s is duplicated", name, ap)
				continue
			}
			seen[ap] = true
			if r.Method == "" {
				if v.Method == "" {
					p.warn(v.Pos, "lb_kind", "using NAT", "virtual server %s: no forwarding method set", name)
					v.Method = "NAT"
				}
				r.Method, r.Tunnel = v.Method, v.Tunnel
			}
			if v.IsFWMark && r.portSet && r.Port != 0 {
				p.warn(r.Pos, "real_server", "port ignored", "fwmark virtual server %s, real server %s has a port", name, ap)
				r.Port = 0
			}
			// inheritance virtual_server -> real_server -> checker
			rset := r.setMap()
			inherit(rset, "inhibit_on_failure", &r.InhibitOnFailure, v.InhibitOnFailure)
			inherit(rset, "connect_timeout", &r.ConnectTimeout, v.ConnectTimeout)
			inherit(rset, "retry", &r.Retry, v.Retry)
			inherit(rset, "delay_before_retry", &r.DelayBeforeRetry, v.DelayBeforeRetry)
			inherit(rset, "warmup", &r.Warmup, v.Warmup)
			inherit(rset, "delay_loop", &r.DelayLoop, v.DelayLoop)
			inherit(rset, "alpha", &r.Alpha, v.Alpha)
			if r.Virtualhost == "" {
				r.Virtualhost = v.Virtualhost
			}
			var cks []*Checker
			for _, ck := range r.Checkers {
				cset := ck.setMap()
				anywhere := func(kw string) bool { return cset[kw] || rset[kw] || v.setMap()[kw] }
				inherit(cset, "connect_timeout", &ck.ConnectTimeout, r.ConnectTimeout)
				inherit(cset, "retry", &ck.Retry, r.Retry)
				inherit(cset, "delay_before_retry", &ck.DelayBeforeRetry, r.DelayBeforeRetry)
				inherit(cset, "warmup", &ck.Warmup, r.Warmup)
				inherit(cset, "delay_loop", &ck.DelayLoop, r.DelayLoop)
				inherit(cset, "alpha", &ck.Alpha, r.Alpha)
				// keepalived's per-kind defaults apply when no block sets the value.
				if !anywhere("retry") {
					switch ck.Kind {
					case "MISC_CHECK":
						ck.Retry = 0
					case "DNS_CHECK":
						ck.Retry = 3
					}
				}
				if !anywhere("delay_before_retry") {
					switch ck.Kind {
					case "HTTP_GET", "SSL_GET":
						ck.DelayBeforeRetry = 3 * time.Second
					case "DNS_CHECK":
						ck.DelayBeforeRetry = ck.DelayLoop
					}
				}
				if !anywhere("warmup") {
					ck.Warmup = ck.DelayLoop
				}
				if ck.Kind == "UDP_CHECK" && !cset["max_reply_length"] {
					ck.MaxReplyLength = 255
				}
				if ck.Kind == "FILE_CHECK" {
					tf := c.TrackFiles[ck.TrackFile]
					if tf == nil {
						p.warn(ck.Pos, "FILE_CHECK", "checker ignored", "track_file %q not found", ck.TrackFile)
						continue
					}
					if !cset["weight"] {
						ck.FileWeight = tf.Weight
					}
				}
				if ck.Virtualhost == "" && (ck.Kind == "HTTP_GET" || ck.Kind == "SSL_GET") {
					ck.Virtualhost = r.Virtualhost
				}
				if ck.Kind == "HTTP_GET" || ck.Kind == "SSL_GET" {
					if ck.HTTPProtocol == "" {
						ck.HTTPProtocol = "1.0"
					}
					for i := range ck.URLs {
						u := &ck.URLs[i]
						if u.Path == "" {
							p.warn(u.Pos, "url", "url ignored", "url without path")
						}
						if len(u.StatusCodes) == 0 {
							u.StatusCodes = [][2]int{{200, 299}}
						}
					}
				}
				if ck.Kind == "DNS_CHECK" {
					if ck.DNSType == "" {
						ck.DNSType = "SOA"
					}
					if ck.DNSName == "" {
						ck.DNSName = "."
					}
				}
				if ck.Kind == "MISC_CHECK" && ck.MiscPath == nil {
					p.warn(ck.Pos, "MISC_CHECK", "checker ignored", "MISC_CHECK without misc_path")
					continue
				}
				cks = append(cks, ck)
			}
			r.Checkers = cks
			rss = append(rss, r)
		}
		v.RealServers = rss
		if v.SorryServer != nil {
			if v.SorryServer.Method == "" {
				v.SorryServer.Method, v.SorryServer.Tunnel = v.Method, v.Tunnel
			}
			if v.SorryServer.Port == 0 && !v.IsFWMark {
				v.SorryServer.Port = v.Port
			}
		}
		if v.Method == "" {
			v.Method = "NAT"
		}
		sum := 0
		for _, r := range v.RealServers {
			sum += r.Weight
		}
		if v.Quorum > sum && sum > 0 {
			p.warn(v.Pos, "quorum", "quorum "+strconv.Itoa(sum), "quorum %d for %s exceeds the total weight of real servers %d", v.Quorum, name, sum)
			v.Quorum = sum
		}
		if v.Hysteresis >= v.Quorum && v.Hysteresis > 0 {
			p.warn(v.Pos, "hysteresis", "hysteresis "+strconv.Itoa(v.Quorum-1), "virtual server %s: hysteresis %d >= quorum %d", name, v.Hysteresis, v.Quorum)
			v.Hysteresis = v.Quorum - 1
		}
		keep = append(keep, v)
	}
	c.VirtualServers = keep
}

func vsName(v *VirtualServer) string {
	switch {
	case v.IsFWMark:
		return "FWM " + strconv.FormatUint(uint64(v.FWMark), 10)
	case v.Group != "":
		return "group " + v.Group
	}
	return netip.AddrPortFrom(v.Addr, uint16(v.Port)).String()
}

// inherit sets *dst to v unless the keyword kw was set in the block.
func inherit[T any](set map[string]bool, kw string, dst *T, v T) {
	if !set[kw] {
		*dst = v
	}
}
