package daemon

import (
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/vrrp"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// sentAdvert is one advert seen on the test wire.
type sentAdvert struct {
	at   time.Time
	src  netip.Addr
	dst  netip.Addr
	prio uint8
}

// capture records every advert a listener at addr receives (multicast,
// or unicast to addr) with its time, destination and priority.
func capture(t *testing.T, wire *vrrptest.Wire, addr string) func() []sentAdvert {
	t.Helper()
	c := wire.Conn(netip.MustParseAddr(addr))
	var mu sync.Mutex
	var seen []sentAdvert
	done := make(chan struct{})
	go func() {
		defer close(done)
		b := make([]byte, 1500)
		for {
			n, m, err := c.ReadFrom(b)
			if err != nil {
				return
			}
			var p vrrp.Packet
			if p.UnmarshalFamily(b[:n], m.Src.Is6()) != nil {
				continue
			}
			mu.Lock()
			seen = append(seen, sentAdvert{at: time.Now(), src: m.Src, dst: m.Dst, prio: p.Priority})
			mu.Unlock()
		}
	}()
	t.Cleanup(func() { c.Close(); <-done })
	return func() []sentAdvert {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen)
	}
}

// TestLoopHigherPrioSendAdvert: r1 (100) is master alone; a router of
// priority 200 speaks once at T. With higher_prio_send_advert r1 sends one
// advert of its own at priority 100 at T, then goes BACKUP and drops the
// VIP; without it r1 goes BACKUP silently (its next advert would have been
// due later).
func TestLoopHigherPrioSendAdvert(t *testing.T) {
	for _, on := range []bool{true, false} {
		name := "off"
		if on {
			name = "on"
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				wire := vrrptest.NewWire(vrrptest.WireOptions{})
				seen := capture(t, wire, "192.0.2.200")
				conf := prio(pairConf, "100")
				if on {
					conf = strings.Replace(conf, "    advert_int 1\n", "    advert_int 1\n    higher_prio_send_advert\n", 1)
				}
				start := time.Now()
				r1 := startNode(t, wire, "192.0.2.1", "fe80::1", conf)
				sleepUntil(start, 5*time.Second)
				if r1.state("VI_1") != "MASTER" {
					t.Fatalf("r1 %s, want MASTER", r1.state("VI_1"))
				}
				// Half-way between two of r1's adverts.
				peer := newScriptedPeer(wire, "192.0.2.9", 200, time.Second)
				peer.advertAt(t, start, 5*time.Second+time.Second/2)
				at := start.Add(5*time.Second + time.Second/2)
				if r1.state("VI_1") != "BACKUP" || r1.has("192.0.2.254/24") {
					t.Fatalf("after the higher-priority advert: r1 %s, VIP %v", r1.state("VI_1"), r1.has("192.0.2.254/24"))
				}
				var answers []sentAdvert
				for _, a := range seen() {
					if a.src == netip.MustParseAddr("192.0.2.1") && a.at.Equal(at) {
						answers = append(answers, a)
					}
				}
				want := 0
				if on {
					want = 1
				}
				if len(answers) != want {
					t.Fatalf("r1 sent %d adverts at T (%+v), want %d", len(answers), answers, want)
				}
				if on && answers[0].prio != 100 {
					t.Fatalf("answer at priority %d, want 100", answers[0].prio)
				}
			})
		})
	}
}
