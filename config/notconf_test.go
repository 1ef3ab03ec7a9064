package config

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
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
