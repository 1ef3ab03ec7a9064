package conntracksync_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	ct "github.com/vigil-ha/vigil/conntracksync"
	"github.com/vigil-ha/vigil/conntracksync/internal/cttest"
	"github.com/vigil-ha/vigil/testnet"
)

// sampleTimeouts reads the kernel table of ns with `conntrack -L` and
// returns the timeout of each connection of SampleFlows (source 192.0.2.x
// or 2001:db8:1::x), by its conntrack -L line.
func sampleTimeouts(t *testing.T, ns cttest.NS) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, fam := range []string{"ipv4", "ipv6"} {
		for line := range strings.Lines(ns.Output(t, "conntrack", "-L", "-f", fam)) {
			f := strings.Fields(line)
			src := ""
			for _, w := range f {
				if strings.HasPrefix(w, "src=") {
					src = w
					break
				}
			}
			if len(f) < 3 || !(strings.HasPrefix(src, "src=192.0.2.") || strings.HasPrefix(src, "src=2001:db8:1::")) {
				continue
			}
			n, err := strconv.Atoi(f[2])
			if err != nil {
				t.Fatalf("conntrack -L: no timeout in %q", line)
			}
			out[strings.TrimSpace(line)] = n
		}
	}
	return out
}

// TestPurgeTimeoutOnLeavingMaster: with PurgeTimeout 20, the old master
// of a pair, once it leaves MASTER, has every connection of its table —
// its own, and those it committed from the peer at its takeover — at a
// timeout of at most 20 s in the kernel (read with conntrack -L), where
// they had up to 1099 s before.
func TestPurgeTimeoutOnLeavingMaster(t *testing.T) {
	cttest.NeedRoot(t, "conntrack", "nft")
	h1, h2, ip1, ip2 := pairLab(t, "pg1", "pg2")

	flows := ct.SampleFlows(300)
	commitInto(t, "/run/netns/"+h1.Name(), flows[:200]) // fw1's own
	commitInto(t, "/run/netns/"+h2.Name(), flows[200:]) // fw2's: fw1 commits them at its takeover
	fw1 := startSyncNodeWith(t, h1, ip1, ip2, ct.Config{PurgeTimeout: 20 * time.Second})
	startNode(t, h2, ip2, ip1)
	testnet.Eventually(t, 30*time.Second, func() bool { return fw1.r.Stats().External == 100 },
		"fw1's external cache: %v", cttest.Lazy(func() string { return fmt.Sprintf("%+v", fw1.r.Stats()) }))

	f := ct.NewFailover(cttest.Logger(t), fw1.r, "FW", time.Second)
	defer f.Close()
	f.Takeover("VI_1", time.Now())
	ns := cttest.NS{Name: h1.Name()}
	long := func(m map[string]int) int {
		n := 0
		for _, v := range m {
			if v > 20 {
				n++
			}
		}
		return n
	}
	before := sampleTimeouts(t, ns)
	if len(before) != 300 || long(before) < 250 {
		t.Fatalf("fw1's kernel as master: %d connections, %d with a timeout above 20 s", len(before), long(before))
	}
	testnet.Eventually(t, 10*time.Second, func() bool { return fw1.r.Stats().Internal == 300 },
		"fw1's internal cache after the commit: %v", cttest.Lazy(func() string { return fmt.Sprintf("%+v", fw1.r.Stats()) }))

	f.Left("VI_1", "BACKUP", false)
	var after map[string]int
	testnet.Eventually(t, 20*time.Second, func() bool {
		after = sampleTimeouts(t, ns)
		return len(after) == 300 && long(after) == 0
	}, "fw1's kernel after leaving MASTER: %v", cttest.Lazy(func() string {
		return fmt.Sprintf("%d connections, %d above 20 s", len(after), long(after))
	}))
}
