package main

import (
	"bytes"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vigil-ha/vigil/internal/manpage"
)

// TestManPageOptions: every option and command vigilctl --help lists is
// documented in its manual page, packaging/man/vigilctl.8.
func TestManPageOptions(t *testing.T) {
	var help, errOut bytes.Buffer
	if code := run([]string{"--help"}, &help, &errOut); code != 0 {
		t.Fatalf("--help: exit %d: %s", code, errOut.String())
	}
	roff, missing, err := manpage.Check(help.String(), filepath.Join("..", "..", "packaging", "man", "vigilctl.8"), 6)
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) > 0 {
		t.Errorf("packaging/man/vigilctl.8 does not document %q", missing)
	}
	_, cmds, ok := strings.Cut(help.String(), "Commands:\n")
	cmds, _, _ = strings.Cut(cmds, "\n\n")
	names := regexp.MustCompile(`(?m)^  ([a-z]+)\b`).FindAllStringSubmatch(cmds, -1)
	if !ok || len(names) < 2 {
		t.Fatalf("no commands in --help:\n%s", help.String())
	}
	_, section, _ := strings.Cut(roff, ".SH COMMANDS\n")
	section, _, _ = strings.Cut(section, ".SH ")
	for _, n := range names {
		if !regexp.MustCompile(`(?m)^\.BR? ` + n[1] + `\b`).MatchString(section) {
			t.Errorf("packaging/man/vigilctl.8 has no entry for the command %q under COMMANDS", n[1])
		}
	}
}
