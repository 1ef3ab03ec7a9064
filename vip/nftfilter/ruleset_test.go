package nftfilter

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestRulesetGolden(t *testing.T) {
	got, err := Ruleset(Config{Priority: -1, Counters: true}, []Elem{
		{Addr: netip.MustParseAddr("198.51.100.10")},
		{Addr: netip.MustParseAddr("192.0.2.1")},
		{Addr: netip.MustParseAddr("192.0.2.1")}, // twice: one element
		{Addr: netip.MustParseAddr("2001:db8::1")},
		{Addr: netip.MustParseAddr("fe80::1"), Ifname: "eth0"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `table inet vigil {}
delete table inet vigil
table inet vigil {
	set vips4 {
		type ipv4_addr
	}
	set vips6 {
		type ipv6_addr
	}
	set vips6_ll {
		type ipv6_addr . ifname
	}
	chain in {
		type filter hook input priority -1; policy accept;
		icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept
		ip daddr @vips4 counter drop
		ip6 daddr @vips6 counter drop
		ip6 daddr . iifname @vips6_ll counter drop
	}
	chain out {
		type filter hook output priority -1; policy accept;
		icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept
		ip saddr @vips4 counter drop
		ip6 saddr @vips6 counter drop
		ip6 saddr . oifname @vips6_ll counter drop
	}
}
add element inet vigil vips4 { 192.0.2.1, 198.51.100.10 }
add element inet vigil vips6 { 2001:db8::1 }
add element inet vigil vips6_ll { fe80::1 . "eth0" }
`
	if got != want {
		t.Errorf("Ruleset:\n%s\nwant:\n%s", got, want)
	}
}

func TestRulesetNoCountersPriority(t *testing.T) {
	got, err := Ruleset(Config{Table: "fw_1", Priority: 5}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"table inet fw_1 {\n", "priority 5;", "ip daddr @vips4 drop\n"} {
		if !strings.Contains(got, s) {
			t.Errorf("Ruleset lacks %q:\n%s", s, got)
		}
	}
	if strings.Contains(got, "counter") || strings.Contains(got, "add element") {
		t.Errorf("Ruleset without counters or elements:\n%s", got)
	}
}

func TestSyncAndTeardown(t *testing.T) {
	got, err := Sync(Config{Table: "t"}, []Elem{{Addr: netip.MustParseAddr("::ffff:203.0.113.7")}})
	if err != nil {
		t.Fatal(err)
	}
	want := "flush set inet t vips4\nflush set inet t vips6\nflush set inet t vips6_ll\nadd element inet t vips4 { 203.0.113.7 }\n"
	if got != want {
		t.Errorf("Sync = %q, want %q", got, want)
	}
	got, err = Sync(Config{Table: "t"}, nil)
	if err != nil || strings.Contains(got, "add element") {
		t.Errorf("Sync(nil) = %q, %v: want only flushes", got, err)
	}
	got, err = Teardown(Config{})
	if err != nil || got != "table inet vigil {}\ndelete table inet vigil\n" {
		t.Errorf("Teardown = %q, %v", got, err)
	}
}

func TestRefusesHostileInput(t *testing.T) {
	for _, name := range []string{"", "1abc", "a b", "a;b", "x}\ndelete table ip filter", `a"b`, "ä", strings.Repeat("a", 256), "_x"} {
		if _, err := Ruleset(Config{Table: name}, nil); name != "" && !errors.Is(err, ErrTableName) {
			t.Errorf("table %q: err %v, want ErrTableName", name, err)
		}
		if _, err := Teardown(Config{Table: name}); name != "" && !errors.Is(err, ErrTableName) {
			t.Errorf("Teardown table %q: err %v", name, err)
		}
	}
	if err := ValidTableName(strings.Repeat("a", 255)); err != nil {
		t.Errorf("255 bytes: %v", err)
	}
	for _, e := range []Elem{
		{},
		{Addr: netip.MustParseAddr("fe80::1")},
		{Addr: netip.MustParseAddr("fe80::1"), Ifname: `eth0" } ; delete table ip filter ; #`},
		{Addr: netip.MustParseAddr("fe80::1"), Ifname: "sixteen-bytes-xx"},
		{Addr: netip.MustParseAddr("fe80::1%eth0")},
	} {
		if _, err := Sync(Config{}, []Elem{e}); !errors.Is(err, ErrElem) {
			t.Errorf("Sync(%+v): err %v, want ErrElem", e, err)
		}
	}
}

// FuzzRuleset checks that no table name or interface name the validators
// let through can add a statement to the script: the script has the
// generator's lines, each beginning with one of the generator's words.
// (A table may be named like a keyword, "ruleset" or "flush": only a
// statement of its own, which needs a line of its own, is an injection.)
func FuzzRuleset(f *testing.F) {
	f.Add("vigil", "eth0")
	f.Add("x}\nflush ruleset", "a\"b")
	f.Add("ruleset", "0")
	f.Add("flush", "flush ruleset")
	starts := map[string]bool{"table": true, "delete": true, "set": true, "type": true, "chain": true,
		"icmpv6": true, "ip": true, "ip6": true, "add": true, "}": true}
	f.Fuzz(func(t *testing.T, table, ifname string) {
		s, err := Ruleset(Config{Table: table}, []Elem{{Addr: netip.MustParseAddr("fe80::1"), Ifname: ifname}})
		if err != nil {
			return
		}
		if table == "" {
			table = DefaultTable
		}
		bad := strings.Count(s, "\n") != 28 || strings.Count(s, "table inet "+table+" ") != 2
		for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
			if w := strings.Fields(line); len(w) == 0 || !starts[w[0]] {
				bad = true
			}
		}
		if bad {
			t.Fatalf("unexpected script for %q %q:\n%s", table, ifname, s)
		}
	})
}
