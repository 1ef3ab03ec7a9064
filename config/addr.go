package config

import (
	"math"
	"net/netip"
	"strconv"
	"strings"
)

// cutPrefix reads ADDR[/LEN]: ok reports whether ADDR is an address, and
// lenOK whether LEN, if given, is a prefix length for it. bits is LEN, or
// the address's full length when LEN is absent or bad.
func cutPrefix(s string) (a netip.Addr, bits int, ok, lenOK bool) {
	addrS, lenS, hasLen := strings.Cut(s, "/")
	if a, ok = parseIP(addrS); !ok {
		return a, 0, false, false
	}
	bits = a.BitLen()
	if hasLen {
		n, err := strconv.Atoi(lenS)
		if err != nil || n < 0 || n > bits {
			return a, bits, true, false
		}
		bits = n
	}
	return a, bits, true, true
}

// parsePrefix parses ADDR[/LEN] as keepalived's parse_ipaddress: no length
// means a host prefix; a bad length falls back to the host length with a
// complaint.
func (p *parser) parsePrefix(t token, kw string) (netip.Prefix, bool) {
	a, bits, ok, lenOK := cutPrefix(t.s)
	if !ok {
		p.warn(t.pos, kw, "address skipped", "%q is not a valid IP address", t.s)
		return netip.Prefix{}, false
	}
	if !lenOK {
		_, lenS, _ := strings.Cut(t.s, "/")
		p.warn(t.pos, kw, "using /"+strconv.Itoa(bits), "invalid prefix length %q", lenS)
	}
	return netip.PrefixFrom(a, bits), true
}

var scopes = map[string]bool{"global": true, "site": true, "link": true, "host": true, "nowhere": true, "universe": true}

// address parses one address line (virtual_ipaddress, _excluded, static).
func (p *parser) address(l *line, kw string, static bool) (Address, bool) {
	a := Address{Pos: l.pos()}
	pfx, ok := p.parsePrefix(l.toks[0], kw)
	if !ok {
		return a, false
	}
	a.Prefix = pfx
	is6 := pfx.Addr().Is6()
	toks := l.toks
	for i := 1; i < len(toks); i++ {
		o := toks[i]
		val := func() (token, bool) {
			if i+1 < len(toks) {
				i++
				return toks[i], true
			}
			p.warn(o.pos, kw, "option ignored", "no %s parameter for %s", o.s, toks[0].s)
			return token{}, false
		}
		switch o.s {
		case "dev":
			if v, ok := val(); ok {
				if a.Dev != "" {
					p.warn(v.pos, kw, "keeping dev "+a.Dev, "dev given more than once for %s", toks[0].s)
					continue
				}
				a.Dev = v.s
				if p.opts.InterfaceExists != nil && !p.opts.InterfaceExists(v.s) {
					p.ifaceMissing(v.pos, kw, v.s, func() {
						p.fatal(v.pos, kw, "vigild does not start", "interface %s for address %s does not exist", v.s, toks[0].s)
					})
				}
			}
		case "scope":
			if v, ok := val(); ok {
				if !scopes[v.s] {
					if _, err := strconv.Atoi(v.s); err != nil {
						p.warn(v.pos, kw, "scope ignored", "invalid scope %q", v.s)
						continue
					}
				}
				a.Scope = v.s
			}
		case "broadcast", "brd":
			if v, ok := val(); ok {
				if is6 {
					p.warn(v.pos, kw, "broadcast ignored", "broadcast on the IPv6 address %s", toks[0].s)
					continue
				}
				switch v.s {
				case "-":
					a.Broadcast, a.BroadcastAuto = netip.Addr{}, false
				case "+":
					a.BroadcastAuto = true
				default:
					b, ok := parseIP(v.s)
					if !ok || !b.Is4() {
						p.warn(v.pos, kw, "broadcast ignored", "invalid broadcast %q", v.s)
						continue
					}
					a.Broadcast = b
				}
			}
		case "label":
			if v, ok := val(); ok {
				if len(v.s) > 15 {
					p.warn(v.pos, kw, "address removed", "label %s is longer than 15 characters", v.s)
					return a, false
				}
				a.Label = v.s
			}
		case "peer":
			if v, ok := val(); ok {
				if a.Peer.IsValid() {
					p.warn(v.pos, kw, "ignored", "peer already given")
					continue
				}
				pp, ok := p.parsePrefix(v, kw)
				if !ok {
					continue
				}
				if pp.Addr().Is6() != is6 {
					p.warn(v.pos, kw, "peer ignored", "peer %s does not match the address family", v.s)
					continue
				}
				a.Peer = pp
			}
		case "home":
			a.Home = true
		case "-nodad":
			a.NoDAD = true
		case "mngtmpaddr":
			a.MngTmpAddr = true
		case "noprefixroute":
			a.NoPrefixRoute = true
		case "autojoin":
			a.AutoJoin = true
		case "no_track":
			a.NoTrack = true
		case "preferred_lft":
			if v, ok := val(); ok {
				if v.s == "forever" {
					a.PreferredLft = nil
					continue
				}
				n, err := strconv.ParseUint(v.s, 10, 32)
				if err != nil || n == math.MaxUint32 {
					p.warn(v.pos, kw, "preferred_lft ignored", "invalid preferred_lft %q", v.s)
					continue
				}
				lft := int(n)
				a.PreferredLft = &lft
			}
		case "track_group":
			if !static {
				p.warn(o.pos, kw, "ignored", "unknown option %q for an address", o.s)
				continue
			}
			if v, ok := val(); ok {
				a.TrackGroup = v.s
				p.notice(o.pos, kw, "not applied", "track_group on a static address is not implemented by vigil: %s is installed whatever the group's state", toks[0].s)
			}
		case "use_vmac":
			if static {
				p.warn(o.pos, kw, "ignored", "unknown option %q for an address", o.s)
				continue
			}
			a.UseVMAC = true
			p.notice(o.pos, kw, "not applied", "use_vmac on an address is not implemented by vigil: %s goes on the interface without a VMAC", toks[0].s)
		default:
			p.warn(o.pos, kw, "ignored", "unknown option %q for an address", o.s)
		}
	}
	if a.Peer.IsValid() && (a.Broadcast.IsValid() || a.BroadcastAuto) {
		p.warn(l.pos(), kw, "broadcast ignored", "broadcast and peer both given")
		a.Broadcast, a.BroadcastAuto = netip.Addr{}, false
	}
	if is6 && a.Scope != "" {
		p.warn(l.pos(), kw, "scope ignored", "scope cannot be set on an IPv6 address")
		a.Scope = ""
	}
	if is6 && a.Label != "" {
		p.warn(l.pos(), kw, "label ignored", "label cannot be set on an IPv6 address")
		a.Label = ""
	}
	return a, true
}

var routeTypes = map[string]bool{
	"unicast": true, "local": true, "broadcast": true, "multicast": true, "throw": true,
	"unreachable": true, "prohibit": true, "blackhole": true, "nat": true, "anycast": true,
}

// installedRouteTypes are the route types vigild installs (package vip);
// the others parse, draw a notice and are skipped.
var installedRouteTypes = map[string]bool{"": true, "blackhole": true, "unreachable": true, "prohibit": true, "throw": true}

// route parses one route line (virtual_routes, static_routes).
func (p *parser) route(l *line, kw string, static bool) (Route, bool) {
	r := Route{Pos: l.pos()}
	toks := l.toks
	fam := 0
	setFam := func(a netip.Addr, t token) bool {
		f := 4
		if a.Is6() {
			f = 6
		}
		if fam != 0 && fam != f {
			p.warn(t.pos, kw, "route skipped", "cannot mix IPv4 and IPv6 addresses in a route")
			return false
		}
		fam = f
		return true
	}
	var dstTok token
	hasDst := false
	for i := 0; i < len(toks); i++ {
		o := toks[i]
		next := func() (token, bool) { return p.optionArg(toks, &i, o, kw, "route skipped") }
		switch o.s {
		case "inet6":
			if fam == 4 {
				p.warn(o.pos, kw, "ignored", "inet6 given for an IPv4 route")
			}
			fam = 6
		case "inet":
			if fam == 6 {
				p.warn(o.pos, kw, "ignored", "inet given for an IPv6 route")
			}
			fam = 4
		case "src", "via", "gw":
			what := o.s
			if o.s == "gw" {
				p.warn(o.pos, kw, "read as via", "\"gw\" for routes is deprecated; use \"via\"")
				what = "via"
			}
			v, ok := next()
			if ok && what == "via" && (v.s == "inet" || v.s == "inet6") {
				v, ok = next()
			}
			if !ok {
				return r, false
			}
			a, ok := parseIP(v.s)
			if !ok {
				p.warn(v.pos, kw, "route skipped", "invalid route %s address %q", what, v.s)
				return r, false
			}
			if !setFam(a, v) {
				return r, false
			}
			if what == "src" {
				r.Src = a
			} else {
				r.Via = a
			}
		case "dev", "oif":
			v, ok := next()
			if !ok {
				return r, false
			}
			r.Dev = v.s
			if p.opts.InterfaceExists != nil && !p.opts.InterfaceExists(v.s) {
				p.fatal(v.pos, kw, "vigild does not start", "interface %s for route does not exist", v.s)
			}
		case "table":
			v, ok := next()
			if !ok {
				return r, false
			}
			n, ok := p.routeTable(v.s, v.pos, kw, "route skipped")
			if !ok {
				return r, false
			}
			r.Table = n
		case "metric", "priority", "preference":
			v, ok := next()
			if !ok {
				return r, false
			}
			n, err := strconv.ParseUint(v.s, 10, 32)
			if err != nil {
				p.warn(v.pos, kw, "route skipped", "invalid metric %q", v.s)
				return r, false
			}
			r.Metric = int(n)
		case "scope":
			v, ok := next()
			if !ok {
				return r, false
			}
			if !scopes[v.s] {
				p.warn(v.pos, kw, "route skipped", "scope %q not found or invalid", v.s)
				return r, false
			}
			r.Scope = v.s
		case "protocol", "proto":
			n, w, ok := routeArg(p, toks, &i, o, kw, parseProto)
			if !ok {
				return r, false
			}
			r.Proto, r.Protocol = w, n
		case "onlink":
			r.OnLink = true
		case "mtu", "advmss", "window", "rtt", "rttvar", "ssthresh", "cwnd", "hoplimit", "reordering",
			"initcwnd", "initrwnd", "rto_min", "congctl":
			if !p.routeMetric(&r, toks, &i, o, kw) {
				return r, false
			}
		case "quickack", "fastopen_no_cookie":
			v, ok := next()
			if !ok {
				return r, false
			}
			if v.s != "0" && v.s != "1" {
				p.warn(v.pos, kw, "route skipped", "%s must be 0 or 1, not %q", o.s, v.s)
				return r, false
			}
			r.Extra = append(r.Extra, o.s, v.s)
			if o.s == "quickack" {
				r.Metrics.QuickACK = int(v.s[0] - '0')
			} else {
				r.Metrics.FastOpenNoCookie = int(v.s[0] - '0')
			}
		case "features":
			v, ok := next()
			if !ok {
				return r, false
			}
			n, err := strconv.ParseUint(v.s, 0, 32)
			switch {
			case v.s == "ecn":
				n = 1 // RTAX_FEATURE_ECN
			case err != nil:
				p.warn(v.pos, kw, "route skipped", "invalid route features %q", v.s)
				return r, false
			}
			r.Extra = append(r.Extra, o.s, v.s)
			r.Metrics.Features |= int(n)
		case "tos", "dsfield":
			n, w, ok := routeArg(p, toks, &i, o, kw, parseDSField)
			if !ok {
				return r, false
			}
			r.Extra = append(r.Extra, o.s, w)
			r.Tos = n
		case "realms":
			n, w, ok := routeArg(p, toks, &i, o, kw, parseRealms)
			if !ok {
				return r, false
			}
			r.Extra = append(r.Extra, o.s, w)
			r.Realm = n
		case "no_track":
			r.NoTrack = true
		case "track_group":
			if !static {
				p.warn(o.pos, kw, "route skipped", "unknown route keyword %q", o.s)
				return r, false
			}
			v, ok := next()
			if !ok {
				return r, false
			}
			r.Extra = append(r.Extra, "track_group", v.s)
			p.notice(o.pos, kw, "not applied", "track_group on a static route is not implemented by vigil")
		case "or":
			p.warn(o.pos, kw, "kept as an extra option", "\"or\" for routes is deprecated; use \"nexthop\"")
			v, ok := next()
			if !ok {
				return r, false
			}
			r.Extra = append(r.Extra, "or", v.s)
			p.notice(o.pos, kw, "not applied", "route option \"or\" is not implemented by vigil: the route is installed without this gateway")
		case "nexthop":
			// nexthop specs run to the end of the line
			r.Extra = append(r.Extra, words(toks[i:])...)
			if !p.nextHops(&r, toks[i:], kw) {
				return r, false
			}
			i = len(toks)
		case "pref", "expires", "ttl-propagate", "from", "encap", "vrf", "as":
			v, ok := next()
			if !ok {
				return r, false
			}
			r.Extra = append(r.Extra, o.s, v.s)
			if o.s == "encap" {
				// encap TYPE ... runs to the end or to the next known keyword; keep the rest.
				r.Extra = append(r.Extra, words(toks[i+1:])...)
				i = len(toks)
			}
			p.notice(o.pos, kw, "not applied", "route option %s is not implemented by vigil: the route is installed without it", o.s)
		case "add", "prepend", "append":
			r.Extra = append(r.Extra, o.s)
			p.notice(o.pos, kw, "not applied", "route option %s is not implemented by vigil: the route is added as a new route", o.s)
		default:
			j := i
			if o.s == "to" {
				j++
			}
			if j < len(toks) && routeTypes[toks[j].s] {
				r.Type = toks[j].s
				if r.Type == "unicast" {
					r.Type = ""
				}
				if !installedRouteTypes[r.Type] {
					p.notice(toks[j].pos, kw, "route skipped", "route type %s not implemented by vigil", r.Type)
					return r, false
				}
				j++
			}
			if j >= len(toks) {
				p.warn(o.pos, kw, "route skipped", "route must have a destination")
				return r, false
			}
			d := toks[j]
			var pfx netip.Prefix
			if d.s == "default" {
				if fam == 6 {
					pfx = netip.MustParsePrefix("::/0")
				} else {
					pfx = netip.MustParsePrefix("0.0.0.0/0")
				}
			} else {
				a, bits, ok, lenOK := cutPrefix(d.s)
				if !ok {
					p.warn(d.pos, kw, "route skipped", "unknown route keyword %q", d.s)
					return r, false
				}
				if !lenOK {
					p.warn(d.pos, kw, "route skipped", "invalid prefix length in %q", d.s)
					return r, false
				}
				pfx = netip.PrefixFrom(a, bits).Masked()
			}
			if !setFam(pfx.Addr(), d) {
				return r, false
			}
			r.Dst = pfx
			hasDst = true
			dstTok = d
			i = j
		}
	}
	if !hasDst {
		p.warn(l.pos(), kw, "route skipped", "route must have a destination")
		return r, false
	}
	if !r.NoTrack {
		if r.Proto != "" && r.Protocol != 18 {
			p.warn(l.pos(), kw, "protocol reset", "a tracked route must use protocol keepalived")
		}
		r.Proto, r.Protocol = "", 0
		if r.Dev == "" {
			p.warn(dstTok.pos, kw, "not tracked", "cannot track route %s with no interface specified", r.Dst)
			r.NoTrack = true
		}
	}
	return r, true
}

// rule parses one rule line (virtual_rules, static_rules); autoPref is
// keepalived's decreasing default preference.
func (p *parser) rule(l *line, kw string, autoPref *int) (Rule, bool) {
	r := Rule{Pos: l.pos()}
	toks := l.toks
	hasPref := false
	fam := 0
	pfx := func(t token, what string) (netip.Prefix, bool) {
		if t.s == "all" {
			return netip.Prefix{}, true
		}
		a, bits, ok, lenOK := cutPrefix(t.s)
		if !ok || !lenOK {
			p.warn(t.pos, kw, "rule skipped", "invalid rule %s address %q", what, t.s)
			return netip.Prefix{}, false
		}
		f := 4
		if a.Is6() {
			f = 6
		}
		if fam != 0 && fam != f {
			p.warn(t.pos, kw, "rule skipped", "cannot mix IPv4 and IPv6 in a rule")
			return netip.Prefix{}, false
		}
		fam = f
		return netip.PrefixFrom(a, bits).Masked(), true
	}
	for i := 0; i < len(toks); i++ {
		o := toks[i]
		next := func() (token, bool) { return p.optionArg(toks, &i, o, kw, "rule skipped") }
		switch o.s {
		case "from", "to":
			v, ok := next()
			if !ok {
				return r, false
			}
			x, ok := pfx(v, o.s)
			if !ok {
				return r, false
			}
			if o.s == "from" {
				r.From = x
			} else {
				r.To = x
			}
		case "table", "lookup":
			v, ok := next()
			if !ok {
				return r, false
			}
			n, ok := p.routeTable(v.s, v.pos, kw, "rule skipped")
			if !ok {
				return r, false
			}
			r.Table = n
		case "preference", "priority", "pref", "order":
			v, ok := next()
			if !ok {
				return r, false
			}
			n, err := strconv.ParseUint(v.s, 10, 32)
			if err != nil {
				p.warn(v.pos, kw, "rule skipped", "invalid preference %q", v.s)
				return r, false
			}
			r.Preference, hasPref = int(n), true
		case "iif", "dev":
			v, ok := next()
			if !ok {
				return r, false
			}
			r.IIF = v.s
		case "oif":
			v, ok := next()
			if !ok {
				return r, false
			}
			r.OIF = v.s
		case "fwmark":
			v, ok := next()
			if !ok {
				return r, false
			}
			ms, mk, hasMask := strings.Cut(v.s, "/")
			m, err := strconv.ParseUint(ms, 0, 32)
			if err != nil {
				p.warn(v.pos, kw, "rule skipped", "invalid fwmark %q", v.s)
				return r, false
			}
			r.FWMark = uint32(m)
			if hasMask {
				k, err := strconv.ParseUint(mk, 0, 32)
				if err != nil {
					p.warn(v.pos, kw, "rule skipped", "invalid fwmark mask %q", v.s)
					return r, false
				}
				r.FWMask, r.HasFWMask = uint32(k), true
			}
		case "no_track":
			r.NoTrack = true
		case "inet6":
			r.IPv6 = true
			fam = 6
		case "inet":
			fam = 4
		case "not":
			r.Extra = append(r.Extra, o.s)
			r.Not = true
		case "l3mdev":
			r.Extra = append(r.Extra, o.s)
			p.notice(o.pos, kw, "rule skipped", "rule option l3mdev is not implemented by vigil")
			return r, false
		case "tun_id":
			v, ok := next()
			if !ok {
				return r, false
			}
			r.Extra = append(r.Extra, o.s, v.s)
			// netlink.Rule sends FRA_TUN_ID in 4 bytes where the kernel
			// wants 8, and installing the rule without it would match
			// every packet.
			p.notice(o.pos, kw, "rule skipped", "rule option tun_id is not implemented by vigil")
			return r, false
		case "nat", "map-to":
			if _, ok := next(); !ok {
				return r, false
			}
			p.notice(o.pos, kw, "rule skipped", "rule option %s is not implemented by vigil (nor by current kernels)", o.s)
			return r, false
		case "type":
			v, ok := next()
			if !ok {
				return r, false
			}
			r.Extra = append(r.Extra, o.s, v.s)
			switch v.s {
			case "unicast":
			case "blackhole", "unreachable", "prohibit", "nop":
				r.Type = v.s
			case "nat":
				p.notice(v.pos, kw, "rule skipped", "rule type nat is not implemented by vigil (nor by current kernels)")
				return r, false
			default:
				p.warn(v.pos, kw, "rule skipped", "invalid rule type %q", v.s)
				return r, false
			}
		case "tos", "dsfield", "realms", "goto", "uidrange", "ip_proto", "ipproto", "sport", "dport", "protocol",
			"suppress_prefixlength", "suppress_ifgroup":
			v, ok := next()
			if !ok {
				return r, false
			}
			r.Extra = append(r.Extra, o.s, v.s)
			if !p.ruleOption(&r, o.s, v, kw) {
				return r, false
			}
		default:
			p.warn(o.pos, kw, "rule skipped", "unknown rule option %q", o.s)
			return r, false
		}
	}
	if fam == 6 {
		r.IPv6 = true
	}
	action := "goto"
	if r.Type != "" {
		action = r.Type
		if r.Goto != 0 {
			p.warn(l.pos(), kw, "goto ignored", "a %s rule jumps nowhere", action)
			r.Goto = 0
		}
	}
	if (r.Goto != 0 || r.Type != "") && r.Table != 0 {
		p.warn(l.pos(), kw, "table ignored", "a %s rule looks up no table", action)
		r.Table = 0
	}
	if (r.Goto != 0 || r.Type != "") && (r.HasSuppressPrefixLen || r.HasSuppressIfGroup) {
		p.warn(l.pos(), kw, "suppress ignored", "suppress_prefixlength and suppress_ifgroup need a table lookup, not %s", action)
		r.HasSuppressPrefixLen, r.HasSuppressIfGroup = false, false
	}
	if !hasPref {
		r.Preference = *autoPref
		p.warn(l.pos(), kw, "using preference "+strconv.Itoa(*autoPref), "rule has no preference")
		*autoPref--
	}
	return r, true
}

// optionArg advances *i to the next parameter of the route or rule option
// o and returns it; when none follows it warns about o (fallback says what
// becomes of the line) and reports false. An option may take more than one
// parameter, so o is given rather than read from toks[*i].
func (p *parser) optionArg(toks []token, i *int, o token, kw, fallback string) (token, bool) {
	if *i+1 < len(toks) {
		*i++
		return toks[*i], true
	}
	p.warn(o.pos, kw, fallback, "no parameter after %s", o.s)
	return token{}, false
}
