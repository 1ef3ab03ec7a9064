package config

import (
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

var schedulers = map[string]bool{"rr": true, "wrr": true, "lc": true, "wlc": true, "lblc": true, "lblcr": true, "sh": true,
	"dh": true, "mh": true, "sed": true, "nq": true, "fo": true, "ovf": true, "twos": true}

// checkerDefaults are the common checker keywords, shared by virtual_server,
// real_server and the checker blocks.
type checkerDefaults interface {
	common() *commonCheck
}

type commonCheck struct {
	connectTimeout, delayBeforeRetry, warmup, delayLoop *time.Duration
	retry                                               *int
	set                                                 map[string]bool
}

func (v *VirtualServer) common() *commonCheck {
	return &commonCheck{&v.ConnectTimeout, &v.DelayBeforeRetry, &v.Warmup, &v.DelayLoop, &v.Retry, v.setMap()}
}
func (r *RealServer) common() *commonCheck {
	return &commonCheck{&r.ConnectTimeout, &r.DelayBeforeRetry, &r.Warmup, &r.DelayLoop, &r.Retry, r.setMap()}
}
func (c *Checker) common() *commonCheck {
	return &commonCheck{&c.ConnectTimeout, &c.DelayBeforeRetry, &c.Warmup, &c.DelayLoop, &c.Retry, c.setMap()}
}

func (v *VirtualServer) setMap() map[string]bool {
	if v.set == nil {
		v.set = map[string]bool{}
	}
	return v.set
}
func (r *RealServer) setMap() map[string]bool {
	if r.set == nil {
		r.set = map[string]bool{}
	}
	return r.set
}
func (c *Checker) setMap() map[string]bool {
	if c.set == nil {
		c.set = map[string]bool{}
	}
	return c.set
}

func commonKws(tier Tier) []*kwDef {
	cc := func(f func(p *parser, c *commonCheck, l *line)) handler {
		return func(p *parser, n any, l *line) any {
			c := n.(checkerDefaults).common()
			f(p, c, l)
			return nil
		}
	}
	timer := func(name string, def string, get func(c *commonCheck) *time.Duration) *kwDef {
		return kw(name, tier, name+" SECS", def, "", cc(func(p *parser, c *commonCheck, l *line) {
			if d, ok := p.timerArg(l, 1, 0, maxTimer, "ignored"); ok {
				*get(c) = d
				c.set[name] = true
			}
		}))
	}
	return []*kwDef{
		timer("connect_timeout", "5", func(c *commonCheck) *time.Duration { return c.connectTimeout }),
		timer("delay_before_retry", "1 (HTTP_GET/SSL_GET 3, DNS_CHECK delay_loop)", func(c *commonCheck) *time.Duration { return c.delayBeforeRetry }),
		timer("warmup", "delay_loop", func(c *commonCheck) *time.Duration { return c.warmup }).tierP2(),
		timer("delay_loop", "60", func(c *commonCheck) *time.Duration { return c.delayLoop }),
		kw("retry", tier, "retry N", "1 (MISC_CHECK 0, DNS_CHECK 3)", "0..", cc(func(p *parser, c *commonCheck, l *line) {
			if n, ok := p.intArg(l, 1, 0, math.MaxUint32, "ignored"); ok {
				*c.retry = n
				c.set["retry"] = true
			}
		})),
	}
}

func vs(f func(p *parser, v *VirtualServer, l *line)) handler {
	return func(p *parser, n any, l *line) any { f(p, n.(*VirtualServer), l); return nil }
}
func rs(f func(p *parser, r *RealServer, l *line)) handler {
	return func(p *parser, n any, l *line) any { f(p, n.(*RealServer), l); return nil }
}
func ck(f func(p *parser, c *Checker, l *line)) handler {
	return func(p *parser, n any, l *line) any { f(p, n.(*Checker), l); return nil }
}

func (p *parser) method(l *line) (string, Tunnel, bool) {
	t, ok := p.arg(l, 1)
	if !ok {
		return "", Tunnel{}, false
	}
	switch t.s {
	case "NAT", "DR":
		if len(l.toks) > 2 {
			p.warn(l.toks[2].pos, l.toks[0].s, "ignored", "tunnel options only apply to TUN")
			return "", Tunnel{}, false
		}
		return t.s, Tunnel{}, true
	case "TUN":
		tun, ok := p.tunnel(l)
		return t.s, tun, ok
	}
	p.warn(t.pos, l.toks[0].s, "ignored", "unknown forwarding method %q", t.s)
	return "", Tunnel{}, false
}

// tunnel reads "[type ipip|gue|gre] [port N] [nocsum|csum|remcsum]" after
// "lvs_method TUN", with keepalived's rules: gue needs a port, only gue
// takes one, ipip has no checksum options and gre no remcsum.
func (p *parser) tunnel(l *line) (Tunnel, bool) {
	var tun Tunnel
	kw := l.toks[0].s
	portSet := false
	for i := 2; i < len(l.toks); i++ {
		w := l.toks[i]
		switch w.s {
		case "type":
			if i+1 >= len(l.toks) {
				p.warn(w.pos, kw, "ignored", "missing tunnel type")
				return Tunnel{}, false
			}
			i++
			switch l.toks[i].s {
			case "ipip", "gue", "gre":
				tun.Type = l.toks[i].s
			default:
				p.warn(l.toks[i].pos, kw, "ignored", "unknown tunnel type %q", l.toks[i].s)
				return Tunnel{}, false
			}
		case "port":
			n, ok := p.intArg(l, i+1, 1, 65535, "ignored")
			if !ok {
				return Tunnel{}, false
			}
			i++
			tun.Port, portSet = n, true
		case "nocsum", "csum", "remcsum":
			tun.Csum = w.s
		default:
			p.warn(w.pos, kw, "ignored", "unknown tunnel option %q", w.s)
			return Tunnel{}, false
		}
	}
	switch {
	case tun.Type == "gue" && !portSet:
		p.warn(l.pos(), kw, "ignored", "a gue tunnel needs a port")
	case tun.Type != "gue" && portSet:
		p.warn(l.pos(), kw, "ignored", "only a gue tunnel takes a port")
	case (tun.Type == "" || tun.Type == "ipip") && tun.Csum != "":
		p.warn(l.pos(), kw, "ignored", "an ipip tunnel has no checksum options")
	case tun.Type == "gre" && tun.Csum == "remcsum":
		p.warn(l.pos(), kw, "ignored", "a gre tunnel cannot use remcsum")
	default:
		return tun, true
	}
	return Tunnel{}, false
}

func checkerBlock(kind string) *block {
	b := newBlock(kind)
	if kind == "FILE_CHECK" || kind == "BFD_CHECK" {
		// keepalived gives these no common checker keywords.
		addKindKeywords(b, kind)
		return b
	}
	connection := kind != "MISC_CHECK" // keepalived: MISC_CHECK has no connection keywords
	for _, k := range commonKws(P1) {
		if k.name == "connect_timeout" && !connection {
			continue
		}
		b.add(k)
	}
	common := []*kwDef{
		kw("connect_ip", P2, "connect_ip ADDR", "real server address", "", ck(func(p *parser, c *Checker, l *line) {
			if a, ok := p.addrArg(l, 1, "ignored"); ok {
				c.ConnectIP = a
			}
		})),
		kw("connect_port", P1, "connect_port PORT", "real server port", "0..65535", ck(func(p *parser, c *Checker, l *line) {
			if n, ok := p.intArg(l, 1, 0, 65535, "ignored"); ok {
				c.ConnectPort = n
			}
		})),
		kw("bindto", P2, "bindto ADDR", "auto", "", ck(func(p *parser, c *Checker, l *line) {
			if a, ok := p.addrArg(l, 1, "ignored"); ok {
				c.BindTo = a
			}
		})),
		kw("bind_port", P2, "bind_port PORT", "auto", "0..65535", ck(func(p *parser, c *Checker, l *line) {
			if n, ok := p.intArg(l, 1, 0, 65535, "ignored"); ok {
				c.BindPort = n
			}
		})),
		kw("bind_if", P2, "bind_if IFNAME", "auto", "", ck(func(p *parser, c *Checker, l *line) {
			if t, ok := p.arg(l, 1); ok {
				c.BindIf = t.s
			}
		})),
		kw("fwmark", P2, "fwmark N", "none", "", ck(func(p *parser, c *Checker, l *line) {
			if n, ok := p.intArg(l, 1, 0, math.MaxUint32, "ignored"); ok {
				c.FWMark = uint32(n)
			}
		})),
		kw("alpha", P2, "alpha [BOOL]", "inherited", "", ck(func(p *parser, c *Checker, l *line) {
			if v, ok := p.boolArg(l); ok {
				c.Alpha = v
				c.setMap()["alpha"] = true
			}
		})),
		rawKw("log_all_failures", P2, "log_all_failures [BOOL]"),
	}
	for _, k := range common {
		switch k.name {
		case "connect_ip", "connect_port", "bindto", "bind_port", "bind_if", "fwmark":
			if !connection {
				continue
			}
		}
		b.add(k)
	}
	addKindKeywords(b, kind)
	return b
}

// addKindKeywords adds the keywords particular to one checker kind.
func addKindKeywords(b *block, kind string) {
	switch kind {
	case "HTTP_GET", "SSL_GET":
		url := newBlock("url",
			kw("path", P1, "path URI", "required", "", func(p *parser, n any, l *line) any {
				if t, ok := p.arg(l, 1); ok {
					n.(*URL).Path = t.s
				}
				return nil
			}),
			kw("digest", P1, "digest MD5HEX", "none", "", func(p *parser, n any, l *line) any {
				if t, ok := p.arg(l, 1); ok {
					n.(*URL).Digest = t.s
				}
				return nil
			}),
			kw("status_code", P1, "status_code N|A-B ...", "200-299", "", func(p *parser, n any, l *line) any {
				u := n.(*URL)
				for _, t := range l.toks[1:] {
					a, b, rng := strings.Cut(t.s, "-")
					lo, e1 := strconv.Atoi(a)
					hi := lo
					var e2 error
					if rng {
						hi, e2 = strconv.Atoi(b)
					}
					if e1 != nil || e2 != nil || lo < 100 || hi > 599 || hi < lo {
						p.warn(t.pos, "status_code", "ignored", "invalid status code %q", t.s)
						continue
					}
					u.StatusCodes = append(u.StatusCodes, [2]int{lo, hi})
				}
				return nil
			}),
			kw("virtualhost", P2, "virtualhost NAME", "inherited", "", func(p *parser, n any, l *line) any {
				if t, ok := p.arg(l, 1); ok {
					n.(*URL).Virtualhost = t.s
				}
				return nil
			}),
			kw("regex", P2, "regex PATTERN", "none", "", func(p *parser, n any, l *line) any {
				if t, ok := p.arg(l, 1); ok {
					n.(*URL).Regex = t.s
				}
				return nil
			}),
			kw("regex_no_match", P2, "regex_no_match", "off", "", func(p *parser, n any, l *line) any {
				n.(*URL).RegexNoMatch = true
				return nil
			}),
			rawKw("regex_options", P2, "regex_options OPTS"),
			rawKw("regex_min_offset", P2, "regex_min_offset N"),
			rawKw("regex_max_offset", P2, "regex_max_offset N"),
			rawKw("regex_stack", P2, "regex_stack N"),
		)
		b.add(
			blockKw("url", P1, "url { path ...; digest ...; status_code ... }", func(p *parser, n any, l *line) any {
				c := n.(*Checker)
				c.URLs = append(c.URLs, URL{Pos: l.pos()})
				return &c.URLs[len(c.URLs)-1]
			}, url),
			kw("nb_get_retry", P1, "nb_get_retry N (old name of retry)", "1", "", ck(func(p *parser, c *Checker, l *line) {
				p.warn(l.pos(), "nb_get_retry", "read as retry", "nb_get_retry is deprecated; use retry")
				if n, ok := p.intArg(l, 1, 0, math.MaxUint32, "ignored"); ok {
					c.Retry = n
					c.setMap()["retry"] = true
				}
			})),
			kw("virtualhost", P2, "virtualhost NAME", "inherited", "", ck(func(p *parser, c *Checker, l *line) {
				if t, ok := p.arg(l, 1); ok {
					c.Virtualhost = t.s
					c.setMap()["virtualhost"] = true
				}
			})),
			kw("http_protocol", P2, "http_protocol 1.0|1.0C|1.1|1.0K", "1.0", "", ck(func(p *parser, c *Checker, l *line) {
				if t, ok := p.arg(l, 1); ok {
					switch t.s {
					case "1.0", "1.0C", "1.1", "1.0K":
						c.HTTPProtocol = t.s
					default:
						p.warn(t.pos, "http_protocol", "using 1.0", "invalid http_protocol %q", t.s)
					}
				}
			})),
			kw("enable_sni", P2, "enable_sni [BOOL]", "off", "", ck(func(p *parser, c *Checker, l *line) {
				if v, ok := p.boolArg(l); ok {
					c.EnableSNI = v
				}
			})),
			kw("fast_recovery", P2, "fast_recovery [BOOL]", "off", "", ck(func(p *parser, c *Checker, l *line) {
				if v, ok := p.boolArg(l); ok {
					c.FastRecovery = v
				}
			})),
		)
	case "MISC_CHECK":
		b.add(
			kw("misc_path", P1, "misc_path \"SCRIPT ARGS\"", "required", "", ck(func(p *parser, c *Checker, l *line) {
				c.MiscPath = p.command(l, false)
			})),
			kw("misc_timeout", P2, "misc_timeout SECS", "delay_loop", "", ck(func(p *parser, c *Checker, l *line) {
				if d, ok := p.timerArg(l, 1, 0, maxTimer, "ignored"); ok {
					c.MiscTimeout = d
				}
			})),
			kw("misc_dynamic", P2, "misc_dynamic", "off", "", ck(func(p *parser, c *Checker, l *line) { c.MiscDynamic = true })),
			kw("user", P2, "user USER [GROUP]", "script_user", "", ck(func(p *parser, c *Checker, l *line) {
				if t, ok := p.arg(l, 1); ok && c.MiscPath != nil {
					c.MiscPath.User = t.s
					if len(l.toks) > 2 {
						c.MiscPath.Group = l.toks[2].s
					}
				}
			})),
		)
	case "DNS_CHECK":
		b.add(
			kw("type", P2, "type A|NS|CNAME|SOA|MX|TXT|AAAA", "SOA", "", ck(func(p *parser, c *Checker, l *line) {
				if t, ok := p.arg(l, 1); ok {
					switch strings.ToUpper(t.s) {
					case "A", "NS", "CNAME", "SOA", "MX", "TXT", "AAAA":
						c.DNSType = strings.ToUpper(t.s)
					default:
						p.warn(t.pos, "type", "using SOA", "unknown DNS type %q", t.s)
					}
				}
			})),
			kw("name", P2, "name FQDN", ".", "", ck(func(p *parser, c *Checker, l *line) {
				if t, ok := p.arg(l, 1); ok {
					c.DNSName = t.s
				}
			})),
		)
	case "SMTP_CHECK":
		b.add(
			kw("helo_name", P2, "helo_name NAME", "host name", "", ck(func(p *parser, c *Checker, l *line) {
				if t, ok := p.arg(l, 1); ok {
					c.HeloName = t.s
				}
			})),
			rawKw("host", P2, "host { connect_ip A; connect_port P; bindto A }"),
		)
	case "UDP_CHECK":
		b.add(
			kw("payload", P2, "payload HEX", "32 bytes of text", "", ck(func(p *parser, c *Checker, l *line) {
				if v, _, ok := p.hexArg(l, false); ok {
					c.Payload = v
				}
			})),
			kw("require_reply", P2, "require_reply [HEX]", "off", "", ck(func(p *parser, c *Checker, l *line) {
				c.RequireReply = true
				if len(l.toks) < 2 {
					return
				}
				if v, m, ok := p.hexArg(l, true); ok {
					c.ReplyPattern, c.ReplyMask = v, m
				}
			})),
			kw("min_reply_length", P2, "min_reply_length N", "0", "0..65535", ck(func(p *parser, c *Checker, l *line) {
				if n, ok := p.intArg(l, 1, 0, 65535, "ignored"); ok {
					c.MinReplyLength = n
				}
			})),
			kw("max_reply_length", P2, "max_reply_length N", "255", "0..65535", ck(func(p *parser, c *Checker, l *line) {
				if n, ok := p.intArg(l, 1, 0, 65535, "ignored"); ok {
					c.MaxReplyLength = n
					c.setMap()["max_reply_length"] = true
				}
			})),
		)
	case "FILE_CHECK":
		b.add(
			kw("track_file", P2, "track_file NAME", "required", "", ck(func(p *parser, c *Checker, l *line) {
				if t, ok := p.arg(l, 1); ok {
					c.TrackFile = t.s
				}
			})),
			kw("weight", P2, "weight N [reverse|noreverse]", "track_file's weight", "-2147483647..2147483647", ck(func(p *parser, c *Checker, l *line) {
				var ref TrackRef
				p.weightArgs(l, 0, -math.MaxInt32, math.MaxInt32, &ref)
				if ref.HasWeight {
					c.FileWeight = ref.Weight
					c.setMap()["weight"] = true
				}
				c.FileReverse = ref.Reverse
			})),
			rawKw("dynamic", P2, "dynamic"),
		)
	case "BFD_CHECK":
		b.add(rawKw("name", P2, "name BFD_INSTANCE"), rawKw("alpha", P2, "alpha [BOOL]"))
	}
}

var checkerKinds = []struct {
	name string
	tier Tier
	impl bool
}{
	{"TCP_CHECK", P0, true}, {"HTTP_GET", P1, true}, {"SSL_GET", P1, true}, {"MISC_CHECK", P1, true},
	{"DNS_CHECK", P2, true}, {"SMTP_CHECK", P2, true}, {"UDP_CHECK", P2, true}, {"PING_CHECK", P2, true},
	{"FILE_CHECK", P2, true}, {"BFD_CHECK", P2, false},
}

func realServerBlock() *block {
	b := newBlock("real_server", commonKws(P1)...)
	b.add(
		kw("weight", P0, "weight N", "1", "0..65535", rs(func(p *parser, r *RealServer, l *line) {
			if n, ok := p.intArg(l, 1, 0, 65535, "ignored"); ok {
				r.Weight = n
			}
		})),
		kw("lvs_method", P2, "lvs_method NAT|DR|TUN", "virtual server's", "", rs(func(p *parser, r *RealServer, l *line) {
			if m, tun, ok := p.method(l); ok {
				r.Method, r.Tunnel = m, tun
			}
		})),
		kw("lb_kind", P2, "lb_kind NAT|DR|TUN", "virtual server's", "", rs(func(p *parser, r *RealServer, l *line) {
			if m, tun, ok := p.method(l); ok {
				r.Method, r.Tunnel = m, tun
			}
		})),
		kw("uthreshold", P2, "uthreshold N", "0", "", rs(func(p *parser, r *RealServer, l *line) {
			if n, ok := p.intArg(l, 1, 0, math.MaxUint32, "ignored"); ok {
				r.UThreshold = n
			}
		})),
		kw("lthreshold", P2, "lthreshold N", "0", "", rs(func(p *parser, r *RealServer, l *line) {
			if n, ok := p.intArg(l, 1, 0, math.MaxUint32, "ignored"); ok {
				r.LThreshold = n
			}
		})),
		kw("inhibit_on_failure", P1, "inhibit_on_failure [BOOL]", "virtual server's", "", rs(func(p *parser, r *RealServer, l *line) {
			if v, ok := p.boolArg(l); ok {
				r.InhibitOnFailure = v
				r.setMap()["inhibit_on_failure"] = true
			}
		})),
		kw("notify_up", P1, "notify_up SCRIPT [USER [GROUP]]", "none", "", rs(func(p *parser, r *RealServer, l *line) {
			p.notifyCmd(&r.NotifyUp, l, "real_server")
		})),
		kw("notify_down", P1, "notify_down SCRIPT [USER [GROUP]]", "none", "", rs(func(p *parser, r *RealServer, l *line) {
			p.notifyCmd(&r.NotifyDown, l, "real_server")
		})),
		kw("alpha", P2, "alpha [BOOL]", "virtual server's", "", rs(func(p *parser, r *RealServer, l *line) {
			if v, ok := p.boolArg(l); ok {
				r.Alpha = v
				r.setMap()["alpha"] = true
			}
		})),
		kw("virtualhost", P2, "virtualhost NAME", "virtual server's", "", rs(func(p *parser, r *RealServer, l *line) {
			if t, ok := p.arg(l, 1); ok {
				r.Virtualhost = t.s
			}
		})),
		kw("smtp_alert", P2, "smtp_alert [BOOL]", "smtp_alert_checker, else smtp_alert, else on", "", rs(func(p *parser, r *RealServer, l *line) {
			if v, ok := p.boolArg(l); ok {
				r.SMTPAlert = v
				r.setMap()["smtp_alert"] = true
			}
		})),
		rawKw("snmp_name", P2, "snmp_name NAME"),
	)
	for _, k := range checkerKinds {
		k := k
		d := blockKw(k.name, k.tier, k.name+" { ... }", func(p *parser, n any, l *line) any {
			r := n.(*RealServer)
			c := &Checker{Pos: l.pos(), Kind: k.name}
			r.Checkers = append(r.Checkers, c)
			return c
		}, checkerBlock(k.name))
		if !k.impl {
			d.status = NotImplemented
		}
		b.add(d)
	}
	return b
}

// serverAddr parses "ADDR [PORT]" for real_server / sorry_server.
func (p *parser) serverAddr(l *line) (netip.Addr, int, bool) {
	t, ok := p.arg(l, 1)
	if !ok {
		return netip.Addr{}, 0, false
	}
	a, ok := parseIP(t.s)
	if !ok {
		p.warn(t.pos, l.toks[0].s, "server skipped", "invalid server IP address %q", t.s)
		return netip.Addr{}, 0, false
	}
	port := 0
	if len(l.toks) > 2 {
		n, err := strconv.Atoi(l.toks[2].s)
		if err != nil || n < 0 || n > 65535 {
			p.warn(l.toks[2].pos, l.toks[0].s, "server skipped", "invalid port %q", l.toks[2].s)
			return netip.Addr{}, 0, false
		}
		port = n
	}
	return a, port, true
}

func virtualServerBlock() *block {
	b := newBlock("virtual_server", commonKws(P1)...)
	b.add(
		kw("lb_algo", P0, "lb_algo rr|wrr|lc|wlc|...", "wlc", "", vs(func(p *parser, v *VirtualServer, l *line) { p.sched(v, l) })),
		kw("lvs_sched", P0, "lvs_sched rr|wrr|lc|wlc|...", "wlc", "", vs(func(p *parser, v *VirtualServer, l *line) { p.sched(v, l) })),
		kw("lb_kind", P0, "lb_kind NAT|DR|TUN", "NAT", "", vs(func(p *parser, v *VirtualServer, l *line) {
			if m, tun, ok := p.method(l); ok {
				v.Method, v.Tunnel = m, tun
			}
		})),
		kw("lvs_method", P0, "lvs_method NAT|DR|TUN", "NAT", "", vs(func(p *parser, v *VirtualServer, l *line) {
			if m, tun, ok := p.method(l); ok {
				v.Method, v.Tunnel = m, tun
			}
		})),
		kw("protocol", P0, "protocol TCP|UDP|SCTP", "none (UDP, warned)", "", vs(func(p *parser, v *VirtualServer, l *line) {
			if t, ok := p.arg(l, 1); ok {
				switch t.s {
				case "TCP", "UDP", "SCTP":
					v.Protocol = t.s
				default:
					p.warn(t.pos, "protocol", "ignored", "unknown protocol %q", t.s)
				}
			}
		})),
		kw("persistence_timeout", P1, "persistence_timeout [SECS]", "off (bare: 360)", "", vs(func(p *parser, v *VirtualServer, l *line) {
			if len(l.toks) < 2 {
				v.Persistence = 360 * time.Second
				return
			}
			if n, ok := p.intArg(l, 1, 1, math.MaxUint32, "ignored"); ok {
				v.Persistence = time.Duration(n) * time.Second
			}
		})),
		kw("persistence_granularity", P2, "persistence_granularity NETMASK", "/32", "", vs(func(p *parser, v *VirtualServer, l *line) {
			if t, ok := p.arg(l, 1); ok {
				v.PersistenceGranularity = t.s
			}
		})),
		kw("persistence_engine", P2, "persistence_engine NAME", "none", "", vs(func(p *parser, v *VirtualServer, l *line) {
			if t, ok := p.arg(l, 1); ok {
				v.PersistenceEngine = t.s
			}
		})).notImpl(),
		kw("sorry_server", P1, "sorry_server ADDR [PORT]", "none", "", vs(func(p *parser, v *VirtualServer, l *line) {
			if a, port, ok := p.serverAddr(l); ok {
				v.SorryServer = &RealServer{Pos: l.pos(), Addr: a, Port: port, Weight: 1}
			}
		})),
		kw("sorry_server_inhibit", P2, "sorry_server_inhibit [BOOL]", "off", "", vs(func(p *parser, v *VirtualServer, l *line) {
			if b, ok := p.boolArg(l); ok {
				v.SorryServerInhibit = b
			}
		})),
		kw("sorry_server_lvs_method", P2, "sorry_server_lvs_method NAT|DR|TUN", "virtual server's", "", vs(func(p *parser, v *VirtualServer, l *line) {
			m, tun, ok := p.method(l)
			if !ok {
				return
			}
			if v.SorryServer == nil {
				p.warn(l.pos(), "sorry_server_lvs_method", "ignored", "used before or without sorry_server")
				return
			}
			v.SorryServer.Method, v.SorryServer.Tunnel = m, tun
		})),
		kw("virtualhost", P2, "virtualhost NAME", "none", "", vs(func(p *parser, v *VirtualServer, l *line) {
			if t, ok := p.arg(l, 1); ok {
				v.Virtualhost = t.s
			}
		})),
		kw("ha_suspend", P2, "ha_suspend", "off", "", vs(func(p *parser, v *VirtualServer, l *line) { v.HASuspend = true })),
		kw("alpha", P2, "alpha", "off", "", vs(func(p *parser, v *VirtualServer, l *line) { v.Alpha = true })),
		kw("omega", P2, "omega", "off", "", vs(func(p *parser, v *VirtualServer, l *line) { v.Omega = true })),
		kw("quorum", P2, "quorum N", "1", "1..", vs(func(p *parser, v *VirtualServer, l *line) {
			if n, ok := p.intArg(l, 1, 1, math.MaxUint32, "using 1"); ok {
				v.Quorum = n
			} else {
				v.Quorum = 1
			}
		})),
		kw("hysteresis", P2, "hysteresis N", "0", "0..", vs(func(p *parser, v *VirtualServer, l *line) {
			if n, ok := p.intArg(l, 1, 0, math.MaxUint32, "ignored"); ok {
				v.Hysteresis = n
			}
		})),
		kw("quorum_up", P2, "quorum_up SCRIPT [USER [GROUP]]", "none", "", vs(func(p *parser, v *VirtualServer, l *line) {
			p.notifyCmd(&v.QuorumUp, l, "virtual_server")
		})),
		kw("quorum_down", P2, "quorum_down SCRIPT [USER [GROUP]]", "none", "", vs(func(p *parser, v *VirtualServer, l *line) {
			p.notifyCmd(&v.QuorumDown, l, "virtual_server")
		})),
		kw("ip_family", P2, "ip_family inet|inet6", "from the addresses", "", vs(func(p *parser, v *VirtualServer, l *line) {
			if t, ok := p.arg(l, 1); ok {
				if t.s != "inet" && t.s != "inet6" {
					p.warn(t.pos, "ip_family", "ignored", "unknown address family %q", t.s)
					return
				}
				v.IPFamily = t.s
			}
		})),
		kw("inhibit_on_failure", P1, "inhibit_on_failure [BOOL]", "off", "", vs(func(p *parser, v *VirtualServer, l *line) {
			if b, ok := p.boolArg(l); ok {
				v.InhibitOnFailure = b
			}
		})),
		kw("ops", P2, "ops", "off", "", vs(func(p *parser, v *VirtualServer, l *line) { v.Ops = true })),
		blockKw("real_server", P0, "real_server ADDR [PORT] { ... }", func(p *parser, n any, l *line) any {
			v := n.(*VirtualServer)
			a, port, ok := p.serverAddr(l)
			if !ok {
				return nil
			}
			r := &RealServer{Pos: l.pos(), Addr: a, Port: port, Weight: 1}
			r.portSet = len(l.toks) > 2
			v.RealServers = append(v.RealServers, r)
			return r
		}, realServerBlock()),
		rawKw("hashed", P2, "hashed"), schedFlag("flag-1", ""), schedFlag("flag-2", ""), schedFlag("flag-3", ""),
		schedFlag("sh-port", "sh"), schedFlag("sh-fallback", "sh"), schedFlag("mh-port", "mh"), schedFlag("mh-fallback", "mh"),
		kw("smtp_alert", P2, "smtp_alert [BOOL]", "smtp_alert_checker, else smtp_alert, else off", "", vs(func(p *parser, v *VirtualServer, l *line) {
			if b, ok := p.boolArg(l); ok {
				v.SMTPAlert = b
				v.setMap()["smtp_alert"] = true
			}
		})),
		rawKw("snmp_name", P2, "snmp_name NAME"),
		rawKw("weight", P2, "weight N"),
		legacyKw("nat_mask", "nat_mask NETMASK (keepalived 1.x)"),
	)
	return b
}

// schedFlag is a scheduler flag keyword; sched names the scheduler it
// belongs to ("" for flag-N, which any scheduler may use). As in
// keepalived, the flag must come after the lb_algo it belongs to.
func schedFlag(name, sched string) *kwDef {
	def := "off"
	syntax := name
	if sched != "" {
		syntax += " (after lb_algo " + sched + ")"
	}
	return kw(name, P2, syntax, def, "", vs(func(p *parser, v *VirtualServer, l *line) {
		if sched != "" && v.Scheduler != sched {
			p.warn(l.pos(), name, "ignored", "%s only applies to the %s scheduler", name, sched)
			return
		}
		for _, f := range v.SchedFlags {
			if f == name {
				return
			}
		}
		v.SchedFlags = append(v.SchedFlags, name)
	}))
}

func (p *parser) sched(v *VirtualServer, l *line) {
	t, ok := p.arg(l, 1)
	if !ok {
		return
	}
	if !schedulers[t.s] {
		p.warn(t.pos, l.toks[0].s, "ignored", "invalid scheduler %q", t.s)
		return
	}
	v.Scheduler = t.s
}

func addLVSTop(top *block) {
	top.add(
		valueKw("virtual_server_group", P2, "virtual_server_group NAME { ADDR [PORT] | A.B.C.D-E [PORT] | fwmark N ... }", func(p *parser, n any, l *line) any {
			c := n.(*Config)
			t, ok := p.arg(l, 1)
			if !ok {
				return nil
			}
			if o := c.VirtualServerGroups[t.s]; o != nil {
				p.warn(t.pos, "virtual_server_group", "the second definition is ignored", "virtual_server_group %s already defined at %s", t.s, o.Pos)
				return nil
			}
			g := &VirtualServerGroup{Pos: l.pos(), Name: t.s}
			c.VirtualServerGroups[t.s] = g
			return g
		}, func(p *parser, n any, l *line) {
			g := n.(*VirtualServerGroup)
			e := VSGEntry{Pos: l.pos()}
			if l.toks[0].s == "fwmark" {
				m, ok := p.intArg(l, 1, 0, math.MaxUint32, "entry skipped")
				if !ok {
					return
				}
				e.FWMark, e.IsFWMark = uint32(m), true
				if len(l.toks) > 2 {
					if l.toks[2].s != "inet" && l.toks[2].s != "inet6" {
						p.warn(l.toks[2].pos, "virtual_server_group", "entry skipped", "unknown family %q", l.toks[2].s)
						return
					}
					e.Family = l.toks[2].s
				}
				g.Entries = append(g.Entries, e)
				return
			}
			s := l.toks[0].s
			start, end, isRange := strings.Cut(s, "-")
			a, ok := parseIP(start)
			if !ok {
				p.warn(l.pos(), "virtual_server_group", "entry skipped", "invalid address %q", s)
				return
			}
			e.Addr = a
			if isRange {
				base := 10
				if a.Is6() {
					base = 16
				}
				n, err := strconv.ParseUint(end, base, 16)
				if err != nil || (a.Is4() && n > 255) {
					p.warn(l.pos(), "virtual_server_group", "entry skipped", "invalid range end in %q", s)
					return
				}
				e.RangeEnd = int(n)
			}
			if len(l.toks) > 1 {
				port, err := strconv.Atoi(l.toks[1].s)
				if err != nil || port < 0 || port > 65535 {
					p.warn(l.toks[1].pos, "virtual_server_group", "entry skipped", "invalid port %q", l.toks[1].s)
					return
				}
				e.Port = port
			}
			g.Entries = append(g.Entries, e)
		}),
		blockKw("virtual_server", P0, "virtual_server ADDR PORT | fwmark N | group NAME { ... }", func(p *parser, n any, l *line) any {
			c := n.(*Config)
			t, ok := p.arg(l, 1)
			if !ok {
				return nil
			}
			v := &VirtualServer{Pos: l.pos(), DelayLoop: 60 * time.Second, Quorum: 1, ConnectTimeout: 5 * time.Second,
				Retry: 1, DelayBeforeRetry: time.Second}
			switch t.s {
			case "fwmark":
				m, ok := p.intArg(l, 2, 0, math.MaxUint32, "virtual server skipped")
				if !ok {
					return nil
				}
				v.FWMark, v.IsFWMark = uint32(m), true
			case "group":
				g, ok := p.arg(l, 2)
				if !ok {
					return nil
				}
				v.Group = g.s
			default:
				a, ok := parseIP(t.s)
				if !ok {
					p.warn(t.pos, "virtual_server", "virtual server skipped", "invalid virtual server IP address %q", t.s)
					return nil
				}
				v.Addr = a
				if len(l.toks) > 2 {
					port, err := strconv.Atoi(l.toks[2].s)
					if err != nil || port < 0 || port > 65535 {
						p.warn(l.toks[2].pos, "virtual_server", "virtual server skipped", "invalid port %q", l.toks[2].s)
						return nil
					}
					v.Port = port
				}
			}
			c.VirtualServers = append(c.VirtualServers, v)
			return v
		}, virtualServerBlock()),
		blockKw("SSL", P2, "SSL { password S; ca PATH; certificate PATH; key PATH }", func(p *parser, n any, l *line) any {
			c := n.(*Config)
			if c.SSL != nil {
				p.warn(l.pos(), "SSL", "replacing it", "SSL context already specified at %s", c.SSL.Pos)
			}
			c.SSL = &SSL{Pos: l.pos()}
			return c.SSL
		}, newBlock("SSL",
			kw("password", P2, "password STRING", "none", "", func(p *parser, n any, l *line) any {
				if t, ok := p.arg(l, 1); ok {
					n.(*SSL).Password = t.s
				}
				return nil
			}),
			kw("ca", P2, "ca PATH", "none", "", func(p *parser, n any, l *line) any {
				if t, ok := p.arg(l, 1); ok {
					n.(*SSL).CA = t.s
				}
				return nil
			}),
			kw("certificate", P2, "certificate PATH", "none", "", func(p *parser, n any, l *line) any {
				if t, ok := p.arg(l, 1); ok {
					n.(*SSL).Certificate = t.s
				}
				return nil
			}),
			kw("key", P2, "key PATH", "none", "", func(p *parser, n any, l *line) any {
				if t, ok := p.arg(l, 1); ok {
					n.(*SSL).Key = t.s
				}
				return nil
			}),
		)),
	)
}

func (k *kwDef) tierP2() *kwDef { k.tier = P2; return k }

// hexArg reads the hex digits of every argument after the keyword (white
// space between them allowed, as keepalived's UDP_CHECK reads them). With
// wild, an x or X nibble matches anything: its mask nibble is 0. An odd
// number of digits or a bad digit is a warning and the keyword is ignored.
func (p *parser) hexArg(l *line, wild bool) (val, mask []byte, ok bool) {
	var digits []byte
	for _, t := range l.toks[1:] {
		digits = append(digits, t.s...)
	}
	if len(digits) == 0 || len(digits)%2 != 0 {
		p.warn(l.pos(), l.toks[0].s, "ignored", "need an even, non-zero number of hex digits")
		return nil, nil, false
	}
	val, mask = make([]byte, len(digits)/2), make([]byte, len(digits)/2)
	for i, c := range digits {
		var v, m byte = 0, 0xf
		switch {
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			v = c - 'A' + 10
		case wild && (c == 'x' || c == 'X'):
			m = 0
		default:
			p.warn(l.pos(), l.toks[0].s, "ignored", "invalid hex digit %q", c)
			return nil, nil, false
		}
		shift := uint(4 * (1 - i%2))
		val[i/2] |= v << shift
		mask[i/2] |= m << shift
	}
	return val, mask, true
}
