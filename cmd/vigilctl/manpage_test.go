package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vigil-ha/vigil/internal/manpage"
)

// TestManPageOptions: every option and command vigilctl --help lists is
// documented in its manual page, packaging/man/vigilctl.8.
func TestManPageOptions(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"--help"}, &out, &errOut); code != 0 {
		t.Fatalf("--help: exit %d: %s", code, errOut.String())
	}
	flags := append(manpage.Flags(out.String()), "--help", "-h")
	if len(flags) < 6 {
		t.Fatalf("found only %d options in --help:\n%s", len(flags), out.String())
	}
	b, err := os.ReadFile(filepath.Join("..", "..", "packaging", "man", "vigilctl.8"))
	if err != nil {
		t.Fatal(err)
	}
	roff := string(b)
	if m := manpage.Missing(roff, flags); len(m) > 0 {
		t.Errorf("packaging/man/vigilctl.8 does not document %q", m)
	}
	_, cmds, ok := strings.Cut(out.String(), "Commands:\n")
	cmds, _, _ = strings.Cut(cmds, "\n\n")
	names := regexp.MustCompile(`(?m)^  ([a-z]+)\b`).FindAllStringSubmatch(cmds, -1)
	if !ok || len(names) < 2 {
		t.Fatalf("no commands in --help:\n%s", out.String())
	}
	_, section, _ := strings.Cut(roff, ".SH COMMANDS\n")
	section, _, _ = strings.Cut(section, ".SH ")
	for _, n := range names {
		if !regexp.MustCompile(`(?m)^\.BR? ` + n[1] + `\b`).MatchString(section) {
			t.Errorf("packaging/man/vigilctl.8 has no entry for the command %q under COMMANDS", n[1])
		}
	}
}
