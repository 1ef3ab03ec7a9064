package daemon

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

const unicastConf = `
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 1
    version 3
    unicast_src_ip 192.0.2.1
    unicast_peer {
        %PEERS%
    }
    virtual_ipaddress {
        192.0.2.254/24
    }
}
`

func peers(p ...string) string {
	return strings.Replace(unicastConf, "%PEERS%", strings.Join(p, "\n        "), 1)
}

// TestLoopReloadUnicastPeers: a unicast master's reload replaces its peer
// 192.0.2.2 by 192.0.2.3. It stays MASTER without a transition, sends no
// priority-0 advert to anyone, keeps its VIP on the host the whole time,
// and its next advert goes to the new peer and no longer to the old one.
func TestLoopReloadUnicastPeers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		old := capture(t, wire, "192.0.2.2")
		fresh := capture(t, wire, "192.0.2.3")
		a := startNode(t, wire, "192.0.2.1", "fe80::1", peers("192.0.2.2"))
		time.Sleep(10*time.Second + 300*time.Millisecond)
		synctest.Wait()
		if a.state("VI_1") != "MASTER" || !a.has("192.0.2.254/24") {
			t.Fatalf("set-up: %s", a.state("VI_1"))
		}
		if len(old()) == 0 || len(fresh()) != 0 {
			t.Fatalf("set-up: %d adverts to the old peer, %d to the new", len(old()), len(fresh()))
		}
		transitions := a.inst("VI_1").Transitions
		removes := a.kernel.Changes()
		at := time.Now()
		reloadNode(t, a, peers("192.0.2.3"))
		if st := a.inst("VI_1"); st.State != "MASTER" || st.Transitions != transitions {
			t.Fatalf("reload moved the master: %s, %d transitions (was %d)", st.State, st.Transitions, transitions)
		}
		if !a.has("192.0.2.254/24") || a.kernel.Changes() != removes {
			t.Fatalf("reload touched the VIP: held %v, %d kernel changes (was %d)", a.has("192.0.2.254/24"), a.kernel.Changes(), removes)
		}
		time.Sleep(3 * time.Second)
		synctest.Wait()
		for _, l := range [][]sentAdvert{old(), fresh()} {
			for _, x := range l {
				if x.prio == 0 {
					t.Fatalf("priority-0 advert at %v to %v", x.at.Sub(at), x.dst)
				}
			}
		}
		for _, x := range old() {
			if x.at.After(at) {
				t.Errorf("advert to the removed peer %v after the reload", x.at.Sub(at))
			}
		}
		if n := len(fresh()); n < 2 {
			t.Errorf("%d adverts to the new peer in 3 s", n)
		}
	})
}
