package config

import (
	"go/ast"
	goparser "go/parser"
	gotoken "go/token"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// optionCase is one option on an address, route or rule line: what the
// line resolves to (want, compared with the parsed entry after Pos and
// Extra are cleared), or the notice it draws.
type optionCase struct {
	fn     string // the parsing function whose switch accepts opt
	opt    string
	line   string
	want   any    // Address, Route or Rule; nil when the line is skipped
	notice string // part of the expected notice; "" for none
}

var (
	a4   = netip.MustParseAddr
	p4   = netip.MustParsePrefix
	lft0 = 0
	rt   = func(f func(*Route)) Route {
		r := Route{Dst: p4("198.51.100.0/24"), Via: a4("192.0.2.254"), Dev: "eth0", NoTrack: true}
		f(&r)
		return r
	}
	ru = func(f func(*Rule)) Rule {
		r := Rule{From: p4("192.0.2.0/24"), Table: 100, Preference: 10}
		f(&r)
		return r
	}
	ad = func(f func(*Address)) Address {
		a := Address{Prefix: p4("2001:db8::20/64"), Dev: "eth0"}
		f(&a)
		return a
	}
)

// routeBase and ruleBase start every route and rule line of optionCases.
const (
	routeBase = "198.51.100.0/24 via 192.0.2.254 dev eth0 no_track "
	ruleBase  = "from 192.0.2.0/24 table 100 preference 10 "
	addrBase  = "2001:db8::20/64 dev eth0 "
)

var optionCases = []optionCase{
	{"address", "dev", addrBase, ad(func(*Address) {}), ""},
	{"address", "scope", "192.0.2.20/24 dev eth0 scope link", Address{Prefix: p4("192.0.2.20/24"), Dev: "eth0", Scope: "link"}, ""},
	{"address", "broadcast", "192.0.2.20/24 dev eth0 broadcast 192.0.2.255", Address{Prefix: p4("192.0.2.20/24"), Dev: "eth0", Broadcast: a4("192.0.2.255")}, ""},
	{"address", "brd", "192.0.2.20/24 dev eth0 brd +", Address{Prefix: p4("192.0.2.20/24"), Dev: "eth0", BroadcastAuto: true}, ""},
	{"address", "label", "192.0.2.20/24 dev eth0 label eth0:v", Address{Prefix: p4("192.0.2.20/24"), Dev: "eth0", Label: "eth0:v"}, ""},
	{"address", "peer", "192.0.2.20 dev eth0 peer 192.0.2.21/24", Address{Prefix: p4("192.0.2.20/32"), Dev: "eth0", Peer: p4("192.0.2.21/24")}, ""},
	{"address", "home", addrBase + "home", ad(func(a *Address) { a.Home = true }), ""},
	{"address", "-nodad", addrBase + "-nodad", ad(func(a *Address) { a.NoDAD = true }), ""},
	{"address", "mngtmpaddr", addrBase + "mngtmpaddr", ad(func(a *Address) { a.MngTmpAddr = true }), ""},
	{"address", "noprefixroute", addrBase + "noprefixroute", ad(func(a *Address) { a.NoPrefixRoute = true }), ""},
	{"address", "autojoin", addrBase + "autojoin", ad(func(a *Address) { a.AutoJoin = true }), ""},
	{"address", "no_track", addrBase + "no_track", ad(func(a *Address) { a.NoTrack = true }), ""},
	{"address", "preferred_lft", addrBase + "preferred_lft 0", ad(func(a *Address) { a.PreferredLft = &lft0 }), ""},
	{"address", "track_group", addrBase + "track_group G", ad(func(a *Address) { a.TrackGroup = "G" }), "track_group on a static address is not implemented"},
	{"address", "use_vmac", "vip:192.0.2.20/24 dev eth0 use_vmac", Address{Prefix: p4("192.0.2.20/24"), Dev: "eth0", UseVMAC: true}, "use_vmac on an address is not implemented"},

	{"route", "inet6", "inet6 2001:db8:1::/48 dev eth0 no_track", Route{Dst: p4("2001:db8:1::/48"), Dev: "eth0", NoTrack: true}, ""},
	{"route", "inet", "inet 198.51.100.0/24 dev eth0 no_track", Route{Dst: p4("198.51.100.0/24"), Dev: "eth0", NoTrack: true}, ""},
	{"route", "src", routeBase + "src 192.0.2.20", rt(func(r *Route) { r.Src = a4("192.0.2.20") }), ""},
	{"route", "via", "198.51.100.0/24 via 192.0.2.254 no_track", Route{Dst: p4("198.51.100.0/24"), Via: a4("192.0.2.254"), NoTrack: true}, ""},
	{"route", "gw", "198.51.100.0/24 gw 192.0.2.254 no_track", Route{Dst: p4("198.51.100.0/24"), Via: a4("192.0.2.254"), NoTrack: true}, ""},
	{"route", "dev", routeBase, rt(func(*Route) {}), ""},
	{"route", "oif", "198.51.100.0/24 oif eth0 no_track", Route{Dst: p4("198.51.100.0/24"), Dev: "eth0", NoTrack: true}, ""},
	{"route", "table", routeBase + "table 100", rt(func(r *Route) { r.Table = 100 }), ""},
	{"route", "metric", routeBase + "metric 7", rt(func(r *Route) { r.Metric = 7 }), ""},
	{"route", "priority", routeBase + "priority 7", rt(func(r *Route) { r.Metric = 7 }), ""},
	{"route", "preference", routeBase + "preference 7", rt(func(r *Route) { r.Metric = 7 }), ""},
	{"route", "scope", routeBase + "scope link", rt(func(r *Route) { r.Scope = "link" }), ""},
	{"route", "protocol", routeBase + "protocol bgp", rt(func(r *Route) { r.Proto, r.Protocol = "bgp", 186 }), ""},
	{"route", "proto", routeBase + "proto 99", rt(func(r *Route) { r.Proto, r.Protocol = "99", 99 }), ""},
	{"route", "onlink", routeBase + "onlink", rt(func(r *Route) { r.OnLink = true }), ""},
	{"route", "mtu", routeBase + "mtu 1400", rt(func(r *Route) { r.MTU, r.Metrics.MTU = 1400, 1400 }), ""},
	{"route", "mtu", routeBase + "mtu lock 1400", rt(func(r *Route) { r.Metrics.MTU, r.Metrics.MTULock = 1400, true }), ""},
	{"route", "advmss", routeBase + "advmss 1360", rt(func(r *Route) { r.Metrics.AdvMSS = 1360 }), ""},
	{"route", "advmss", routeBase + "advmss lock 1360", rt(func(r *Route) { r.Metrics.AdvMSS = 1360 }), "lock on route advmss is not implemented"},
	{"route", "window", routeBase + "window 65535", rt(func(r *Route) { r.Metrics.Window = 65535 }), ""},
	{"route", "rtt", routeBase + "rtt 100ms", rt(func(r *Route) { r.Metrics.RTT = 800 }), ""},
	{"route", "rtt", routeBase + "rtt 1.5s", rt(func(r *Route) { r.Metrics.RTT = 12000 }), ""},
	{"route", "rtt", routeBase + "rtt 12", rt(func(r *Route) { r.Metrics.RTT = 12 }), ""},
	{"route", "rttvar", routeBase + "rttvar 50ms", rt(func(r *Route) { r.Metrics.RTTVar = 200 }), ""},
	{"route", "ssthresh", routeBase + "ssthresh 30", rt(func(r *Route) { r.Metrics.Ssthresh = 30 }), ""},
	{"route", "cwnd", routeBase + "cwnd 40", rt(func(r *Route) { r.Metrics.Cwnd = 40 }), ""},
	{"route", "hoplimit", routeBase + "hoplimit 60", rt(func(r *Route) { r.Metrics.Hoplimit = 60 }), ""},
	{"route", "reordering", routeBase + "reordering 5", rt(func(r *Route) { r.Metrics.Reordering = 5 }), ""},
	{"route", "initcwnd", routeBase + "initcwnd 10", rt(func(r *Route) { r.Metrics.InitCwnd = 10 }), ""},
	{"route", "initrwnd", routeBase + "initrwnd 20", rt(func(r *Route) { r.Metrics.InitRwnd = 20 }), ""},
	{"route", "rto_min", routeBase + "rto_min lock 200ms", rt(func(r *Route) { r.Metrics.RTOMin, r.Metrics.RTOMinLock = 200, true }), ""},
	{"route", "rto_min", routeBase + "mtu lock 1400 rto_min lock 2", rt(func(r *Route) {
		r.Metrics.MTU, r.Metrics.MTULock, r.Metrics.RTOMin = 1400, true, 2
	}), "lock on route rto_min is not implemented"},
	{"route", "congctl", routeBase + "congctl reno", rt(func(r *Route) { r.Metrics.Congctl = "reno" }), ""},
	{"route", "quickack", routeBase + "quickack 1", rt(func(r *Route) { r.Metrics.QuickACK = 1 }), ""},
	{"route", "fastopen_no_cookie", routeBase + "fastopen_no_cookie 1", rt(func(r *Route) { r.Metrics.FastOpenNoCookie = 1 }), ""},
	{"route", "features", routeBase + "features ecn", rt(func(r *Route) { r.Metrics.Features = 1 }), ""},
	{"route", "tos", routeBase + "tos 10", rt(func(r *Route) { r.Tos = 0x10 }), ""},
	{"route", "dsfield", routeBase + "dsfield EF", rt(func(r *Route) { r.Tos = 0xb8 }), ""},
	{"route", "realms", routeBase + "realms 1/2", rt(func(r *Route) { r.Realm = 1<<16 | 2 }), ""},
	{"route", "no_track", routeBase, rt(func(*Route) {}), ""},
	{"route", "track_group", "static:" + routeBase + "track_group G", rt(func(*Route) {}), "track_group on a static route is not implemented"},
	{"route", "or", routeBase + "or 192.0.2.253", rt(func(*Route) {}), "route option \"or\" is not implemented"},
	{"route", "nexthop", "198.51.100.0/24 no_track nexthop via 192.0.2.252 dev eth0 weight 2 onlink nexthop via 192.0.2.253",
		Route{Dst: p4("198.51.100.0/24"), NoTrack: true, NextHops: []NextHop{
			{Via: a4("192.0.2.252"), Dev: "eth0", Weight: 2, OnLink: true}, {Via: a4("192.0.2.253")}}}, ""},
	{"route", "pref", routeBase + "pref high", rt(func(*Route) {}), "route option pref is not implemented"},
	{"route", "expires", routeBase + "expires 10", rt(func(*Route) {}), "route option expires is not implemented"},
	{"route", "ttl-propagate", routeBase + "ttl-propagate enabled", rt(func(*Route) {}), "route option ttl-propagate is not implemented"},
	{"route", "from", routeBase + "from 192.0.2.0/24", rt(func(*Route) {}), "route option from is not implemented"},
	{"route", "encap", routeBase + "encap mpls 100", rt(func(*Route) {}), "route option encap is not implemented"},
	{"route", "vrf", routeBase + "vrf blue", rt(func(*Route) {}), "route option vrf is not implemented"},
	{"route", "as", routeBase + "as 192.0.2.9", rt(func(*Route) {}), "route option as is not implemented"},
	{"route", "add", routeBase + "add", rt(func(*Route) {}), "route option add is not implemented"},
	{"route", "prepend", routeBase + "prepend", rt(func(*Route) {}), "route option prepend is not implemented"},
	{"route", "append", routeBase + "append", rt(func(*Route) {}), "route option append is not implemented"},

	{"nextHops", "via", "198.51.100.0/24 no_track nexthop via 192.0.2.252", Route{Dst: p4("198.51.100.0/24"), NoTrack: true, NextHops: []NextHop{{Via: a4("192.0.2.252")}}}, ""},
	{"nextHops", "dev", "198.51.100.0/24 no_track nexthop dev eth0", Route{Dst: p4("198.51.100.0/24"), NoTrack: true, NextHops: []NextHop{{Dev: "eth0"}}}, ""},
	{"nextHops", "weight", "198.51.100.0/24 no_track nexthop dev eth0 weight 3", Route{Dst: p4("198.51.100.0/24"), NoTrack: true, NextHops: []NextHop{{Dev: "eth0", Weight: 3}}}, ""},
	{"nextHops", "onlink", "198.51.100.0/24 no_track nexthop via 192.0.2.9 onlink", Route{Dst: p4("198.51.100.0/24"), NoTrack: true, NextHops: []NextHop{{Via: a4("192.0.2.9"), OnLink: true}}}, ""},
	{"nextHops", "nexthop", "198.51.100.0/24 no_track nexthop dev eth0 realms 2", Route{Dst: p4("198.51.100.0/24"), NoTrack: true, NextHops: []NextHop{{Dev: "eth0"}}}, "nexthop option realms is not implemented"},

	{"rule", "from", ruleBase, ru(func(*Rule) {}), ""},
	{"rule", "to", ruleBase + "to 198.51.100.0/24", ru(func(r *Rule) { r.To = p4("198.51.100.0/24") }), ""},
	{"rule", "table", ruleBase, ru(func(*Rule) {}), ""},
	{"rule", "lookup", "from 192.0.2.0/24 lookup 100 preference 10", ru(func(*Rule) {}), ""},
	{"rule", "preference", ruleBase, ru(func(*Rule) {}), ""},
	{"rule", "priority", "from 192.0.2.0/24 table 100 priority 10", ru(func(*Rule) {}), ""},
	{"rule", "pref", "from 192.0.2.0/24 table 100 pref 10", ru(func(*Rule) {}), ""},
	{"rule", "order", "from 192.0.2.0/24 table 100 order 10", ru(func(*Rule) {}), ""},
	{"rule", "iif", ruleBase + "iif eth0", ru(func(r *Rule) { r.IIF = "eth0" }), ""},
	{"rule", "dev", ruleBase + "dev eth0", ru(func(r *Rule) { r.IIF = "eth0" }), ""},
	{"rule", "oif", ruleBase + "oif eth0", ru(func(r *Rule) { r.OIF = "eth0" }), ""},
	{"rule", "fwmark", ruleBase + "fwmark 0x10/0xff", ru(func(r *Rule) { r.FWMark, r.FWMask, r.HasFWMask = 0x10, 0xff, true }), ""},
	{"rule", "no_track", ruleBase + "no_track", ru(func(r *Rule) { r.NoTrack = true }), ""},
	{"rule", "inet6", "inet6 table 100 preference 10", Rule{IPv6: true, Table: 100, Preference: 10}, ""},
	{"rule", "inet", "inet table 100 preference 10", Rule{Table: 100, Preference: 10}, ""},
	{"rule", "not", ruleBase + "not", ru(func(r *Rule) { r.Not = true }), ""},
	{"rule", "tos", ruleBase + "tos 10", ru(func(r *Rule) { r.Tos = 0x10 }), ""},
	{"rule", "dsfield", ruleBase + "dsfield CS1", ru(func(r *Rule) { r.Tos = 0x20 }), ""},
	{"rule", "realms", ruleBase + "realms 3/4", ru(func(r *Rule) { r.Realm = 3<<16 | 4 }), ""},
	{"rule", "goto", "from 192.0.2.0/24 goto 20 preference 10", Rule{From: p4("192.0.2.0/24"), Goto: 20, Preference: 10}, ""},
	{"rule", "uidrange", ruleBase + "uidrange 100-200", ru(func(r *Rule) { r.UIDRange, r.HasUIDRange = [2]uint32{100, 200}, true }), ""},
	{"rule", "ipproto", ruleBase + "ipproto tcp", ru(func(r *Rule) { r.IPProto = 6 }), ""},
	{"rule", "ip_proto", ruleBase + "ip_proto 17", ru(func(r *Rule) { r.IPProto = 17 }), ""},
	{"rule", "sport", ruleBase + "sport 1000-2000", ru(func(r *Rule) { r.Sport = [2]uint16{1000, 2000} }), ""},
	{"rule", "dport", ruleBase + "dport 80", ru(func(r *Rule) { r.Dport = [2]uint16{80, 80} }), ""},
	{"rule", "protocol", ruleBase + "protocol static", ru(func(r *Rule) { r.Protocol = 4 }), ""},
	{"rule", "suppress_prefixlength", ruleBase + "suppress_prefixlength 0", ru(func(r *Rule) { r.HasSuppressPrefixLen = true }), ""},
	{"rule", "suppress_ifgroup", ruleBase + "suppress_ifgroup default", ru(func(r *Rule) { r.HasSuppressIfGroup = true }), ""},
	{"rule", "tun_id", ruleBase + "tun_id 7", nil, "rule option tun_id is not implemented"},
	{"rule", "l3mdev", "l3mdev preference 10", nil, "rule option l3mdev is not implemented"},
	{"rule", "nat", ruleBase + "nat 192.0.2.9", nil, "rule option nat is not implemented"},
	{"rule", "map-to", ruleBase + "map-to 192.0.2.9", nil, "rule option map-to is not implemented"},
	{"rule", "type", ruleBase + "type unicast", ru(func(*Rule) {}), ""},
	{"rule", "type", "from 192.0.2.0/24 type blackhole preference 10", Rule{From: p4("192.0.2.0/24"), Type: "blackhole", Preference: 10}, ""},
	{"rule", "type", "from 192.0.2.0/24 type nat preference 10", nil, "rule type nat is not implemented"},
}

// TestOptionsApplyOrNotice: every option the address, route and rule
// parsers accept lands in a resolved field (which the daemon hands to vip)
// or draws a notice naming it. The set of options comes from the parsers'
// own switch statements, so an option added without a case here fails.
func TestOptionsApplyOrNotice(t *testing.T) {
	covered := map[string]bool{}
	for _, c := range optionCases {
		covered[c.fn+" "+c.opt] = true
		name := c.fn + "/" + c.opt + "/" + c.line
		t.Run(name, func(t *testing.T) {
			block, line := "static_ipaddress", c.line
			switch {
			case strings.HasPrefix(line, "vip:"):
				block, line = "vip", strings.TrimPrefix(line, "vip:")
			case strings.HasPrefix(line, "static:"):
				block, line = "static_routes", strings.TrimPrefix(line, "static:")
			case c.fn == "route" || c.fn == "nextHops":
				block = "virtual_routes"
			case c.fn == "rule":
				block = "virtual_rules"
			}
			got, errs := parseOptionLine(t, block, line)
			var notices []string
			for _, e := range errs {
				if e.Severity == Notice {
					notices = append(notices, e.Error())
				} else if !strings.Contains(e.Error(), "is deprecated") {
					t.Errorf("unexpected complaint: %v", e)
				}
			}
			switch {
			case c.notice == "" && len(notices) > 0:
				t.Errorf("notices %q, want none", notices)
			case c.notice != "" && (len(notices) != 1 || !strings.Contains(notices[0], c.notice)):
				t.Errorf("notices %q, want one with %q", notices, c.notice)
			}
			if c.want == nil {
				if got != nil {
					t.Errorf("line resolved to %+v, want it skipped", got)
				}
				return
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got  %+v\nwant %+v", got, c.want)
			}
		})
	}
	for _, opt := range switchOptions(t) {
		if !covered[opt] {
			t.Errorf("option %q has no case in optionCases", opt)
		}
	}
}

// parseOptionLine parses line in block and returns the one entry it made
// (Pos and Extra cleared), or nil.
func parseOptionLine(t *testing.T, block, line string) (any, []*Error) {
	t.Helper()
	var conf string
	switch block {
	case "vip":
		conf = "vrrp_instance V {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  " + line + "\n }\n}\n"
	case "virtual_routes", "virtual_rules":
		conf = "vrrp_instance V {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  192.0.2.1\n }\n " +
			block + " {\n  " + line + "\n }\n}\n"
	default:
		conf = block + " {\n " + line + "\n}\n"
	}
	cfg, errs := Parse("o.conf", []byte(conf), Options{})
	if cfg == nil {
		t.Fatalf("Parse: %v", errs)
	}
	var x *Instance
	if len(cfg.Instances) > 0 {
		x = cfg.Instances[0]
	}
	switch {
	case block == "vip" && len(x.VIPs) == 1:
		a := x.VIPs[0]
		a.Pos = Pos{}
		return a, errs
	case block == "static_ipaddress" && len(cfg.StaticAddresses) == 1:
		a := cfg.StaticAddresses[0]
		a.Pos = Pos{}
		return a, errs
	case block == "virtual_routes" && len(x.Routes) == 1, block == "static_routes" && len(cfg.StaticRoutes) == 1:
		r := cfg.StaticRoutes
		if x != nil {
			r = x.Routes
		}
		got := r[0]
		got.Pos, got.Extra = Pos{}, nil
		return got, errs
	case block == "virtual_rules" && len(x.Rules) == 1:
		got := x.Rules[0]
		got.Pos, got.Extra = Pos{}, nil
		return got, errs
	}
	return nil, errs
}

// switchOptions returns "function option" for every string a case of the
// option switches in addr.go and routeopts.go accepts.
func switchOptions(t *testing.T) []string {
	t.Helper()
	fset := gotoken.NewFileSet()
	var out []string
	for _, file := range []string{"addr.go", "routeopts.go"} {
		f, err := goparser.ParseFile(fset, file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || (fn.Name.Name != "address" && fn.Name.Name != "route" && fn.Name.Name != "rule" && fn.Name.Name != "nextHops") {
				continue
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				sw, ok := n.(*ast.SwitchStmt)
				if !ok || !isOptionSel(sw.Tag) {
					return true
				}
				for _, st := range sw.Body.List {
					for _, e := range st.(*ast.CaseClause).List {
						if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == gotoken.STRING {
							s, _ := strconv.Unquote(lit.Value)
							out = append(out, fn.Name.Name+" "+s)
						}
					}
				}
				return true
			})
		}
	}
	if len(out) < 50 {
		t.Fatalf("found only %d options in the switches: %q", len(out), out)
	}
	return out
}

// isOptionSel reports whether e is o.s, the option word being switched on.
func isOptionSel(e ast.Expr) bool {
	sel, ok := e.(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != "s" {
		return false
	}
	id, ok := sel.X.(*ast.Ident)
	return ok && id.Name == "o"
}

// TestGotoRuleDropsTable: a goto rule with a table keeps the goto, with a
// warning: a goto rule looks up no table, and vip refuses the pair.
func TestGotoRuleDropsTable(t *testing.T) {
	got, errs := parseOptionLine(t, "virtual_rules", ruleBase+"goto 20")
	want := Rule{From: p4("192.0.2.0/24"), Goto: 20, Preference: 10}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if len(errs) != 1 || errs[0].Severity != Warning || !strings.Contains(errs[0].Error(), "a goto rule looks up no table (table ignored)") {
		t.Errorf("complaints %v, want one warning that the table is ignored", errs)
	}
}
