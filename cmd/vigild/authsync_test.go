package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-ha/vigil/testnet"
)

// TestFirewallKeyedSync: two vigild with the same auth_key_file replicate
// over the authenticated channel (vigild passes the key to the replicator:
// both sides seal, both open), show it in their status, refuse nothing and
// do not warn about an unauthenticated channel.
func TestFirewallKeyedSync(t *testing.T) {
	const flows = 500
	l := newFWLab(t)
	key := filepath.Join(t.TempDir(), "sync.key")
	if err := os.WriteFile(key, []byte(testSyncKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	keyed := func(conf string) string {
		return strings.Replace(conf, "    track_group FW\n", "    track_group FW\n    auth_key_file "+key+"\n", 1)
	}
	c1, c2 := keyed(fwConf("fw1", 150, fwSync1, fwSync2, true)), keyed(fwConf("fw2", 100, fwSync2, fwSync1, true))
	if !strings.Contains(c1, "auth_key_file") || !strings.Contains(c2, "auth_key_file") {
		t.Fatalf("no auth_key_file in the configuration:\n%s", c1)
	}
	v1, v2 := startFWPairConf(t, l, c1, c2)
	ctLoadFlows(t, l.FW1, flows, 0)
	testnet.Eventually(t, fwSettle, func() bool { return v2.Conntrack(t).External >= flows },
		"fw2's external cache receives fw1's %d entries over the keyed channel", flows)
	for _, v := range []*vigild{v1, v2} {
		st := v.Conntrack(t)
		if !st.Authenticated || !st.Established || st.AuthDrops != 0 || st.Drops["auth_failed"] != 0 {
			t.Errorf("%s: authenticated %v, established %v, auth drops %d, drops %v", v.Host.Name(), st.Authenticated, st.Established, st.AuthDrops, st.Drops)
		}
		if out := v.Output(); strings.Contains(out, "unauthenticated") || strings.Contains(out, testSyncKey[:16]) {
			t.Errorf("%s logged an unauthenticated warning or the key:\n%s", v.Host.Name(), out)
		}
	}
}
