// Package vm runs a package's tests inside a throw-away qemu VM that boots
// Debian's stock kernel, for the kernel features the test machines lack
// (IPVS). run-in-vm.sh, next to this file, builds the VM (the kernel and
// busybox come from Debian packages through apt-get, cached in
// /tmp/ipvs-vm-cache) and runs one static binary in it as root; this
// package drives it from `go test`.
//
// The pattern: a test calls [Run] when ![Inside]; Run builds the calling
// package's test binary with CGO_ENABLED=0, boots the VM and runs the
// binary there with the given -test.run pattern, failing the host test if
// the tests inside fail. Inside the VM ([Inside] is true) the same test
// does the kernel work. Tests needing the VM fail instead of skipping when
// CI=true and the VM cannot be started.
//
// Inside the VM (no "ip netns", no NIC) a test builds its topology with
// [NewNS] and [Wire] (unnamed namespaces joined to its own by veth
// pairs), runs vigild with [StartVigild] (its own directory, control
// socket and log; SIGTERM at test end) and reads the kernel's table with
// [IPVSADM] and [WaitIPVS], /sbin/ipvsadm being an oracle independent of
// vigil's netlink code.
//
// The package is for tests only; it owns nothing at run time.
package vm

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/testnet"
)

// envInside is set in the VM by Run.
const envInside = "VIGIL_TEST_VM"

// Inside reports whether this process runs inside the test VM.
func Inside() bool { return os.Getenv(envInside) == "1" }

// Script returns the path of run-in-vm.sh.
func Script() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "run-in-vm.sh")
}

// Options tunes [Run].
type Options struct {
	// Files are extra host files or folders copied into the VM
	// (run-in-vm.sh -f SRC[:DEST]); dynamically linked executables get
	// their libraries.
	Files []string
	// Env are extra KEY=VALUE settings for the test binary.
	Env []string
	// Timeout bounds the whole VM run; 0 means 10 minutes.
	Timeout time.Duration
	// Args are more arguments for the test binary, after -test.run
	// (e.g. -test.bench for a benchmark run with pattern "^$").
	Args []string
}

// Run builds the test binary of the package in the current directory
// (where `go test` runs a package's tests), boots the VM and runs the
// tests matching pattern in it, verbosely, failing t if they fail. The
// VM's output is logged. Without go, qemu's prerequisites or root (to
// install them), t is skipped, or failed when CI=true (testnet.NeedRoot).
func Run(t testing.TB, pattern string, opts Options) {
	t.Helper()
	if Inside() {
		t.Fatal("vm.Run called inside the VM")
	}
	// Root: run-in-vm.sh installs qemu and its helpers when they are
	// missing.
	testnet.NeedRoot(t, "go")
	bin := filepath.Join(t.TempDir(), "pkg.test")
	build := exec.Command("go", "test", "-c", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("vm: building the test binary: %v\n%s", err, out)
	}
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = 10 * time.Minute
	}
	args := []string{"-t", fmt.Sprint(int(timeout / time.Second)), "-e", envInside + "=1"}
	if os.Getenv("CI") != "" {
		args = append(args, "-e", "CI="+os.Getenv("CI"))
	}
	for _, e := range opts.Env {
		args = append(args, "-e", e)
	}
	for _, f := range opts.Files {
		args = append(args, "-f", f)
	}
	if len(opts.Files) > 0 {
		args = append(args, "--with-libs")
	}
	args = append(args, bin, "-test.v", "-test.count=1", "-test.run", pattern)
	args = append(args, opts.Args...)
	cmd := exec.Command(Script(), args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	t.Logf("vm: %s %q\n%s", Script(), args, out.Bytes())
	if err != nil {
		t.Fatalf("vm: the tests in the VM failed: %v", err)
	}
	if !bytes.Contains(out.Bytes(), []byte("\nPASS")) && !bytes.HasPrefix(out.Bytes(), []byte("PASS")) {
		t.Fatalf("vm: no PASS line from the tests in the VM")
	}
	if bytes.Contains(out.Bytes(), []byte("--- SKIP")) && os.Getenv("CI") == "true" {
		t.Fatalf("vm: tests skipped inside the VM under CI=true")
	}
	if len(opts.Args) == 0 && bytes.Contains(out.Bytes(), []byte("testing: warning: no tests to run")) {
		t.Fatalf("vm: pattern %q matched no test inside the VM", pattern)
	}
}
