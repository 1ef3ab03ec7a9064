package ipvs_test

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/vigil-ha/vigil/ipvs"
	"github.com/vigil-ha/vigil/testnet/vm"
)

// TestKernel runs the kernel tests. On a host, it boots the test VM (our
// machines' kernels have no IPVS) and runs this same test there; inside the
// VM it runs the contract against the real kernel, ipvsadm as an
// independent oracle, and the real-traffic test.
func TestKernel(t *testing.T) {
	if !vm.Inside() {
		vm.Run(t, "^TestKernel$", vm.Options{})
		return
	}
	k, err := ipvs.Dial()
	if err != nil {
		t.Fatalf("the VM kernel must have IPVS: %v", err)
	}
	t.Cleanup(func() { k.Close() })
	flush := func(t *testing.T) {
		if err := k.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("contract", func(t *testing.T) {
		flush(t)
		testContract(t, k)
	})
	t.Run("ipvsadm agrees", func(t *testing.T) {
		flush(t)
		testIPVSADM(t, k)
	})
	t.Run("large table in pipelined batches", func(t *testing.T) {
		flush(t)
		testBatch(t, k)
	})
	t.Run("timeouts", func(t *testing.T) {
		testTimeouts(t, k)
	})
	t.Run("sync daemon", func(t *testing.T) {
		testSyncDaemon(t, k)
	})
	t.Run("traffic through a NAT service", func(t *testing.T) {
		flush(t)
		testTraffic(t, k)
	})
}

// TestDialWithoutIPVS: on a kernel without IPVS Dial says so with
// ErrNoIPVS; with IPVS it succeeds. /proc/net/ip_vs (present once the
// module is loaded, and Dial loads it when it can) is the independent
// oracle.
func TestDialWithoutIPVS(t *testing.T) {
	k, err := ipvs.Dial()
	_, statErr := os.Stat("/proc/net/ip_vs")
	switch {
	case err == nil && statErr != nil:
		t.Fatalf("Dial succeeded but /proc/net/ip_vs is missing: %v", statErr)
	case err == nil:
		k.Close()
	case !errors.Is(err, ipvs.ErrNoIPVS):
		t.Fatalf("Dial: %v, want an error wrapping ErrNoIPVS", err)
	case statErr == nil:
		t.Fatalf("Dial failed (%v) but /proc/net/ip_vs exists", err)
	default:
		t.Logf("no IPVS here, as expected: %v", err)
	}
}

// ipvsadm runs ipvsadm -Ln (numeric) and returns its lines after the
// header.
func ipvsadm(t *testing.T, args ...string) []string {
	t.Helper()
	out, err := exec.Command("ipvsadm", append([]string{"-Ln"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ipvsadm: %v\n%s", err, out)
	}
	var lines []string
	for i, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if i < 3 { // version line, two header lines
			continue
		}
		lines = append(lines, strings.Join(strings.Fields(l), " "))
	}
	return lines
}
