package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-ha/vigil/testnet"
)

// scriptTree builds real scripts for the script-security cases under a
// root-owned 0755 directory: ok.sh (safe), w/s.sh (in a world-writable
// directory), nobody.sh (owned by nobody), noexec.sh (mode 0644),
// link.sh (a root symlink into the world-writable directory), and names
// the missing missing.sh. It returns the directory.
func scriptTree(t *testing.T) string {
	t.Helper()
	uid, gid := testnet.Nobody(t)
	base, err := os.MkdirTemp("", "vigil-cfgsec-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Chmod(base, 0o755))
	must(os.Mkdir(filepath.Join(base, "w"), 0o777))
	must(os.Chmod(filepath.Join(base, "w"), 0o777))
	body := []byte("#!/bin/sh\nexit 0\n")
	for name, mode := range map[string]os.FileMode{"ok.sh": 0o755, "w/s.sh": 0o755, "nobody.sh": 0o755, "noexec.sh": 0o644} {
		must(os.WriteFile(filepath.Join(base, name), body, mode))
		must(os.Chmod(filepath.Join(base, name), mode))
	}
	must(os.Chown(filepath.Join(base, "nobody.sh"), int(uid), int(gid)))
	must(os.Symlink(filepath.Join(base, "w/s.sh"), filepath.Join(base, "link.sh")))
	return base
}

// TestDifferentialScriptSecurity runs keepalived 2.2.7 -t and vigil on
// every script-security case with real files, for a track script and a
// notify script, with and without enable_script_security, and requires the
// same exit code. keepalived disables a missing or unsafe track script
// (5), only logs a disabled notify script (0), and reports any script it
// finds without enable_script_security as a security violation (6).
func TestDifferentialScriptSecurity(t *testing.T) {
	testnet.NeedRoot(t, "ip", "keepalived")
	base := scriptTree(t)
	ns := testNamespace(t, "eth0")
	dir := t.TempDir()
	i := 0
	for _, sec := range []string{"", " enable_script_security\n"} {
		for _, kind := range []string{"track", "notify"} {
			for _, script := range []string{"ok.sh", "w/s.sh", "nobody.sh", "noexec.sh", "link.sh", "missing.sh"} {
				name := kind + " " + script
				if sec != "" {
					name += " with script security"
				}
				path := filepath.Join(base, script)
				conf := "global_defs {\n script_user root\n" + sec + "}\n"
				if kind == "track" {
					conf += "vrrp_script chk {\n script \"" + path + "\"\n}\n" + instConf("    track_script {\n        chk\n    }\n")
				} else {
					conf += instConf("    notify_master " + path + "\n")
				}
				i++
				file := filepath.Join(dir, "case"+itoa(i)+".conf")
				t.Run(strings.ReplaceAll(name, "/", "_"), func(t *testing.T) {
					if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
						t.Fatal(err)
					}
					want, out := keepalivedExit(t, ns, file, "node1")
					cfg, errs, err := Load(file, hostOptions(t, ns, "node1"))
					got := ExitCode(cfg, errs, err)
					if got != want {
						t.Errorf("exit code: vigil %d, keepalived %d\nkeepalived said:\n%s\nvigil said:\n%s", got, want, out, complaintsText(errs))
					}
				})
			}
		}
	}
}
