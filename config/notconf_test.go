package config

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-ha/vigil/testnet"
)

const goodInstance = `global_defs {
    router_id r1
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority 100
    advert_int 1
    virtual_ipaddress {
        192.0.2.254/24
    }
}
`

// randomGarbage is n seeded random bytes: what a file overwritten by a
// binary (or by /dev/urandom) holds.
func randomGarbage(seed uint64, n int) string {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	return string(b)
}

// TestNotAKeepalivedConf: a file that is not a keepalived configuration
// at all is a Fatal complaint (-t exit 4, vigild does not start), naming
// the file and the line, whatever else it happens to contain.
func TestNotAKeepalivedConf(t *testing.T) {
	m := "/etc/k/main.conf"
	cases := []struct {
		name  string
		files memFS
		want  string // in the Fatal complaint
	}{
		{"random bytes", memFS{m: randomGarbage(1, 4096)}, "/etc/k/main.conf:"},
		{"NUL byte after a good instance", memFS{m: goodInstance + "\x00\x00"}, "/etc/k/main.conf:13:1: binary data (byte 0x00): not a keepalived.conf"},
		{"escape byte", memFS{m: "global_defs {\n  router_id \x1b[31m\n}\n"}, "main.conf:2:13: binary data (byte 0x1b)"},
		{"text of another program", memFS{m: "server {\n  listen 80;\n  root /var/www;\n}\nuser www-data;\nworker_processes auto;\n"},
			"main.conf:1:1: 3 of the 3 keyword lines of /etc/k/main.conf are not keepalived keywords"},
		{"printable garbage", memFS{m: "lorem ipsum dolor\nsit amet\nconsectetur adipiscing\n"}, "3 of the 3 keyword lines"},
		{"binary included file", memFS{m: goodInstance + "include extra.conf\n", "/etc/k/extra.conf": randomGarbage(2, 512)},
			"/etc/k/extra.conf:"},
		{"garbage included file among good lines", memFS{m: goodInstance + "include extra.conf\n", "/etc/k/extra.conf": "foo\nbar\nbaz\n"},
			"/etc/k/extra.conf:1:1: 3 of the 3 keyword lines of /etc/k/extra.conf"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, errs, err := Load(m, c.files.opts("r1"))
			if err != nil {
				t.Fatal(err)
			}
			if code := ExitCode(cfg, errs, nil); code != ExitCannot {
				t.Errorf("exit code %d, want %d\n%s", code, ExitCannot, complaintsText(errs))
			}
			found := false
			for _, e := range errs {
				if e.Severity == Fatal && errors.Is(e, ErrNotKeepalivedConf) && strings.Contains(e.Error(), c.want) {
					found = true
				}
			}
			if !found {
				t.Errorf("no Fatal %q complaint:\n%s", c.want, complaintsText(errs))
			}
		})
	}
	// Many seeds: no random file passes as a configuration.
	for seed := range uint64(200) {
		for _, n := range []int{16, 200, 4096} {
			cfg, errs, _ := Load(m, memFS{m: randomGarbage(seed+10, n)}.opts("r1"))
			if ExitCode(cfg, errs, nil) != ExitCannot {
				t.Errorf("random file (seed %d, %d bytes) loads: %s", seed+10, n, complaintsText(errs))
			}
		}
	}
}

// TestIncludeLoopIsFatal: an include loop is Fatal, at the include line
// that closes it (keepalived reads the files until it runs out of file
// descriptors).
func TestIncludeLoopIsFatal(t *testing.T) {
	m := "/etc/k/main.conf"
	for name, files := range map[string]memFS{
		"self":                        {m: goodInstance + "include main.conf\n"},
		"through a file":              {m: goodInstance + "include a.conf\n", "/etc/k/a.conf": "include main.conf\n"},
		"glob matching the main file": {m: goodInstance + "include *.conf\n"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg, errs, err := Load(m, files.opts("r1"))
			if err != nil {
				t.Fatal(err)
			}
			if ExitCode(cfg, errs, nil) != ExitCannot {
				t.Errorf("include loop: exit %d, want %d\n%s", ExitCode(cfg, errs, nil), ExitCannot, complaintsText(errs))
			}
			if !strings.Contains(complaintsText(errs), "fatal /etc/k/") ||
				!strings.Contains(complaintsText(errs), "include: include loop: /etc/k/main.conf includes itself") {
				t.Errorf("no fatal complaint naming the loop:\n%s", complaintsText(errs))
			}
		})
	}
}

// TestRecognisableConfigsStillLoad: the checks do not refuse real files:
// a Latin-1 comment, a few unknown keywords among known ones, an empty
// file, a file with only comments.
func TestRecognisableConfigsStillLoad(t *testing.T) {
	m := "/etc/k/main.conf"
	for name, text := range map[string]string{
		"latin-1 comment":               "# Konfiguration f\xfcr den Router\n" + goodInstance,
		"tabs, CR LF and form feed":     strings.ReplaceAll(goodInstance, "\n", "\r\n") + "\f\n\t\n",
		"some unknown keywords":         goodInstance + "vrrp_instnace VI_2 {\n}\nfoo bar\n",
		"empty file":                    "",
		"only comments":                 "# nothing yet\n! still nothing\n",
		"an included file of one block": "include inst.conf\n",
	} {
		t.Run(name, func(t *testing.T) {
			files := memFS{m: text, "/etc/k/inst.conf": goodInstance}
			_, errs, err := Load(m, files.opts("r1"))
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range errs {
				if e.Severity == Fatal {
					t.Errorf("fatal complaint: %v", e)
				}
			}
		})
	}
}

// TestDifferentialNotAConf runs keepalived 2.2.7 -t on the files vigil
// refuses as not a keepalived.conf or as an include loop, and asserts the
// documented deviation: keepalived answers 5 (garbage, a loop through a
// file that defines something: "already defined") or 0 (a NUL file, a
// file holding only the loop) and would run what it recognised; vigil
// answers 4.
func TestDifferentialNotAConf(t *testing.T) {
	testnet.NeedRoot(t, "ip", "keepalived")
	ns := testNamespace(t, "eth0")
	dir := t.TempDir()
	inst := strings.ReplaceAll(goodInstance, "192.0.2.254/24", "192.0.2.254/24\n    }\n    unicast_peer {\n        192.0.2.2")
	cases := []struct {
		name, text string
		keepalived int
	}{
		{"random bytes", randomGarbage(1, 4096), ExitWarnings},
		{"NUL bytes", "\x00\x01\x02 router_id x\x00\n", ExitOK},
		{"text of another program", "server {\n  listen 80;\n}\nuser www-data;\nworker_processes auto;\n", ExitWarnings},
		{"only an include loop", "include loop.conf\n", ExitOK},
		{"include loop after an instance", inst + "include loop.conf\n", ExitWarnings},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, "loop.conf")
			if err := os.WriteFile(path, []byte(c.text), 0o644); err != nil {
				t.Fatal(err)
			}
			want, out := keepalivedExit(t, ns, path, "node1")
			cfg, errs, err := Load(path, hostOptions(t, ns, "node1"))
			got := ExitCode(cfg, errs, err)
			if want != c.keepalived || got != ExitCannot {
				t.Errorf("keepalived -t %d (documented %d), vigil %d (documented %d)\nkeepalived said:\n%s\nvigil said:\n%s",
					want, c.keepalived, got, ExitCannot, tail(out, 10), complaintsText(errs))
			}
		})
	}
}

func tail(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}
