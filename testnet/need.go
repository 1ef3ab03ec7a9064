package testnet

import (
	"os"
	"path/filepath"
	"testing"
)

// NeedRoot skips the test loudly, or fails it when CI=true, unless it runs
// as root and every binary in bins is on PATH.
func NeedRoot(t testing.TB, bins ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(t, "%s needs root (running as uid %d)", t.Name(), os.Geteuid())
	}
	for _, b := range bins {
		need(t, b)
	}
}

// WriteScript writes an executable /bin/sh script with body into dir and
// returns its path.
func WriteScript(t testing.TB, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}
