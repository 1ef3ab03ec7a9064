package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
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

// FuzzScriptString: any argv a configuration file can hold (no newline,
// and none of the control bytes that make a file binary data, which vigild
// refuses) printed by Dump's scriptString splits back to itself.
func FuzzScriptString(f *testing.F) {
	f.Add("/bin/sh\x00-c\x00echo 'a' \"b\" {c} # ! \\x41 $X")
	f.Add("\x00\x00 ")
	f.Fuzz(func(t *testing.T, s string) {
		if strings.ContainsAny(s, "\n\r") {
			return
		}
		if _, _, _, bin := binaryByte([]byte(strings.ReplaceAll(s, "\x00", " "))); bin {
			return // such a file is refused as a whole (TestNotAKeepalivedConf)
		}
		argv := strings.Split(s, "\x00")
		if argv[0] == "" || strings.Contains(s, "$") {
			return // an empty command is no script; $ may meet a parameter
		}
		if len(scriptString(argv)) > maxLineBytes-16 {
			return // longer than a configuration line may be
		}
		conf := "vrrp_script s {\n script " + scriptString(argv) + "\n}\n"
		cfg, errs := Parse("s.conf", []byte(conf), Options{ConfigID: "x"})
		sc := cfg.Scripts["s"]
		if sc == nil || sc.Cmd == nil || !slices.Equal(sc.Cmd.Argv, argv) {
			t.Fatalf("argv %q -> %s -> %+v (%v)", argv, conf, sc, errs)
		}
	})
}
