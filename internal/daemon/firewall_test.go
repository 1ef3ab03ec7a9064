package daemon

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/vip/viptest"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// fwRecorder is the nftables twin: it records each script with whether the
// VIP 192.0.2.254 was on its kernel when the script was committed.
type fwRecorder struct {
	mu      sync.Mutex
	kernel  *viptest.Kernel
	scripts []fwScript
	fail    int // the next fail scripts are refused (and not recorded)
}

type fwScript struct {
	text   string
	vipWas bool     // 192.0.2.254 was on the kernel
	addrs  []string // every address on the kernel
}

func (r *fwRecorder) Apply(_ context.Context, script string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail > 0 {
		r.fail--
		return errors.New("nft: refused")
	}
	var addrs []string
	if r.kernel != nil {
		for _, a := range r.kernel.Addresses() {
			addrs = append(addrs, a.Prefix.String())
		}
	}
	r.scripts = append(r.scripts, fwScript{script, slices.Contains(addrs, "192.0.2.254/24"), addrs})
	return nil
}

func (r *fwRecorder) got() []fwScript {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.scripts)
}

// kinds names each recorded script: create, sync+ (an element), sync-
// (empty sets), delete.
func kinds(s []fwScript) []string {
	var out []string
	for _, x := range s {
		switch {
		case strings.Contains(x.text, "chain in"):
			out = append(out, "create")
		case strings.HasPrefix(x.text, "flush set") && strings.Contains(x.text, "add element inet vigil vips4 { 192.0.2.254 }"):
			out = append(out, "sync+")
		case strings.HasPrefix(x.text, "flush set") && !strings.Contains(x.text, "add element"):
			out = append(out, "sync-")
		case strings.Contains(x.text, "delete table inet vigil"):
			out = append(out, "delete")
		default:
			out = append(out, "?"+x.text)
		}
	}
	return out
}

// TestLoopNoAccept: a non-owner master with no_accept puts its VIP in the
// drop set before it adds the address and takes it out after removing it;
// the table is made fresh at start and deleted at stop. With accept mode,
// or as the address owner, nothing is blocked and a leftover table is
// removed.
func TestLoopNoAccept(t *testing.T) {
	for _, c := range []struct {
		name, prio, extra string
		want              []string
	}{
		{"no_accept", "100", "no_accept", []string{"create", "sync+", "sync-", "delete"}},
		{"strict default", "100", "strict_mode", []string{"create", "sync+", "sync-", "delete"}},
		{"accept", "100", "accept", []string{"delete"}},
		{"owner", "255", "no_accept", []string{"delete"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				wire := vrrptest.NewWire(vrrptest.WireOptions{})
				conf := strings.Replace(prio(pairConf, c.prio), "advert_int 1", "advert_int 1\n    "+c.extra, 1)
				n := newNode(t, wire, viptest.NewKernel("eth0", "eth1"), "192.0.2.1", "fe80::1", conf, Options{})
				n.fw.kernel = n.kernel
				n.start(t)
				time.Sleep(5 * time.Second)
				synctest.Wait()
				if n.state("VI_1") != "MASTER" || !n.has("192.0.2.254/24") {
					t.Fatalf("not master with the VIP: %s", n.state("VI_1"))
				}
				n.stop()
				got := n.fw.got()
				if k := kinds(got); !slices.Equal(k, c.want) {
					t.Fatalf("scripts %q, want %q", k, c.want)
				}
				for _, s := range got {
					if s.vipWas {
						t.Errorf("script committed while the VIP was on the host (block after add, or unblock before remove):\n%s", s.text)
					}
				}
			})
		})
	}
}

// TestLoopNoAcceptReloadAndFailure: a reload that adds a VIP to a blocked
// master refills the set with both; a table that could not be created at
// start is created when the first master needs it, and the failure is
// counted.
func TestLoopNoAcceptReloadAndFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		conf := strings.Replace(prio(pairConf, "100"), "advert_int 1", "advert_int 1\n    no_accept", 1)
		n := newNode(t, wire, viptest.NewKernel("eth0", "eth1"), "192.0.2.1", "fe80::1", conf, Options{})
		n.fw.fail = 1 // the creation at start
		n.start(t)
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if n.state("VI_1") != "MASTER" {
			t.Fatalf("state %s", n.state("VI_1"))
		}
		got := n.fw.got()
		if k := kinds(got); !slices.Equal(k, []string{"create"}) || !strings.Contains(got[0].text, "add element inet vigil vips4 { 192.0.2.254 }") {
			t.Fatalf("after a failed creation, want it retried with the VIP: %q\n%v", k, got)
		}
		var errs uint64
		n.d.post(context.Background(), func(time.Time) { errs = n.d.fw.errors })
		synctest.Wait()
		if errs != 1 {
			t.Errorf("failures counted: %d, want 1", errs)
		}
		n.fw.kernel = n.kernel
		reloadNode(t, n, strings.Replace(conf, "192.0.2.254/24\n", "192.0.2.254/24\n        192.0.2.253/24\n", 1))
		if !n.has("192.0.2.253/24") {
			t.Fatal("the reload did not add the new VIP")
		}
		got = n.fw.got()
		last := got[len(got)-1]
		if !strings.Contains(last.text, "add element inet vigil vips4 { 192.0.2.253, 192.0.2.254 }") || slices.Contains(last.addrs, "192.0.2.253/24") {
			t.Errorf("after the reload, the last script (committed with %v on the host):\n%s", last.addrs, last.text)
		}
	})
}
