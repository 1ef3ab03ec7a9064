package ipvslab

import (
	"os/exec"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/testnet"
	"github.com/vigil-ha/vigil/testnet/vm"
)

// RunVM is the host side of a lab test: it builds a static vigild, boots
// the test VM once and runs the tests matching pattern inside it, with
// iproute2's ip, Debian's keepalived (both with their libraries) and
// vigild copied in. args go to the test binary (e.g. -test.bench).
func RunVM(t testing.TB, pattern string, timeout time.Duration, args ...string) {
	t.Helper()
	testnet.NeedRoot(t, "go", "ip", "keepalived")
	ip, err := exec.LookPath("ip")
	if err != nil {
		t.Fatal(err)
	}
	keepalived, err := exec.LookPath("keepalived")
	if err != nil {
		t.Fatal(err)
	}
	vigild := testnet.BuildStatic(t, "github.com/vigil-ha/vigil/cmd/vigild")
	// PATH inside the VM starts with /usr/sbin, so this ip shadows
	// busybox's.
	files := []string{ip + ":/usr/sbin/ip", keepalived + ":/usr/sbin/keepalived", vigild + ":" + VigildPath}
	if strace, err := exec.LookPath("strace"); err == nil {
		files = append(files, strace+":/usr/sbin/strace") // optional: benchmarks count system calls with it
	}
	vm.Run(t, pattern, vm.Options{
		Files:   files,
		Timeout: timeout,
		Args:    args,
	})
}
