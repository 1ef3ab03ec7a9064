package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// modelDiff compares two models, positions and parse-time bookkeeping aside.
func modelDiff(a, b *Config) string {
	return cmp.Diff(a, b,
		cmp.Comparer(func(x, y Pos) bool { return true }),
		cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{}),
		cmpopts.EquateEmpty(),
		cmpopts.IgnoreUnexported(Global{}, Instance{}, SyncGroup{}, Script{}, VirtualServer{}, RealServer{}, Checker{},
			ConntrackSync{}, Conntrackd{}, CTPath{}))
}

// roundTrip checks the Dump property on one file: Parse(Dump(cfg)) == cfg.
func roundTrip(t *testing.T, cfg *Config, opts Options) {
	t.Helper()
	out := Dump(cfg)
	cfg2, errs := Parse("dump.conf", out, opts)
	if d := modelDiff(cfg, cfg2); d != "" {
		t.Errorf("Parse(Dump(cfg)) differs (-loaded +reparsed):\n%s\ndump:\n%s", d, out)
	}
	for _, e := range errs {
		if e.Severity == Fatal {
			t.Errorf("dump output is not runnable: %v\n%s", e, out)
		}
	}
	// Dump is a fixed point after one round.
	if out2 := Dump(cfg2); string(out2) != string(out) {
		t.Errorf("Dump(Parse(Dump(cfg))) != Dump(cfg):\n%s\n----\n%s", out, out2)
	}
}

func TestDumpRoundTripDebianSamples(t *testing.T) {
	files, _ := filepath.Glob("/usr/share/doc/keepalived/samples/keepalived.conf.*")
	if len(files) == 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("keepalived samples not installed (/usr/share/doc/keepalived/samples)")
		}
		t.Skip("SKIPPING: keepalived samples not installed (apt-get install keepalived)")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			opts := Options{ConfigID: "node1"}
			cfg, _, err := Load(f, opts)
			if err != nil {
				t.Fatal(err)
			}
			roundTrip(t, cfg, opts)
		})
	}
}

// TestModelDiffSeesChanges proves the round-trip comparison can fail.
func TestModelDiffSeesChanges(t *testing.T) {
	cfg, errs := Parse("x.conf", []byte("vrrp_instance A {\n interface eth0\n virtual_router_id 7\n virtual_ipaddress {\n 192.0.2.1\n }\n}\n"), Options{})
	if len(cfg.Instances) != 1 {
		t.Fatalf("instance not parsed: %v", errs)
	}
	cfg2, _ := Parse("x.conf", Dump(cfg), Options{})
	cfg2.Instances[0].Priority++
	if modelDiff(cfg, cfg2) == "" {
		t.Fatal("modelDiff does not see a changed priority")
	}
	cfg2.Instances[0].Priority--
	cfg2.Instances[0].VIPs[0].Prefix = netip.MustParsePrefix("192.0.2.2/32")
	if modelDiff(cfg, cfg2) == "" {
		t.Fatal("modelDiff does not see a changed VIP")
	}
}

// TestScriptStringRoundTrip: argv printed by Dump splits back to itself
// through keepalived's two-level script splitting.
func TestScriptStringRoundTrip(t *testing.T) {
	cases := [][]string{
		{"/bin/sh", "-c", "echo 'a b' \"c\" \\x # ! {braces}"},
		{"/usr/bin/x", "", "two words", `back\slash`, `it's`},
		{"</dev/tcp/127.0.0.1/80"},
		{"/x", "\"{", "}"},
	}
	for _, argv := range cases {
		conf := "vrrp_script s {\n script " + scriptString(argv) + "\n}\n"
		cfg, errs := Parse("s.conf", []byte(conf), Options{})
		s := cfg.Scripts["s"]
		if s == nil || s.Cmd == nil {
			t.Fatalf("%q: script lost: %v\n%s", argv, errs, conf)
		}
		if !slices.Equal(s.Cmd.Argv, argv) {
			t.Errorf("argv %q came back as %q\n%s", argv, s.Cmd.Argv, conf)
		}
	}
}

// TestConcurrentLoad: Load shares only the read-only keyword tables.
func TestConcurrentLoad(t *testing.T) {
	files, _ := filepath.Glob("testdata/golden/*.conf")
	done := make(chan string, len(files)*4)
	for i := 0; i < 4; i++ {
		for _, f := range files {
			go func() {
				cfg, _, err := Load(f, testOpts())
				if err != nil {
					done <- err.Error()
					return
				}
				done <- string(Dump(cfg))
			}()
		}
	}
	seen := map[string]bool{}
	for i := 0; i < len(files)*4; i++ {
		seen[<-done] = true
	}
	if len(seen) != len(files) {
		t.Errorf("%d distinct results for %d files", len(seen), len(files))
	}
}
