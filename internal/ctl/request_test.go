package ctl

import (
	"strings"
	"testing"
)

// FuzzRequest: whatever a client sends, the server reads at most
// maxRequest bytes of it and runs nothing but the known commands, with a
// target only where one is taken, of printable ASCII.
func FuzzRequest(f *testing.F) {
	for _, s := range []string{"status\n", "reload\n", "reload --force\n", " reload \r\n", "reload", "", "\n",
		"status\nreload\n", strings.Repeat("s", maxRequest+1), "reload  --force\n", "\x00\n", "demote VI_1\n",
		"promote G\n", "maintenance on\n", "maintenance off all\n", "maintenance on VI_1 VI_2\n", "events\n",
		"demote\n", "demote VI\x01\n", "events now\n", "maintenance\n", "ct dump external\n", "ct stats\n", "ct flush internal\n",
		"ct commit now\n", "ct\n"} {
		f.Add(s)
	}
	known := map[Command]bool{CmdStatus: true, CmdReload: true, CmdForceReload: true, CmdDemote: true, CmdPromote: true,
		CmdMaintenanceOn: true, CmdMaintenanceOff: true, CmdEvents: true}
	for _, c := range ctCommands {
		known[c] = true
	}
	f.Fuzz(func(t *testing.T, in string) {
		line, err := readRequest(strings.NewReader(in))
		if len(line) > maxRequest {
			t.Fatalf("read %d bytes, more than %d", len(line), maxRequest)
		}
		if err != nil {
			return
		}
		if !strings.HasPrefix(in, line) {
			t.Fatalf("line %q is not the start of the request %q", line, in)
		}
		req, err := parseRequest(line)
		if err != nil {
			return
		}
		if !known[req.Cmd] {
			t.Fatalf("%q parsed as %q", in, req.Cmd)
		}
		if strings.Join(strings.Fields(line), " ") != req.String() && req.Target != TargetAll {
			t.Fatalf("%q ran %q", line, req)
		}
		for _, c := range []byte(req.Target) {
			if c <= ' ' || c >= 0x7f {
				t.Fatalf("%q: target %q", line, req.Target)
			}
		}
	})
}

// TestParseRequest: the commands with and without targets, and what is
// refused.
func TestParseRequest(t *testing.T) {
	for _, tc := range []struct {
		line string
		want Request
		bad  bool
	}{
		{"status", Request{Cmd: CmdStatus}, false},
		{"reload --force", Request{Cmd: CmdForceReload}, false},
		{"demote VI_1", Request{Cmd: CmdDemote, Target: "VI_1"}, false},
		{"promote G1", Request{Cmd: CmdPromote, Target: "G1"}, false},
		{"maintenance on", Request{Cmd: CmdMaintenanceOn, Target: TargetAll}, false},
		{"maintenance off VI_2", Request{Cmd: CmdMaintenanceOff, Target: "VI_2"}, false},
		{"events", Request{Cmd: CmdEvents}, false},
		{"demote", Request{}, true},
		{"promote", Request{}, true},
		{"maintenance", Request{}, true},
		{"maintenance maybe VI_1", Request{}, true},
		{"demote VI_1 VI_2", Request{}, true},
		{"demote " + strings.Repeat("x", maxTarget+1), Request{}, true},
		{"demote VI_\xc3\xa9", Request{}, true},
		{"events VI_1", Request{}, true},
		{"status --json", Request{}, true},
		{"ct dump internal", Request{Cmd: CmdCTDumpInternal}, false},
		{"ct  dump   external", Request{Cmd: CmdCTDumpExternal}, false},
		{"ct stats", Request{Cmd: CmdCTStats}, false},
		{"ct commit", Request{Cmd: CmdCTCommit}, false},
		{"ct flush", Request{Cmd: CmdCTFlush}, false},
		{"ct resync", Request{Cmd: CmdCTResync}, false},
		{"ct bulk", Request{Cmd: CmdCTBulk}, false},
		{"ct", Request{}, true},
		{"ct dump", Request{}, true},
		{"ct commit now", Request{}, true},
		{"ct flush internal", Request{}, true},
		{"ct kill", Request{}, true},
		{"shutdown", Request{}, true},
	} {
		got, err := parseRequest(tc.line)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("parseRequest(%q) = %+v, %v; want %+v (error %v)", tc.line, got, err, tc.want, tc.bad)
		}
	}
}
