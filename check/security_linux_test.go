package check

import (
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/vigil-ha/vigil/testnet"
)

// TestCheckScriptRealFS runs the check against real files and directories:
// a root-owned script in a private directory passes; a world-writable
// directory, a script owned by nobody, and a symlink into an unsafe
// directory are each refused with the offending path named.
func TestCheckScriptRealFS(t *testing.T) {
	testnet.NeedRoot(t)
	base, err := os.MkdirTemp("", "vigil-sec-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(base, "good")
	os.Mkdir(good, 0o755)
	script := filepath.Join(good, "chk")
	os.WriteFile(script, []byte("#!/bin/sh\n"), 0o755)
	if err := CheckScript(script, 0, 0, SystemFS{}); err != nil {
		t.Fatalf("safe script refused: %v", err)
	}

	bad := filepath.Join(base, "bad")
	os.Mkdir(bad, 0o755)
	os.Chmod(bad, 0o777)
	bscript := filepath.Join(bad, "chk")
	os.WriteFile(bscript, []byte("#!/bin/sh\n"), 0o755)
	var se *SecurityError
	if err := CheckScript(bscript, 0, 0, SystemFS{}); !errors.As(err, &se) || !errors.Is(err, ErrInsecure) || se.Path != bad {
		t.Errorf("world-writable directory: %v", err)
	}

	link := filepath.Join(good, "link")
	os.Symlink(bscript, link)
	if err := CheckScript(link, 0, 0, SystemFS{}); !errors.As(err, &se) || se.Path != bad || se.Script != link {
		t.Errorf("symlink into an unsafe directory: %v", err)
	}

	if u, err := user.Lookup("nobody"); err == nil {
		uid, _ := strconv.Atoi(u.Uid)
		owned := filepath.Join(good, "owned")
		os.WriteFile(owned, []byte("#!/bin/sh\n"), 0o755)
		os.Chown(owned, uid, 0)
		if err := CheckScript(owned, 0, 0, SystemFS{}); !errors.As(err, &se) || se.Path != owned || !errors.Is(err, ErrInsecure) {
			t.Errorf("script owned by nobody: %v", err)
		}
	}
}
