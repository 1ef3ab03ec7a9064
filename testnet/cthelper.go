package testnet

import (
	"os"
	"os/exec"
	"testing"
)

// NeedConntrackHelper skips the test loudly, or fails it when CI=true,
// unless the kernel has the connection-tracking helper name ("ftp",
// "sip"): built in, loaded, or loadable with modprobe.
func NeedConntrackHelper(t testing.TB, name string) {
	t.Helper()
	mod := "nf_conntrack_" + name
	if _, err := os.Stat("/sys/module/" + mod); err == nil {
		return
	}
	out, err := exec.Command("modprobe", mod).CombinedOutput()
	if err == nil {
		return
	}
	skipOrFail(t, "%s needs the kernel's %s helper: modprobe %s: %v: %s", t.Name(), name, mod, err, out)
}
