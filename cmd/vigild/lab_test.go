package main

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/daemon"
	"github.com/vigil-ha/vigil/internal/memtrim"
	"github.com/vigil-ha/vigil/internal/syncworker"
	"github.com/vigil-ha/vigil/testnet"
	"github.com/vigil-ha/vigil/testnet/harness"
)

// The test binary doubles as vigild: started with VIGILD_AS_MAIN=1 it runs
// main's run instead of the tests, so the integration tests exercise the
// real command (flags, signals, pid file) under the race detector.
func TestMain(m *testing.M) {
	if os.Getenv(syncworker.WorkerEnv) == "1" {
		hugePagesErr = noHugePages()
		memtrim.SetGC()
		os.Exit(daemon.SyncWorkerMain()) // started by the test binary running as vigild
	}
	if os.Getenv("VIGILD_AS_MAIN") == "1" {
		hugePagesErr = noHugePages()
		memtrim.SetGC() // the collector as vigild runs it: the benchmarks' RSS and CPU are vigild's
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// Addresses of the router pair (harness.RouterPair): one segment
// 192.0.2.0/24 and 2001:db8:1::/64, two routers and a client on a switch.
const (
	r1v4, r2v4, clientv4 = harness.R1v4, harness.R2v4, harness.ClientV4
	r1v6, r2v6, clientv6 = harness.R1v6, harness.R2v6, harness.ClientV6
	vip4, vip6           = harness.VIP4, harness.VIP6
)

// lab is two routers and a client on one switch.
type lab = harness.RouterPair

func newLab(t testing.TB) *lab { return harness.NewRouterPair(t) }

// vigild is one running vigild.
type vigild = harness.Vigild

// hugePagesModeEnv, in the environment of this test binary run as vigild,
// names a file that stands for the kernel's transparent huge page mode
// (memtrim.NoHugePagesFrom): a test's way to start vigild as on a host
// whose mode is "always", Debian's default, whatever this host's is. The
// vigild binary reads the kernel's own.
const hugePagesModeEnv = "VIGILD_TEST_HUGEPAGES_MODE"

// noHugePages is main's memtrim.NoHugePages, with hugePagesModeEnv.
func noHugePages() error {
	if f := os.Getenv(hugePagesModeEnv); f != "" {
		return memtrim.NoHugePagesFrom(f)
	}
	return memtrim.NoHugePages()
}

// vigildCommand runs this test binary as vigild (see TestMain), or the
// vigild binary at $VIGILD_BINARY when that is set. Both run the collector
// as vigild does. BenchmarkFirewallTakeover runs a static build instead
// (fwBenchVigild): this test binary is linked against libc where a C
// compiler is installed, which the memory it reads would count.
var vigildCommand = func() harness.Command {
	if bin := os.Getenv("VIGILD_BINARY"); bin != "" {
		return harness.Command{bin}
	}
	return harness.Command{"env", "VIGILD_AS_MAIN=1", os.Args[0]}
}()

// startVigild writes conf and starts vigild on h in the foreground with
// detailed logging (-D); extra flags are appended.
func startVigild(t testing.TB, h *testnet.Host, conf string, extra ...string) *vigild {
	t.Helper()
	return harness.StartVigild(t, h, vigildCommand, conf, append([]string{"-D"}, extra...)...)
}

// hasAddr reports whether h has addr on dev.
func hasAddr(t testing.TB, h *testnet.Host, dev, addr string) bool {
	t.Helper()
	has, err := h.HasAddr(t.Context(), dev, addr)
	if err != nil {
		t.Fatal(err)
	}
	return has
}

// waitAddr waits until addr is present (want) or absent on h's dev.
func waitAddr(t *testing.T, h *testnet.Host, dev, addr string, want bool, timeout time.Duration) {
	t.Helper()
	testnet.Eventually(t, timeout, func() bool { return hasAddr(t, h, dev, addr) == want },
		"%s on %s: want present=%v", addr, h.Name(), want)
}

// ping reports whether one echo to addr from h gets an answer.
func ping(t *testing.T, h *testnet.Host, addr string) bool {
	t.Helper()
	return h.Command(t.Context(), "ping", "-c", "1", "-W", "1", addr).Run() == nil
}

// neighMAC returns the link-layer address h's neighbour table holds for addr.
func neighMAC(t *testing.T, h *testnet.Host, addr string) string {
	t.Helper()
	out, _ := h.Command(t.Context(), "ip", "neigh", "show", addr).CombinedOutput()
	m := regexp.MustCompile(`lladdr ([0-9a-f:]{17})`).FindSubmatch(out)
	if m == nil {
		return ""
	}
	return string(m[1])
}

// conf renders a two-instance (IPv4 + IPv6) configuration.
func conf(global string, prio int, instanceExtra string) string {
	return fmt.Sprintf(`global_defs {
    router_id test
    vrrp_garp_master_delay 1
    vrrp_garp_master_repeat 1
%s
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority %d
    advert_int 0.1
    version 3
%s
    virtual_ipaddress {
        %s/24
    }
}
vrrp_instance VI_6 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority %d
    advert_int 0.1
%s
    virtual_ipaddress {
        %s/64
    }
}
`, global, prio, instanceExtra, vip4, prio, instanceExtra, vip6)
}

func macString(i *testnet.Iface) string { return strings.ToLower(i.MAC().String()) }
