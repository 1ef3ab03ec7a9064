package testnet

import (
	"os"
	"path/filepath"
	"testing"
)

// Keepalived writes config to keepalived.conf in a new t.TempDir() and
// starts Debian's keepalived inside the namespace with it, in the
// foreground and logging to the console (-n -l -D -G), with its own pid
// files in that directory (-p, -r, -c, -b) so that parallel instances never
// collide. args are appended (for example "-P" for VRRP only). The process
// is a [Proc]: stopped by t.Cleanup, its output in Output.
func (h *Host) Keepalived(t testing.TB, config string, args ...string) *Proc {
	t.Helper()
	need(t, "keepalived")
	dir := t.TempDir()
	conf := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(conf, []byte(config), 0o644); err != nil {
		t.Fatalf("testnet: Keepalived: %v", err)
	}
	base := []string{
		"-n", "-l", "-D", "-G",
		"-f", conf,
		"-p", filepath.Join(dir, "keepalived.pid"),
		"-r", filepath.Join(dir, "vrrp.pid"),
		"-c", filepath.Join(dir, "checkers.pid"),
		"-b", filepath.Join(dir, "bfd.pid"),
	}
	return h.Start(t, "keepalived", append(base, args...)...)
}
