package daemon

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/testnet"
	"github.com/vigil-ha/vigil/vip"
)

// optionsConf carries every address, route and rule option vigil applies
// (and a few it only notices), on static_* lines so that the daemon's own
// conversion (staticsOf) builds what vip installs.
const optionsConf = `
static_ipaddress {
    2001:db8::20/64 dev eth0 home mngtmpaddr
    233.252.0.1/32 dev eth0 autojoin
}
static_routes {
    198.51.100.0/24 via 192.0.2.254 dev eth0 table 100 proto static no_track mtu lock 1400 advmss 1360 window 65535 rtt 100ms rttvar 50ms ssthresh 30 cwnd 40 hoplimit 60 reordering 5 initcwnd 10 initrwnd 20 rto_min 200ms quickack 1 congctl reno features ecn fastopen_no_cookie 1 tos 0x10 realms 1/2
    203.0.113.0/24 table 100 protocol 99 no_track nexthop via 192.0.2.252 dev eth0 weight 2 nexthop via 192.0.2.253 dev eth0
    2001:db8:100::/48 via 2001:db8::fe dev eth0 table 100 no_track rtt 8 pref high
    2001:db8:200::/48 table 100 no_track nexthop via 2001:db8::fd dev eth0 nexthop via 2001:db8::fc dev eth0
}
static_rules {
    from 192.0.2.0/24 to 198.51.100.0/24 table 100 preference 1000 tos 0x10 ipproto tcp sport 1000-2000 dport 80 uidrange 100-200 suppress_prefixlength 0 protocol static
    not from 203.0.113.0/24 table 100 preference 1001 realms 3/4 suppress_ifgroup default
    from 198.51.100.0/24 goto 1003 preference 1002
    to 203.0.113.0/24 type blackhole preference 1004
    from 198.51.100.0/24 table 100 preference 1003 tun_id 7
}
`

// TestOptionsReachKernel loads optionsConf, applies it through vip.Manager
// in a test namespace, and reads the kernel back with iproute2: every
// option shows with the meaning `ip` gives it, the Manager finds its own
// entries again, and removes them.
func TestOptionsReachKernel(t *testing.T) {
	cfg, errs := config.Parse("options.conf", []byte(optionsConf), config.Options{})
	var notices []string
	for _, e := range errs {
		if e.Severity != config.Notice {
			t.Errorf("unexpected complaint: %v", e)
		}
		notices = append(notices, e.Error())
	}
	for _, want := range []string{
		"options.conf:9:74: static_routes: route option pref is not implemented by vigil",
		"options.conf:17:52: static_rules: rule option tun_id is not implemented by vigil",
	} {
		if !strings.Contains(strings.Join(notices, "\n"), want) {
			t.Errorf("no notice %q in %q", want, notices)
		}
	}
	s := staticsOf(cfg)
	if len(s.addrs) != 2 || len(s.routes) != 4 || len(s.rules) != 4 {
		t.Fatalf("statics: %d addresses, %d routes, %d rules; want 2, 4, 4 (the tun_id rule skipped)", len(s.addrs), len(s.routes), len(s.rules))
	}

	l := testnet.New(t)
	h := l.Host("r")
	eth := l.Switch("sw").Attach(h, "eth0")
	eth.AddAddr(t, "192.0.2.1/24")
	eth.AddAddr(t, "2001:db8::1/64")
	m, err := vip.NewManagerAt(slog.New(slog.NewTextHandler(t.Output(), nil)), h.NsHandle())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := m.AddAddresses(ctx, s.addrs); err != nil {
		t.Fatalf("AddAddresses: %v", err)
	}
	if err := m.AddRoutes(ctx, s.routes); err != nil {
		t.Fatalf("AddRoutes: %v", err)
	}
	if err := m.AddRules(ctx, s.rules); err != nil {
		t.Fatalf("AddRules: %v", err)
	}

	expect := func(out string, lines ...[]string) {
		t.Helper()
		for _, words := range lines {
			found := false
			for _, l := range strings.Split(out, "\n") {
				if hasAll(l, words) {
					found = true
				}
			}
			if !found {
				t.Errorf("no line with %q in\n%s", words, out)
			}
		}
	}
	expect(h.Exec(t, "ip", "-d", "addr", "show", "dev", "eth0"),
		[]string{"inet6 2001:db8::20/64", "home", "mngtmpaddr"},
		[]string{"inet 233.252.0.1/32", "autojoin"})
	// rtt 100ms is 800 in 1/8 ms and rttvar 50ms 200 in 1/4 ms, which ip
	// prints back as ms; the raw rtt 8 is 1ms.
	expect(h.Exec(t, "ip", "-4", "route", "show", "table", "100"),
		[]string{"198.51.100.0/24", "via 192.0.2.254", "dev eth0", "proto static", "tos 0x10", "realms 1/2",
			"mtu lock 1400", "advmss 1360", "window 65535", "rtt 100ms", "rttvar 50ms", "ssthresh 30", "cwnd 40",
			"hoplimit 60", "reordering 5", "initcwnd 10", "initrwnd 20", "rto_min 200ms", "quickack 1",
			"congctl reno", "features ecn", "fastopen_no_cookie 1"},
		[]string{"203.0.113.0/24", "proto openr"},
		[]string{"nexthop via 192.0.2.252 dev eth0 weight 2"},
		[]string{"nexthop via 192.0.2.253 dev eth0 weight 1"})
	expect(h.Exec(t, "ip", "-6", "route", "show", "table", "100"),
		[]string{"2001:db8:100::/48", "via 2001:db8::fe", "dev eth0", "proto keepalived", "rtt 1ms"},
		[]string{"2001:db8:200::/48", "proto keepalived"},
		[]string{"nexthop via 2001:db8::fd dev eth0"},
		[]string{"nexthop via 2001:db8::fc dev eth0"})
	expect(h.Exec(t, "ip", "rule", "show"),
		[]string{"1000:", "from 192.0.2.0/24 to 198.51.100.0/24", "tos 0x10", "ipproto tcp", "sport 1000-2000",
			"dport 80", "uidrange 100-200", "lookup 100", "suppress_prefixlength 0", "proto static"},
		[]string{"1001:", "not from 203.0.113.0/24", "lookup 100", "realms 3/4", "suppress_ifgroup default"},
		[]string{"1002:", "from 198.51.100.0/24", "goto 1003"},
		[]string{"1004:", "from all to 203.0.113.0/24", "blackhole"})

	if got, err := m.PresentRoutes(ctx, s.routes); err != nil || len(got) != len(s.routes) {
		t.Errorf("PresentRoutes found %d of %d routes: %v", len(got), len(s.routes), err)
	}
	if got, err := m.PresentRules(ctx, s.rules); err != nil || len(got) != len(s.rules) {
		t.Errorf("PresentRules found %d of %d rules: %v", len(got), len(s.rules), err)
	}
	if err := m.AddRoutes(ctx, s.routes); err != nil {
		t.Errorf("second AddRoutes: %v", err)
	}
	if err := m.AddRules(ctx, s.rules); err != nil {
		t.Errorf("second AddRules: %v", err)
	}
	if err := m.RemoveRules(ctx, s.rules); err != nil {
		t.Errorf("RemoveRules: %v", err)
	}
	if err := m.RemoveRoutes(ctx, s.routes); err != nil {
		t.Errorf("RemoveRoutes: %v", err)
	}
	if out := h.Exec(t, "ip", "route", "show", "table", "100") + h.Exec(t, "ip", "-6", "route", "show", "table", "100"); strings.TrimSpace(out) != "" {
		t.Errorf("routes left in table 100 after RemoveRoutes:\n%s", out)
	}
	if out := h.Exec(t, "ip", "rule", "show"); strings.Contains(out, "100") {
		t.Errorf("rules left after RemoveRules:\n%s", out)
	}
}

// hasAll reports whether line holds each phrase of words as whole words.
func hasAll(line string, words []string) bool {
	line = " " + strings.Join(strings.Fields(line), " ") + " "
	for _, w := range words {
		if !strings.Contains(line, " "+w+" ") {
			return false
		}
	}
	return true
}
