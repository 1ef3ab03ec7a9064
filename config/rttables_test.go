package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseRTTables(t *testing.T) {
	got, bad := parseRTTables([]byte("#\n# reserved values\n#\n255\tlocal\n254 main # the main table\n  0x10 ten\n010 eight\n\n" +
		"1 two words\nfoo bar\n-1 neg\n4294967296 big\n4294967295 max\n7 12\n8 a\x01b\n9 " + strings.Repeat("x", 65) + "\n0o7 octal\n+3 plus\n"))
	want := []rtTable{{255, "local"}, {254, "main"}, {16, "ten"}, {8, "eight"}, {4294967295, "max"}}
	if len(got) != len(want) {
		t.Fatalf("entries %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d = %v, want %v", i, got[i], want[i])
		}
	}
	var lines []int
	for _, b := range bad {
		lines = append(lines, b.line)
	}
	if want := []int{9, 10, 11, 12, 14, 15, 16, 17, 18}; !slices.Equal(lines, want) {
		t.Errorf("bad lines %v, want %v (%v)", lines, want, bad)
	}
}

// FuzzParseRTTables: any input parses without panic into entries that are
// valid names with in-range ids, one per line at most, and every ignored
// line is a real line of the input.
func FuzzParseRTTables(f *testing.F) {
	f.Add([]byte("255 local\n254 main\n253 default\n0 unspec\n"))
	f.Add([]byte("0x10 ten # c\n\t1\tx\r\n"))
	f.Add([]byte("1 a b\n-1 x\n99999999999 y\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, bad := parseRTTables(data)
		lines := strings.Count(string(data), "\n") + 1
		if len(got)+len(bad) > lines {
			t.Fatalf("%d entries and %d complaints from %d lines", len(got), len(bad), lines)
		}
		for _, e := range got {
			if !validRTName(e.name) {
				t.Fatalf("invalid name %q accepted", e.name)
			}
		}
		for _, b := range bad {
			if b.line < 1 || b.line > lines || len(b.msg) > 300 {
				t.Fatalf("complaint %+v for %d lines", b, lines)
			}
		}
	})
}

// rtConf is a configuration whose virtual route and rule name tables.
func rtConf(table string) string {
	return `vrrp_instance A {
    interface eth0
    virtual_router_id 1
    virtual_ipaddress {
        192.0.2.1/24
    }
    virtual_routes {
        198.51.100.0/24 via 192.0.2.254 table ` + table + `
    }
    virtual_rules {
        from 203.0.113.0/24 table ` + table + `
    }
}
`
}

// TestRouteTableNames: names resolve through rt_tables (else the
// /usr/share copy) and rt_tables.d/*.conf; unknown names are a warning
// at file:line and the route and rule are skipped; bad lines of the
// rt_tables files are reported at their own file:line.
func TestRouteTableNames(t *testing.T) {
	etc, usr := t.TempDir(), t.TempDir()
	write := func(path, text string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(usr, "rt_tables"), "255 local\n254 main\n253 default\n100 usronly\n")
	write(filepath.Join(usr, "rt_tables.d", "a.conf"), "200 fromusr\n")
	write(filepath.Join(etc, "rt_tables.d", "b.conf"), "201 frometc\nrubbish line here\n")
	write(filepath.Join(etc, "rt_tables.d", "ignored.txt"), "202 notconf\n")
	load := func(table string) (*Config, []*Error) {
		return Parse("t.conf", []byte(rtConf(table)), Options{ConfigID: "t", IPRoute2Etc: etc, IPRoute2Usr: usr})
	}
	for _, c := range []struct {
		name string
		id   int
	}{{"usronly", 100}, {"fromusr", 200}, {"frometc", 201}, {"main", 254}, {"0x20", 32}, {"7", 7}} {
		cfg, errs := load(c.name)
		x := cfg.Instances[0]
		if len(x.Routes) != 1 || x.Routes[0].Table != c.id || len(x.Rules) != 1 || x.Rules[0].Table != c.id {
			t.Errorf("table %s: routes %+v rules %+v, want table %d; %v", c.name, x.Routes, x.Rules, c.id, errs)
		}
		if c.name == "frometc" {
			want := filepath.Join(etc, "rt_tables.d", "b.conf") + ":2:1: rt_tables:"
			if !hasComplaint(errs, want) {
				t.Errorf("no complaint %q in %v", want, errs)
			}
		}
	}
	cfg, errs := load("notconf")
	if x := cfg.Instances[0]; len(x.Routes) != 0 || len(x.Rules) != 0 {
		t.Errorf("unknown table name kept: %+v %+v", x.Routes, x.Rules)
	}
	for _, want := range []string{`t.conf:8:47: virtual_routes: routing table "notconf" not found`, `t.conf:11:35: virtual_rules: routing table "notconf" not found`} {
		if !hasComplaint(errs, want) {
			t.Errorf("no complaint %q in %v", want, errs)
		}
	}

	// /etc/iproute2/rt_tables, when present, replaces the /usr one.
	write(filepath.Join(etc, "rt_tables"), "150 etconly\n")
	if cfg, errs := load("usronly"); len(cfg.Instances[0].Routes) != 0 {
		t.Errorf("usr rt_tables read although etc has one: %v", errs)
	}
	if cfg, _ := load("etconly"); len(cfg.Instances[0].Routes) != 1 || cfg.Instances[0].Routes[0].Table != 150 {
		t.Errorf("etc rt_tables not read: %+v", cfg.Instances[0].Routes)
	}
	// default, main and local stay known when the file leaves them out.
	if cfg, _ := load("local"); len(cfg.Instances[0].Routes) != 1 || cfg.Instances[0].Routes[0].Table != 255 {
		t.Errorf("local not known: %+v", cfg.Instances[0].Routes)
	}
	// An oversized file is refused whole.
	write(filepath.Join(etc, "rt_tables"), "150 etconly\n"+strings.Repeat("#", maxRTTablesBytes))
	if cfg, errs := load("etconly"); len(cfg.Instances[0].Routes) != 0 || !hasComplaint(errs, "more than an rt_tables file may hold") {
		t.Errorf("oversized rt_tables read: %v", errs)
	}
}

func hasComplaint(errs []*Error, sub string) bool {
	for _, e := range errs {
		if strings.Contains(e.Error(), sub) {
			return true
		}
	}
	return false
}

// TestVIPLimitFromMTU: the VIPs that do not fit an advert on the
// interface's MTU move to the excluded VIPs, in order, after the
// configured ones, with a warning at the first one moved.
func TestVIPLimitFromMTU(t *testing.T) {
	for _, c := range []struct {
		mtu, version int
		ipv6, ah     bool
		want         int
	}{
		{1500, 3, false, false, 255}, {1500, 3, true, false, 89}, {1280, 3, true, false, 76},
		{576, 3, false, false, (576 - 42) / 4}, {576, 2, false, false, (576 - 50) / 4}, {576, 2, false, true, (576 - 74) / 4},
		{9000, 3, true, false, 255}, {60, 3, true, false, 0}, {0, 3, false, false, 0},
	} {
		if got := vipLimit(c.mtu, c.ipv6, c.version, c.ah); got != c.want {
			t.Errorf("vipLimit(%d, v6=%v, v%d, ah=%v) = %d, want %d", c.mtu, c.ipv6, c.version, c.ah, got, c.want)
		}
	}
	text := "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n version 3\n virtual_ipaddress_excluded {\n 192.0.2.200\n }\n virtual_ipaddress {\n~SEQ(N,1,140) 198.51.100.${N}\n }\n}\n"
	mtu := func(name string) (int, bool) { return 576, name == "eth0" }
	cfg, errs := Parse("t.conf", []byte(text), Options{ConfigID: "t", InterfaceMTU: mtu})
	x := cfg.Instances[0]
	if len(x.VIPs) != 133 || len(x.ExcludedVIPs) != 8 || x.ExcludedVIPs[0].Prefix.String() != "192.0.2.200/32" ||
		x.ExcludedVIPs[1].Prefix.String() != "198.51.100.134/32" {
		t.Fatalf("VIPs %d, excluded %d (%v) %v", len(x.VIPs), len(x.ExcludedVIPs), x.ExcludedVIPs, errs)
	}
	if want := "t.conf:9:15: virtual_ipaddress: (A) number of VIPs (140) exceeds the space available in an advert (eth0 MTU 576: at most 133 addresses)"; !hasComplaint(errs, want) {
		t.Errorf("no complaint %q in %v", want, errs)
	}
}
