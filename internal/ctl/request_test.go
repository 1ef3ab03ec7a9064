package ctl

import (
	"strings"
	"testing"
)

// FuzzRequest: whatever a client sends, the server reads at most
// maxRequest bytes of it and runs nothing but the three commands.
func FuzzRequest(f *testing.F) {
	for _, s := range []string{"status\n", "reload\n", "reload --force\n", " reload \r\n", "reload", "", "\n",
		"status\nreload\n", strings.Repeat("s", maxRequest+1), "reload  --force\n", "\x00\n"} {
		f.Add(s)
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
		cmd, err := parseCommand(line)
		if err != nil {
			return
		}
		if cmd != CmdStatus && cmd != CmdReload && cmd != CmdForceReload {
			t.Fatalf("%q parsed as %q", in, cmd)
		}
		if strings.TrimSpace(line) != string(cmd) {
			t.Fatalf("%q ran %q", line, cmd)
		}
	})
}
