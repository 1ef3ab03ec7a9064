package config

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// goldenCases are the configurations under testdata/golden that together
// use every block and every P0/P1 keyword, with the config ids they are
// read with.
var goldenCases = []struct {
	file string
	id   string
}{
	{"router-pair.conf", "node1"},
	{"lvs.conf", "node1"},
	{"firewall.conf", "node1"},
	{"conntrack.conf", "node1"},
	{"broken.conf", "node1"},
	{"strict.conf", "node1"},
	{"haproxy-pair.conf", "node1"},
	{"include/main.conf", "node1"},
	{"include/main.conf", "node2"},
}

func goldenOpts(id string) Options {
	o := testOpts()
	o.ConfigID = id
	o.Random = func(lo, hi int) int { return lo }
	return o
}

// renderResult is the golden text: exit code, complaints, effective config.
func renderResult(dir string, cfg *Config, errs []*Error) string {
	var b strings.Builder
	b.WriteString("# exit code " + itoa(ExitCode(cfg, errs, nil)) + "\n")
	for _, e := range errs {
		b.WriteString("# " + e.Severity.String() + " " + strings.ReplaceAll(e.Error(), dir+"/", "") + "\n")
	}
	b.Write(Dump(cfg))
	return b.String()
}

func TestGolden(t *testing.T) {
	dir, err := filepath.Abs("testdata/golden")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range goldenCases {
		name := strings.TrimSuffix(c.file, ".conf") + "." + c.id + ".golden"
		t.Run(name, func(t *testing.T) {
			opts := goldenOpts(c.id)
			cfg, errs, err := Load(filepath.Join(dir, c.file), opts)
			if err != nil {
				t.Fatal(err)
			}
			got := renderResult(dir, cfg, errs)
			path := filepath.Join(dir, name)
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from golden; got:\n%s", name, got)
			}
			roundTrip(t, cfg, opts)
		})
	}
}

// TestGoldenCoversKeywords checks that the golden configurations together
// use every P0 and P1 keyword of the published table.
func TestGoldenCoversKeywords(t *testing.T) {
	var all strings.Builder
	files, _ := filepath.Glob("testdata/golden/*.conf")
	more, _ := filepath.Glob("testdata/golden/include/*/*.conf")
	for _, f := range append(files, more...) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all.Write(b)
		all.WriteByte('\n')
	}
	words := map[string]bool{}
	for _, w := range strings.FieldsFunc(all.String(), func(r rune) bool { return r == ' ' || r == '\n' || r == '\t' || r == '{' || r == '}' }) {
		words[w] = true
	}
	for _, k := range Keywords() {
		if k.Tier == P2 || k.Status == Legacy {
			continue
		}
		if !words[k.Keyword] {
			t.Errorf("P0/P1 keyword %s (%s) is not used by any golden configuration", k.Keyword, k.Block)
		}
	}
}
