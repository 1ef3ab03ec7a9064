package testnet

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// BuildStatic compiles the Go package pkg (an import path) into a
// temporary directory of t's without cgo, as vigil's package builds vigild
// (scripts/deb), and returns the binary's path; flags go to go build
// before -o. The go command's default where a C compiler is installed is a
// cgo build, which links libc dynamically: its process maps libc and the
// dynamic loader besides, about 1.5 MB more resident memory than the
// binary vigil ships. Benchmarks that read a process's memory run their
// Go programs so built.
func BuildStatic(t testing.TB, pkg string, flags ...string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), filepath.Base(pkg))
	args := append(append([]string{"build", "-trimpath"}, flags...), "-o", bin, pkg)
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %v (CGO_ENABLED=0): %v\n%s", args, err, out)
	}
	return bin
}
