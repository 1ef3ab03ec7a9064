package config

import (
	"math"
	"strconv"
	"strings"
)

// Names iproute2 ships in /etc/iproute2 (rt_protos, rt_dsfield, rt_realms,
// group), which keepalived reads for route and rule options.
var (
	rtProtos = map[string]int{
		"unspec": 0, "redirect": 1, "kernel": 2, "boot": 3, "static": 4, "gated": 8, "ra": 9, "mrt": 10,
		"zebra": 11, "bird": 12, "dnrouted": 13, "xorp": 14, "ntk": 15, "dhcp": 16, "keepalived": 18,
		"babel": 42, "openr": 99, "bgp": 186, "isis": 187, "ospf": 188, "rip": 189, "eigrp": 192,
	}
	rtDSFields = map[string]int{
		"default": 0x0, "AF11": 0x28, "AF12": 0x30, "AF13": 0x38, "AF21": 0x48, "AF22": 0x50, "AF23": 0x58,
		"AF31": 0x68, "AF32": 0x70, "AF33": 0x78, "AF41": 0x88, "AF42": 0x90, "AF43": 0x98, "CS1": 0x20,
		"CS2": 0x40, "CS3": 0x60, "CS4": 0x80, "CS5": 0xa0, "CS6": 0xc0, "CS7": 0xe0, "EF": 0xb8,
	}
	rtRealms = map[string]uint32{"cosmos": 0}
	ifGroups = map[string]int{"default": 0}
	// ipProtos are the /etc/protocols names rules are usually written with.
	ipProtos = map[string]int{
		"icmp": 1, "igmp": 2, "tcp": 6, "udp": 17, "dccp": 33, "ipv6": 41, "gre": 47, "esp": 50, "ah": 51,
		"ipv6-icmp": 58, "icmpv6": 58, "ospf": 89, "pim": 103, "vrrp": 112, "sctp": 132, "udplite": 136,
	}
)

// parseProto reads an rt_protos name or a number 0-255.
func parseProto(s string) (int, bool) {
	if n, ok := rtProtos[s]; ok {
		return n, true
	}
	n, err := strconv.ParseUint(s, 0, 8)
	return int(n), err == nil
}

// parseDSField reads a tos / dsfield value as iproute2 does: an rt_dsfield
// name, or a number in hexadecimal (with or without 0x).
func parseDSField(s string) (int, bool) {
	if n, ok := rtDSFields[s]; ok {
		return n, true
	}
	n, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(s), "0x"), 16, 8)
	return int(n), err == nil
}

// parseRealms reads "realms" as iproute2 does: a raw 32-bit number, or
// [FROM/]TO with rt_realms names or numbers 0-65535.
func parseRealms(s string) (uint32, bool) {
	if n, err := strconv.ParseUint(s, 0, 32); err == nil {
		return uint32(n), true
	}
	realm := func(s string) (uint32, bool) {
		if n, ok := rtRealms[s]; ok {
			return n, true
		}
		n, err := strconv.ParseUint(s, 0, 16)
		return uint32(n), err == nil
	}
	from, to, hasFrom := strings.Cut(s, "/")
	if !hasFrom {
		return realm(s)
	}
	f, ok1 := realm(from)
	t, ok2 := realm(to)
	return f<<16 | t, ok1 && ok2
}

// parseRTT reads an rtt, rttvar or rto_min value as iproute2's
// get_time_rtt: a number (raw, in the kernel's unit) or a time with the
// unit s, sec, secs, ms, msec or msecs (ms, rounded up); raw says which.
func parseRTT(s string) (ms uint32, raw, ok bool) {
	i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' && r != 'x' && r != 'X' })
	num, unit := s, ""
	if i >= 0 && !strings.HasPrefix(strings.ToLower(s), "0x") {
		num, unit = s[:i], s[i:]
	}
	var t float64
	if strings.Contains(num, ".") {
		f, err := strconv.ParseFloat(num, 64)
		if err != nil || f < 0 {
			return 0, false, false
		}
		t = f
	} else {
		n, err := strconv.ParseUint(num, 0, 32)
		if err != nil {
			return 0, false, false
		}
		t = float64(n)
	}
	switch strings.ToLower(unit) {
	case "":
		raw = true
	case "s", "sec", "secs":
		t *= 1000
	case "ms", "msec", "msecs":
	default:
		return 0, false, false
	}
	t = math.Ceil(t)
	if t > math.MaxUint32 {
		return 0, false, false
	}
	return uint32(t), raw, true
}

// parseRange reads N or N-M (inclusive) with N <= M <= max.
func parseRange(s string, max uint64) (lo, hi uint64, ok bool) {
	a, b, isRange := strings.Cut(s, "-")
	lo, err := strconv.ParseUint(a, 10, 64)
	if err != nil || lo > max {
		return 0, 0, false
	}
	hi = lo
	if isRange {
		if hi, err = strconv.ParseUint(b, 10, 64); err != nil || hi > max {
			return 0, 0, false
		}
	}
	return lo, hi, lo <= hi
}

// routeMetric parses the metric option o of a route line ("mtu [lock] N",
// "rtt [lock] TIME", "congctl [lock] NAME", ...) whose words start at
// toks[*i], into r, and reports false when the route is skipped. "lock"
// reaches the kernel for mtu and rto_min only (one of them per route);
// elsewhere it draws a notice.
func (p *parser) routeMetric(r *Route, toks []token, i *int, o token, kw string) bool {
	v, ok := p.optionArg(toks, i, o, kw, "route skipped")
	if !ok {
		return false
	}
	lock := v.s == "lock"
	if lock {
		if v, ok = p.optionArg(toks, i, o, kw, "route skipped"); !ok {
			return false
		}
		r.Extra = append(r.Extra, o.s, "lock", v.s)
		locked := (o.s == "mtu" && !r.Metrics.RTOMinLock) || (o.s == "rto_min" && !r.Metrics.MTULock)
		if !locked {
			p.notice(o.pos, kw, "not locked", "lock on route %s is not implemented by vigil (it is for mtu or rto_min, one per route): the value is applied unlocked", o.s)
		}
	} else if o.s != "mtu" {
		r.Extra = append(r.Extra, o.s, v.s)
	}
	m := &r.Metrics
	if o.s == "congctl" {
		m.Congctl = v.s
		return true
	}
	var n uint32
	if o.s == "rtt" || o.s == "rttvar" || o.s == "rto_min" {
		t, raw, ok := parseRTT(v.s)
		if !ok {
			p.warn(v.pos, kw, "route skipped", "invalid %s %q", o.s, v.s)
			return false
		}
		switch {
		case raw || o.s == "rto_min":
			n = t
		case o.s == "rtt":
			n = t * 8 // the kernel keeps srtt in 1/8 ms
		default:
			n = t * 4 // and rttvar in 1/4 ms
		}
	} else {
		u, err := strconv.ParseUint(v.s, 0, 32)
		if err != nil {
			p.warn(v.pos, kw, "route skipped", "invalid %s %q", o.s, v.s)
			return false
		}
		n = uint32(u)
	}
	switch o.s {
	case "mtu":
		m.MTU, m.MTULock = int(n), lock && !m.RTOMinLock
		if !lock {
			r.MTU = int(n)
		}
	case "advmss":
		m.AdvMSS = int(n)
	case "window":
		m.Window = int(n)
	case "rtt":
		m.RTT = int(n)
	case "rttvar":
		m.RTTVar = int(n)
	case "ssthresh":
		m.Ssthresh = int(n)
	case "cwnd":
		m.Cwnd = int(n)
	case "hoplimit":
		m.Hoplimit = int(n)
	case "reordering":
		m.Reordering = int(n)
	case "initcwnd":
		m.InitCwnd = int(n)
	case "initrwnd":
		m.InitRwnd = int(n)
	case "rto_min":
		m.RTOMin, m.RTOMinLock = int(n), lock && !m.MTULock
	}
	return true
}

// nextHops parses "nexthop via A dev I weight W onlink nexthop ..." (toks
// starts at the first "nexthop") into r.NextHops, and reports false when
// the route is skipped. Nexthop options vigil does not install draw a
// notice.
func (p *parser) nextHops(r *Route, toks []token, kw string) bool {
	var h *NextHop
	for i := 0; i < len(toks); i++ {
		o := toks[i]
		if o.s == "nexthop" {
			r.NextHops = append(r.NextHops, NextHop{})
			h = &r.NextHops[len(r.NextHops)-1]
			continue
		}
		if o.s == "onlink" {
			h.OnLink = true
			continue
		}
		v, ok := p.optionArg(toks, &i, o, kw, "route skipped")
		if !ok {
			return false
		}
		switch o.s {
		case "via":
			if v.s == "inet" || v.s == "inet6" {
				if v, ok = p.optionArg(toks, &i, o, kw, "route skipped"); !ok {
					return false
				}
			}
			a, ok := parseIP(v.s)
			if !ok {
				p.warn(v.pos, kw, "route skipped", "invalid nexthop via %q", v.s)
				return false
			}
			h.Via = a
		case "dev":
			h.Dev = v.s
			if p.opts.InterfaceExists != nil && !p.opts.InterfaceExists(v.s) {
				p.fatal(v.pos, kw, "vigild does not start", "interface %s for route does not exist", v.s)
			}
		case "weight":
			n, err := strconv.ParseUint(v.s, 10, 16)
			if err != nil || n < 1 || n > 256 {
				p.warn(v.pos, kw, "route skipped", "invalid nexthop weight %q", v.s)
				return false
			}
			h.Weight = int(n)
		default:
			p.notice(o.pos, kw, "not applied", "nexthop option %s is not implemented by vigil: the nexthop is installed without it", o.s)
		}
	}
	for _, h := range r.NextHops {
		if !h.Via.IsValid() && h.Dev == "" {
			p.warn(toks[0].pos, kw, "route skipped", "a nexthop needs via or dev")
			return false
		}
		if h.Via.IsValid() && r.Dst.IsValid() && h.Via.Is4() != r.Dst.Addr().Is4() {
			p.warn(toks[0].pos, kw, "route skipped", "cannot mix IPv4 and IPv6 addresses in a route")
			return false
		}
	}
	if r.Via.IsValid() || r.Dev != "" {
		p.warn(toks[0].pos, kw, "route skipped", "a route with nexthops takes via and dev in its nexthops only")
		return false
	}
	return true
}

// ruleOption resolves the rule option o with parameter v into r's fields
// and reports false (after a warning) when the rule is skipped.
func (p *parser) ruleOption(r *Rule, o string, v token, kw string) bool {
	ok := true
	switch o {
	case "tos", "dsfield":
		var n int
		n, ok = parseDSField(v.s)
		r.Tos = uint8(n)
	case "realms":
		r.Realm, ok = parseRealms(v.s)
	case "goto":
		var n uint64
		n, ok = parseUint(v.s, math.MaxUint32)
		r.Goto = int(n)
		ok = ok && n != 0
	case "uidrange":
		var lo, hi uint64
		lo, hi, ok = parseRange(v.s, math.MaxUint32)
		r.UIDRange, r.HasUIDRange = [2]uint32{uint32(lo), uint32(hi)}, true
	case "ip_proto", "ipproto":
		n, named := ipProtos[strings.ToLower(v.s)]
		if !named {
			var u uint64
			u, ok = parseUint(v.s, 255)
			n = int(u)
		}
		r.IPProto = n
	case "sport", "dport":
		var lo, hi uint64
		lo, hi, ok = parseRange(v.s, math.MaxUint16)
		pr := [2]uint16{uint16(lo), uint16(hi)}
		if o == "sport" {
			r.Sport = pr
		} else {
			r.Dport = pr
		}
	case "protocol":
		var n int
		n, ok = parseProto(v.s)
		r.Protocol = uint8(n)
	case "suppress_prefixlength":
		var n uint64
		n, ok = parseUint(v.s, 128)
		r.SuppressPrefixLen, r.HasSuppressPrefixLen = int(n), true
	case "suppress_ifgroup":
		n, named := ifGroups[v.s]
		if !named {
			var u uint64
			u, ok = parseUint(v.s, math.MaxInt32)
			n = int(u)
		}
		r.SuppressIfGroup, r.HasSuppressIfGroup = n, true
	}
	if !ok {
		p.warn(v.pos, kw, "rule skipped", "invalid %s %q", o, v.s)
	}
	return ok
}

// parseUint reads a decimal (or 0x hexadecimal) number up to max.
func parseUint(s string, max uint64) (uint64, bool) {
	n, err := strconv.ParseUint(s, 0, 64)
	return n, err == nil && n <= max
}

// routeArg reads the parameter of the route option o and resolves it with
// parse; it returns the value and the word, or warns and reports false
// (the route is skipped).
func routeArg[T any](p *parser, toks []token, i *int, o token, kw string, parse func(string) (T, bool)) (T, string, bool) {
	var zero T
	v, ok := p.optionArg(toks, i, o, kw, "route skipped")
	if !ok {
		return zero, "", false
	}
	n, ok := parse(v.s)
	if !ok {
		p.warn(v.pos, kw, "route skipped", "invalid route %s %q", o.s, v.s)
		return zero, "", false
	}
	return n, v.s, true
}
