package main

import (
	"bytes"
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
	_, missing, err := manpage.Check(out.String(), filepath.Join("..", "..", "packaging", "man", "vigild.8"), 20)
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) > 0 {
		t.Errorf("packaging/man/vigild.8 does not document %q", missing)
	}
}
