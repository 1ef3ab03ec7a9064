package daemon

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// TestLoopVRRPPriority: the daemon gives the process vrrp_priority's
// nice value when it starts and again at each reload that changes it, as
// keepalived does for its VRRP process; a reload that removes it asks for
// the value vigild started with (nil); an unchanged one asks nothing.
func TestLoopVRRPPriority(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var calls []string
		nice := func(n *int) error {
			mu.Lock()
			defer mu.Unlock()
			if n == nil {
				calls = append(calls, "reset")
			} else {
				calls = append(calls, fmt.Sprint(*n))
			}
			return nil
		}
		got := func() []string {
			mu.Lock()
			defer mu.Unlock()
			return slices.Clone(calls)
		}
		conf := func(global string) string { return global + prio(pairConf, "150") }
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		a := startNodeWith(t, wire, "192.0.2.1", "fe80::1", conf("global_defs {\n    vrrp_priority 5\n}\n"), Options{Host: Host{Nice: nice}})
		time.Sleep(time.Second)
		synctest.Wait()
		steps := []struct {
			global string
			want   []string
		}{
			{"global_defs {\n    vrrp_priority 5\n}\n", []string{"5"}},
			{"global_defs {\n    vrrp_priority -3\n}\n", []string{"5", "-3"}},
			{"global_defs {\n    vrrp_priority -3\n}\n", []string{"5", "-3"}},
			{"", []string{"5", "-3", "reset"}},
			{"", []string{"5", "-3", "reset"}},
		}
		for i, s := range steps {
			if i > 0 {
				reloadNode(t, a, conf(s.global))
			}
			if c := got(); !slices.Equal(c, s.want) {
				t.Fatalf("step %d (%q): nice calls %q, want %q", i, s.global, c, s.want)
			}
		}
		a.stop()
	})
}
