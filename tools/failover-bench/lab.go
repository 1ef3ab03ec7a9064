//go:build linux

package main

import (
	"context"
	_ "embed"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/vigil-ha/vigil/testnet"
	"github.com/vigil-ha/vigil/testnet/harness"
)

// The lab is harness.RouterPair: one segment, documentation ranges only.
const (
	vrid       = 51
	prioMaster = 150
	prioBackup = 100
)

var (
	vip4 = netip.MustParseAddr(harness.VIP4)
	vip6 = netip.MustParseAddr(harness.VIP6)
)

type lab = harness.RouterPair

func buildLab(t testing.TB) *lab { return harness.NewRouterPair(t) }

// impl is one VRRP implementation under test.
type impl struct {
	name  string
	start func(t testing.TB, h *testnet.Host, conf string) *testnet.Proc
	// group is what its CPU and memory figures cover.
	group string
	// floor: a bare sender and receiver (tools/failover-bench/bare), not
	// a daemon: no VIPs to wait for, load table only.
	floor bool
}

// bareImpl is the load table's floor: the bare program on both routers,
// sending (MASTER's configuration) or receiving (BACKUP's) the same
// adverts as the daemons' instances.
func bareImpl(bin string) impl { return floorImpl(bin, "go floor") }

// cFloorImpl is the load table's physical floor: cfloor/cfloor.c, a
// single-threaded C program that only sends (MASTER) or receives
// (BACKUP) the same adverts. What it pays is the kernel's cost of these
// adverts on this machine and the least a program adds to it; the bare
// Go program, with no runtime work between the poller and its read, is
// level with it within a run's spread.
func cFloorImpl(bin string) impl { return floorImpl(bin, "c floor") }

func floorImpl(bin, name string) impl {
	return impl{
		name:  name,
		group: "one process",
		floor: true,
		start: func(t testing.TB, h *testnet.Host, conf string) *testnet.Proc {
			role := "recv"
			if strings.Contains(conf, "state MASTER") {
				role = "send"
			}
			n := strings.Count(conf, "vrrp_instance ")
			return h.Start(t, bin, "-role", role, "-n", strconv.Itoa(n), "-interval", loadAdvert.String(), "-iface", "eth0")
		},
	}
}

//go:embed cfloor/cfloor.c
var cFloorSource []byte

// buildCFloor compiles cfloor/cfloor.c with $CC (cc when unset).
func buildCFloor(t testing.TB) string {
	dir := t.TempDir()
	src, bin := filepath.Join(dir, "cfloor.c"), filepath.Join(dir, "cfloor")
	if err := os.WriteFile(src, cFloorSource, 0o600); err != nil {
		t.Fatal(err)
	}
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "cc"
	}
	if out, err := exec.Command(cc, "-O2", "-o", bin, src).CombinedOutput(); err != nil {
		t.Fatalf("failover-bench: %s cfloor.c (a C compiler is needed for the load table's floor; -load-floor=false leaves it out): %v\n%s", cc, err, out)
	}
	return bin
}

// buildBare compiles the floor's bare program as buildVigild builds
// vigild, so that their resident sizes compare.
func buildBare(t testing.TB) string {
	return testnet.BuildStatic(t, "github.com/vigil-ha/vigil/tools/failover-bench/bare", "-ldflags=-s -w")
}

func vigildImpl(bin string) impl {
	return impl{
		name:  "vigild",
		group: "one process",
		start: func(t testing.TB, h *testnet.Host, conf string) *testnet.Proc {
			return harness.StartVigild(t, h, harness.Command{bin}, conf, "-D").Proc
		},
	}
}

func keepalivedImpl() impl {
	return impl{
		name:  "keepalived",
		group: "parent + VRRP child, summed",
		start: func(t testing.TB, h *testnet.Host, conf string) *testnet.Proc {
			// -n -l -D -G, private -p -r -c -b pid files; -P: VRRP only.
			return h.Keepalived(t, conf, "-P")
		},
	}
}

// buildVigild compiles cmd/vigild into a temporary directory the way the
// package ships it (scripts/deb): static, without cgo and symbols
// (testnet.BuildStatic).
func buildVigild(t testing.TB) string {
	return testnet.BuildStatic(t, "github.com/vigil-ha/vigil/cmd/vigild", "-ldflags=-s -w")
}

// secs formats an interval as keepalived.conf writes it ("1", "0.1", "0.01").
func secs(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) }

// pairConf is the failover lab's configuration for one router: an IPv4 and
// an IPv6 instance sharing VRID 51.
func pairConf(state string, prio int, adv time.Duration) string {
	var b strings.Builder
	b.WriteString(globalDefs)
	for _, in := range []struct{ name, vip string }{{"VI_4", harness.VIP4 + "/24"}, {"VI_6", harness.VIP6 + "/64"}} {
		fmt.Fprintf(&b, instanceFmt, in.name, state, vrid, prio, secs(adv), in.vip)
	}
	return b.String()
}

// loadConf is the load lab's configuration: n IPv4 instances, VRIDs 1..n,
// VIPs loadVIP(1..n) (n ≤ maxLoadInstances).
func loadConf(state string, prio, n int, adv time.Duration) string {
	var b strings.Builder
	b.WriteString(globalDefs)
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, instanceFmt, fmt.Sprintf("VI_%d", i), state, i, prio, secs(adv), loadVIP(i).String()+"/24")
	}
	return b.String()
}

// maxLoadInstances is the most instances a load lab runs: every VRID.
const maxLoadInstances = 255

// loadVIP is instance i's address: 192.0.2.151..200 for the first 50, then
// 198.51.100.1..205.
func loadVIP(i int) netip.Addr {
	if i <= 50 {
		return netip.AddrFrom4([4]byte{192, 0, 2, byte(150 + i)})
	}
	return netip.AddrFrom4([4]byte{198, 51, 100, byte(i - 50)})
}

// withGlobal is im with lines added to every configuration's global_defs
// it starts with.
func withGlobal(im impl, lines []string) impl {
	if len(lines) == 0 || im.floor {
		return im
	}
	start := im.start
	extra := "    " + strings.Join(lines, "\n    ") + "\n"
	im.start = func(t testing.TB, h *testnet.Host, conf string) *testnet.Proc {
		return start(t, h, strings.Replace(conf, "global_defs {\n", "global_defs {\n"+extra, 1))
	}
	return im
}

const globalDefs = `global_defs {
    router_id bench
    vrrp_version 3
    vrrp_garp_master_delay 1
    vrrp_garp_master_repeat 1
}
`

const instanceFmt = `vrrp_instance %s {
    state %s
    interface eth0
    virtual_router_id %d
    priority %d
    advert_int %s
    virtual_ipaddress {
        %s
    }
}
`

// addrs returns the addresses on h's eth0.
func addrs(h *testnet.Host) (map[netip.Addr]bool, error) {
	out, err := h.Command(context.Background(), "ip", "-o", "addr", "show", "dev", "eth0").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("ip addr show in %s: %v: %s", h.Name(), err, out)
	}
	m := map[netip.Addr]bool{}
	for _, s := range addrRE.FindAllStringSubmatch(string(out), -1) {
		if a, err := netip.ParseAddr(s[1]); err == nil {
			m[a] = true
		}
	}
	return m, nil
}

var addrRE = regexp.MustCompile(`inet6? ([0-9a-f.:]+)/`)

// addrEvent is one address added to (or removed from) r2, stamped when the
// netlink notification was read.
type addrEvent struct {
	at    time.Time
	addr  netip.Addr
	added bool
}

// addrWatch records address notifications from one namespace.
type addrWatch struct {
	mu sync.Mutex
	// mu guards the following fields.
	events []addrEvent
	err    error
}

// watchAddrs subscribes to address changes inside h's namespace until t's
// cleanup. A goroutine reads the notifications and stamps them.
func watchAddrs(t testing.TB, h *testnet.Host) *addrWatch {
	w := &addrWatch{}
	ch := make(chan netlink.AddrUpdate, 4096)
	done := make(chan struct{})
	ns := h.NsHandle()
	err := netlink.AddrSubscribeWithOptions(ch, done, netlink.AddrSubscribeOptions{
		Namespace:         &ns,
		ReceiveBufferSize: 1 << 20,
		ErrorCallback: func(err error) {
			w.mu.Lock()
			w.err = err
			w.mu.Unlock()
		},
	})
	if err != nil {
		t.Fatalf("failover-bench: address subscription in %s: %v", h.Name(), err)
	}
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for u := range ch {
			now := time.Now()
			a, ok := netip.AddrFromSlice(u.LinkAddress.IP)
			if !ok {
				continue
			}
			w.mu.Lock()
			w.events = append(w.events, addrEvent{at: now, addr: a.Unmap(), added: u.NewAddr})
			w.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		close(done)
		<-finished
	})
	return w
}

// firstAdd returns when addr was first added after since.
func (w *addrWatch) firstAdd(addr netip.Addr, since time.Time) (time.Time, bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, e := range w.events {
		if e.added && e.addr == addr && e.at.After(since) {
			return e.at, true, nil
		}
	}
	return time.Time{}, false, w.err
}
