package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/vigil-ha/vigil/internal/manpage"
)

// TestManPageOptions: every option vigild --help lists is documented in
// its manual page, packaging/man/vigild.8.
func TestManPageOptions(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"--help"}, &out, &errOut); code != 0 {
		t.Fatalf("--help: exit %d: %s", code, errOut.String())
	}
	flags := append(manpage.Flags(out.String()), "--help", "-h")
	if len(flags) < 20 {
		t.Fatalf("found only %d options in --help:\n%s", len(flags), out.String())
	}
	roff, err := os.ReadFile(filepath.Join("..", "..", "packaging", "man", "vigild.8"))
	if err != nil {
		t.Fatal(err)
	}
	if m := manpage.Missing(string(roff), flags); len(m) > 0 {
		t.Errorf("packaging/man/vigild.8 does not document %q", m)
	}
}
