package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/config"
)

// TestConfigTestConntrackSync: vigild -t reports, with file:line:col and
// exit 4, every conntrack_sync error that would stop vigild at start: an
// unknown filter protocol or TCP state, a bad filter address, a missing or
// malformed conntrackd_config (positioned in the conntrackd.conf). The
// same files make a start exit 4 too, before anything changes. A complete
// block, alone or over a good conntrackd.conf, checks clean (exit 0): the
// failures come from the line under test. -t and the start run inside a
// lab host, whose eth0 the configuration names.
func TestConfigTestConntrackSync(t *testing.T) {
	l := newLab(t)
	dir := t.TempDir()
	goodCD := filepath.Join(dir, "good-conntrackd.conf")
	badCD := filepath.Join(dir, "bad-conntrackd.conf")
	write := func(path, text string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const channel = "    UDP {\n        IPv4_address 198.51.100.1\n        IPv4_Destination_Address 198.51.100.2\n    }\n"
	write(goodCD, "Sync {\n    Mode FTFW {\n    }\n"+channel+"}\n")
	write(badCD, "Sync {\n    Mode ALARM {\n    }\n"+channel+"}\n")
	warnCD := filepath.Join(dir, "warn-conntrackd.conf")
	write(warnCD, "Sync {\n    Mode FTFW {\n    }\n"+channel+"}\nGeneral {\n    HashSize 32768\n}\n")

	// The conntrack_sync block starts on line 10; its body is body.
	conf := func(body string) string {
		return `vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority 100
    virtual_ipaddress {
        192.0.2.254/24
    }
}
conntrack_sync {
    track_group VI_1
` + body + "}\n"
	}
	const block = "    interface eth0\n    local_address 198.51.100.1\n    peer_address 198.51.100.2\n"
	cases := []struct {
		name, body string
		code       int
		where      string // "" = the keepalived.conf; else a file of dir
		at, what   string // expected "line:col: keyword:" and text
	}{
		{"complete", block, config.ExitOK, "", "", ""},
		{"over a conntrackd.conf", "    conntrackd_config " + goodCD + "\n", config.ExitOK, "", "", ""},
		{"bad protocol", block + "    filter {\n        protocol TCP FOO\n    }\n", config.ExitCannot, "",
			"16:22: protocol:", `"FOO" is not a protocol`},
		{"bad state", block + "    filter {\n        tcp_state ESTABLISHED OPENISH\n    }\n", config.ExitCannot, "",
			"16:31: tcp_state:", `"OPENISH" is not a TCP state`},
		{"bad address", block + "    filter {\n        ignore_address 192.0.2.300\n    }\n", config.ExitCannot, "",
			"16:24: ignore_address:", `"192.0.2.300" is not an IP address or prefix`},
		{"missing conntrackd_config", "    conntrackd_config " + filepath.Join(dir, "nonexistent.conf") + "\n", config.ExitCannot, "",
			"12:23: conntrackd_config:", "no such file or directory"},
		{"malformed conntrackd_config", "    conntrackd_config " + badCD + "\n", config.ExitCannot, badCD,
			"2:10: Mode:", `vigil speaks FTFW only, not "ALARM"`},
		{"warned conntrackd_config option", "    conntrackd_config " + warnCD + "\n", config.ExitWarnings, warnCD,
			"10:5: HashSize:", "vigil's caches size themselves"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "keepalived.conf")
			write(path, conf(c.body))
			file := path
			if c.where != "" {
				file = c.where
			}
			check := func(what string, code int, out string) {
				t.Helper()
				if code != c.code {
					t.Errorf("%s: exit %d, want %d:\n%s", what, code, c.code, out)
				}
				if c.at == "" {
					return
				}
				// The log quotes its message: \" for ".
				fallback := `.*\(vigild does not start\)`
				if c.code == config.ExitWarnings {
					fallback = `.*\(ignored\)`
				}
				want := regexp.QuoteMeta(file+":"+c.at) + ` .*` + regexp.QuoteMeta(c.what) + fallback
				if !regexp.MustCompile(want).MatchString(strings.ReplaceAll(out, `\"`, `"`)) {
					t.Errorf("%s: output without %s:%s ... %s:\n%s", what, file, c.at, c.what, out)
				}
			}
			code, out := vigildIn(t, l, "-t", "-f", path)
			check("vigild -t", code, out)
			if c.code != config.ExitCannot {
				return // vigild would start and run
			}
			code, out = vigildIn(t, l, "-n", "-l", "-f", path, "-p", filepath.Join(t.TempDir(), "vigild.pid"), "--control", "")
			check("vigild", code, out)
		})
	}
}

// vigildIn runs the test binary as vigild in r1's namespace until it exits
// (a minute at most) and returns its exit code and output.
func vigildIn(t *testing.T, l *lab, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := l.R1.Command(ctx, "env", append([]string{"VIGILD_AS_MAIN=1", os.Args[0]}, args...)...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &ee) && ee.Exited():
		return ee.ExitCode(), string(out)
	}
	t.Fatalf("vigild %s: %v\n%s", strings.Join(args, " "), err, out)
	return 0, ""
}
