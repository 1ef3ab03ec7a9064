package config

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/vigil-ha/vigil/testnet"
)

// etcIDs returns the config ids a sample's @id lines name ("" if none).
func etcIDs(t *testing.T, file string) []string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{}
	for _, m := range regexp.MustCompile(`(?m)^@(\w+)\s`).FindAllSubmatch(data, -1) {
		if id := string(m[1]); !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		ids = append(ids, "")
	}
	return ids
}

// TestEtcSamples: every sample configuration under etc/ loads with exit
// code 0 (what `vigild -t` prints nothing fatal or warned about for) under
// each config id it names, and Debian's keepalived -t accepts it too (the
// samples without vigil's own conntrack_sync block, which keepalived does
// not know), in a namespace holding the interfaces the samples use.
func TestEtcSamples(t *testing.T) {
	files, err := filepath.Glob("../etc/*.conf")
	if err != nil || len(files) < 3 {
		t.Fatalf("samples under etc/: %v %v", files, err)
	}
	for _, f := range files {
		for _, id := range etcIDs(t, f) {
			cfg, complaints, err := Load(f, Options{ConfigID: id})
			if code := ExitCode(cfg, complaints, err); code != ExitOK {
				t.Errorf("%s (id %q): exit code %d: %v %v", f, id, code, complaints, err)
			}
		}
	}
	testnet.NeedRoot(t, "ip", "keepalived")
	ns := testNamespace(t, "eth0", "eth1", "eth2")
	for _, f := range files {
		if data, err := os.ReadFile(f); err != nil || bytes.Contains(data, []byte("conntrack_sync")) {
			continue
		}
		for _, id := range etcIDs(t, f) {
			if id == "" {
				id = "node"
			}
			if code, out := keepalivedExit(t, ns, f, id); code != 0 {
				t.Errorf("keepalived -t %s -i %s: exit %d\n%s", f, id, code, out)
			}
		}
	}
}
