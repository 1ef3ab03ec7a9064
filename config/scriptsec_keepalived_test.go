package config

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-ha/vigil/testnet"
	"golang.org/x/sys/unix"
)

// scriptTree builds real scripts for the script-security cases under a
// root-owned 0755 directory: ok.sh (safe), w/s.sh (in a world-writable
// directory), nobody.sh (owned by nobody), noexec.sh (mode 0644),
// link.sh (a root symlink into the world-writable directory), acl/s.sh (in
// a root:root 0775 directory whose ACL lets nobody write), and names the
// missing missing.sh. It returns the directory.
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
	// acl/s.sh: root:root 0775, but an ACL entry lets nobody write.
	acl := filepath.Join(base, "acl")
	must(os.Mkdir(acl, 0o775))
	must(os.Chmod(acl, 0o775))
	entry := func(tag, perm uint16, id uint32) []byte {
		b := binary.LittleEndian.AppendUint16(nil, tag)
		b = binary.LittleEndian.AppendUint16(b, perm)
		return binary.LittleEndian.AppendUint32(b, id)
	}
	blob := binary.LittleEndian.AppendUint32(nil, 2)
	for _, e := range [][]byte{entry(0x01, 7, ^uint32(0)), entry(0x02, 7, uid), entry(0x04, 5, ^uint32(0)),
		entry(0x10, 7, ^uint32(0)), entry(0x20, 5, ^uint32(0))} {
		blob = append(blob, e...)
	}
	must(unix.Setxattr(acl, "system.posix_acl_access", blob, 0))
	must(os.WriteFile(filepath.Join(acl, "s.sh"), body, 0o755))
	must(os.Symlink(filepath.Join(base, "w/s.sh"), filepath.Join(base, "link.sh")))
	return base
}

// scriptDeviations are the script-security cases where vigild -t
// deliberately answers differently from keepalived 2.2.7 -t.
var scriptDeviations = map[string]struct {
	keepalived, vigil int
	why               string
}{
	"track acl/s.sh with script security": {0, 5, "keepalived reads only the mode bits, so a root:root 0775 " +
		"directory passes although its ACL lets another user write; vigil refuses it and disables the vrrp_script"},
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
			for _, script := range []string{"ok.sh", "w/s.sh", "nobody.sh", "noexec.sh", "link.sh", "missing.sh", "acl/s.sh"} {
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
					if d, ok := scriptDeviations[name]; ok {
						if want != d.keepalived || got != d.vigil {
							t.Errorf("documented deviation changed: keepalived %d (documented %d), vigil %d (documented %d): %s",
								want, d.keepalived, got, d.vigil, d.why)
						}
						return
					}
					if got != want {
						t.Errorf("exit code: vigil %d, keepalived %d\nkeepalived said:\n%s\nvigil said:\n%s", got, want, out, complaintsText(errs))
					}
				})
			}
		}
	}
}
