package check

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/testnet"
	"golang.org/x/sys/unix"
)

// secureBase makes a root-owned 0755 directory for a test's scripts; the
// directories above it (the temporary directory) must themselves pass.
func secureBase(t *testing.T) string {
	t.Helper()
	base, err := os.MkdirTemp("", "vigil-sec-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := CheckPathChain(testnet.WriteScript(t, base, "probe", "exit 0"), SystemFS{}); err != nil {
		t.Fatalf("the temporary directory is not safe for root scripts, so nothing can be tested: %v", err)
	}
	return base
}

func mkdir(t *testing.T, path string, mode os.FileMode) string {
	t.Helper()
	if err := os.Mkdir(path, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // past the umask
		t.Fatal(err)
	}
	return path
}

// TestCheckScriptRealFS runs the rules against real files and directories
// as root, with nobody as the other user: a root-owned script in a private
// directory passes; a world-writable directory, a directory or script owned
// by nobody, a directory writable by nobody's group, a symlink into an
// unsafe directory and a symlink owned by nobody are each refused, naming
// the offending path.
func TestCheckScriptRealFS(t *testing.T) {
	uid, gid := testnet.Nobody(t)
	base := secureBase(t)
	good := mkdir(t, filepath.Join(base, "good"), 0o755)
	script := testnet.WriteScript(t, good, "chk", "exit 0")
	if path, err := CheckScript(script, 0, 0, SystemFS{}); err != nil || path != script {
		t.Fatalf("safe script: %q, %v", path, err)
	}

	refused := func(what, script, atFault string, want error) {
		t.Helper()
		var se *SecurityError
		_, err := CheckScript(script, 0, 0, SystemFS{})
		if !errors.As(err, &se) || !errors.Is(err, want) || se.Path != atFault {
			t.Errorf("%s: %v, want %v naming %s", what, err, want, atFault)
		}
	}
	bad := mkdir(t, filepath.Join(base, "bad"), 0o777)
	refused("world-writable directory", testnet.WriteScript(t, bad, "chk", "exit 0"), bad, ErrInsecure)

	owned := mkdir(t, filepath.Join(base, "owned"), 0o755)
	os.Chown(owned, int(uid), int(gid))
	refused("directory owned by nobody", testnet.WriteScript(t, owned, "chk", "exit 0"), owned, ErrInsecure)

	grp := mkdir(t, filepath.Join(base, "grp"), 0o775)
	os.Chown(grp, 0, int(gid))
	refused("directory writable by nobody's group", testnet.WriteScript(t, grp, "chk", "exit 0"), grp, ErrInsecure)

	nf := testnet.WriteScript(t, good, "nobodys", "exit 0")
	os.Chown(nf, int(uid), 0)
	refused("script owned by nobody", nf, nf, ErrInsecure)

	link := filepath.Join(good, "link")
	os.Symlink(filepath.Join(bad, "chk"), link)
	refused("symlink into an unsafe directory", link, bad, ErrInsecure)

	ulink := filepath.Join(good, "ulink")
	os.Symlink(script, ulink)
	if err := os.Lchown(ulink, int(uid), int(gid)); err != nil {
		t.Fatal(err)
	}
	refused("symlink owned by nobody", ulink, ulink, ErrInsecure)

	sdir := filepath.Join(good, "sdir")
	os.Symlink(bad, sdir)
	refused("symlinked directory leading to an unsafe one", filepath.Join(sdir, "chk"), bad, ErrInsecure)

	// A root:root 0775 directory passes keepalived's mode-bit rules, yet an
	// ACL entry lets nobody write it.
	acld := mkdir(t, filepath.Join(base, "acl"), 0o775)
	blob := acl(2, [3]uint32{0x01, 7, 0xffffffff}, [3]uint32{0x02, 7, uid}, [3]uint32{0x04, 5, 0xffffffff},
		[3]uint32{0x10, 7, 0xffffffff}, [3]uint32{0x20, 5, 0xffffffff})
	if err := unix.Setxattr(acld, "system.posix_acl_access", blob, 0); err != nil {
		t.Fatalf("set an ACL on %s (the file system must support POSIX ACLs): %v", acld, err)
	}
	aclScript := testnet.WriteScript(t, acld, "chk", "exit 0")
	if out, err := testnet.AsNobody(t, "sh", "-c", "echo x > "+filepath.Join(acld, "proof")); err != nil {
		t.Fatalf("the ACL does not let nobody write, so the case proves nothing: %v\n%s", err, out)
	}
	refused("directory with an ACL granting nobody write", aclScript, acld, ErrInsecure)

	if _, err := CheckScript(filepath.Join(good, "missing"), 0, 0, SystemFS{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing script: %v", err)
	}
	// Run as nobody, a script in a directory nobody owns is nobody's
	// business, as in keepalived.
	if _, err := CheckScript(filepath.Join(owned, "chk"), uid, gid, SystemFS{}); err != nil {
		t.Errorf("nobody's script run as nobody: %v", err)
	}
}

// uidRecorder writes a script that appends `id -u` to rec.
func uidRecorder(t *testing.T, dir, name, rec string) string {
	return testnet.WriteScript(t, dir, name, "id -u >> "+rec)
}

// recorded returns the uids a recorder wrote ("" if it never ran).
func recorded(t *testing.T, rec string) string {
	t.Helper()
	b, err := os.ReadFile(rec)
	if errors.Is(err, os.ErrNotExist) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestRunnerRefusesScriptMadeUnsafe is the attack after load: a vrrp_script
// that was safe when vigild checked its configuration is run by the Runner
// as root; then its folder is replaced by a world-writable one in which
// nobody plants a script, the file is replaced by one nobody owns, or a
// root-owned symlink is pointed into nobody's folder. Every next run is
// refused right before exec and counted, and the planted script never runs.
func TestRunnerRefusesScriptMadeUnsafe(t *testing.T) {
	testnet.Nobody(t)
	base := secureBase(t)
	out := mkdir(t, filepath.Join(base, "out"), 0o777)
	rec := filepath.Join(out, "uids")

	run := func(r *Runner, ch chan RunResult, s Script) RunResult {
		t.Helper()
		if err := r.Run(s); err != nil {
			t.Fatal(err)
		}
		return await(t, ch)
	}
	for _, attack := range []string{"folder swapped", "file replaced", "symlink swapped"} {
		t.Run(attack, func(t *testing.T) {
			os.Remove(rec)
			dir := mkdir(t, filepath.Join(base, strings.ReplaceAll(attack, " ", "-")), 0o755)
			script := uidRecorder(t, dir, "chk", rec)
			argv0 := script
			if attack == "symlink swapped" {
				argv0 = filepath.Join(dir, "link")
				if err := os.Symlink(script, argv0); err != nil {
					t.Fatal(err)
				}
			}
			r, ch := newTestRunner(t)
			s := Script{Name: "chk", Argv: []string{argv0}, Timeout: 20 * time.Second}
			if res := run(r, ch, s); !res.Result.OK() {
				t.Fatalf("safe script: %v", res.Result)
			}
			if got := recorded(t, rec); got != "0" {
				t.Fatalf("the safe script ran as %q, want 0", got)
			}
			os.Remove(rec)

			switch attack {
			case "folder swapped":
				if err := os.Rename(dir, dir+".old"); err != nil {
					t.Fatal(err)
				}
				mkdir(t, dir, 0o777)
				if out, err := testnet.AsNobody(t, "sh", "-c", "printf '#!/bin/sh\\nid -u >> "+rec+"\\n' > "+script+" && chmod 755 "+script); err != nil {
					t.Fatalf("nobody plants a script: %v\n%s", err, out)
				}
			case "file replaced":
				os.Remove(script)
				uidRecorder(t, dir, "chk", rec)
				uid, gid := testnet.Nobody(t)
				if err := os.Chown(script, int(uid), int(gid)); err != nil {
					t.Fatal(err)
				}
			case "symlink swapped":
				evil := mkdir(t, filepath.Join(base, "evil"), 0o777)
				planted := filepath.Join(evil, "chk")
				if out, err := testnet.AsNobody(t, "sh", "-c", "printf '#!/bin/sh\\nid -u >> "+rec+"\\n' > "+planted+" && chmod 755 "+planted); err != nil {
					t.Fatalf("nobody plants a script: %v\n%s", err, out)
				}
				os.Remove(argv0)
				if err := os.Symlink(planted, argv0); err != nil {
					t.Fatal(err)
				}
			}
			res := run(r, ch, s)
			if res.Result.OK() || !res.Result.Refused || res.PID != 0 {
				t.Errorf("run after the attack: %+v, want refused before start", res)
			}
			if st := r.Stats(); st.Refused != 1 || st.Started != 1 {
				t.Errorf("stats %+v, want 1 started and 1 refused", st)
			}
			if got := recorded(t, rec); got != "" {
				t.Errorf("the planted script ran, as uid %q", got)
			}

			// Without enable_script_security keepalived runs it anyway.
			s.AllowUnsafe = true
			if res := run(r, ch, s); !res.Result.OK() || recorded(t, rec) != "0" {
				t.Errorf("AllowUnsafe: %v, ran as %q", res.Result, recorded(t, rec))
			}
		})
	}
}

// TestCommandRunsCheckedPath: the command starts the checked path, with
// the configured argv.
func TestCommandRunsCheckedPath(t *testing.T) {
	testnet.NeedRoot(t)
	base := secureBase(t)
	dir := mkdir(t, filepath.Join(base, "d"), 0o755)
	script := testnet.WriteScript(t, dir, "chk", "exit 0")
	alias := filepath.Join(base, "alias")
	if err := os.Symlink(dir, alias); err != nil {
		t.Fatal(err)
	}
	argv0 := filepath.Join(alias, "chk")
	cmd, err := Command(Script{Argv: []string{argv0, "a"}})
	if err != nil {
		t.Fatal(err)
	}
	if cmd.Path != script || cmd.Args[0] != argv0 || cmd.Args[1] != "a" {
		t.Errorf("Command runs %s %q, want %s", cmd.Path, cmd.Args, script)
	}
	if _, err := Command(Script{Argv: []string{filepath.Join(dir, "missing")}}); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing script: %v", err)
	}
}
