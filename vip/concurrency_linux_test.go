package vip_test

import (
	"fmt"
	"net/netip"
	"sync"
	"testing"

	"github.com/vigil-ha/vigil/vip"
)

// TestConcurrentUse: one Manager and one Announcer shared by goroutines
// (run with -race). Each goroutine adds, checks and removes its own
// addresses and announces them; at the end every address is gone and the
// counters add up.
func TestConcurrentUse(t *testing.T) {
	_, h, _, m := oneHost(t)
	ann := vip.NewAnnouncer(testLog(t))
	defer ann.Close()
	const workers, rounds = 4, 5
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds*4)
	for w := range workers {
		wg.Go(func() {
			as := []vip.Address{
				{Prefix: pfx(fmt.Sprintf("198.51.100.%d/32", 10+w)), Dev: "eth0"},
				{Prefix: pfx(fmt.Sprintf("2001:db8:%x::1/128", 0x10+w)), Dev: "eth0"},
			}
			ips := []netip.Addr{as[0].Prefix.Addr(), as[1].Prefix.Addr()}
			for range rounds {
				if err := m.AddAddresses(ctx(t), as); err != nil {
					errs <- err
				}
				if p, err := m.Present(ctx(t), as); err != nil || len(p) != 2 {
					errs <- fmt.Errorf("worker %d: present %v, %v", w, p, err)
				}
				if err := h.Do(func() error { return ann.Announce("eth0", ips, nil, false) }); err != nil {
					errs <- err
				}
				if err := m.RemoveAddresses(ctx(t), as); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if s := m.Stats(); s.AddrsAdded != workers*rounds*2 || s.AddrsRemoved != workers*rounds*2 || s.Errors != 0 {
		t.Errorf("Manager stats = %+v", s)
	}
	if s := ann.Stats(); s.GARPsSent != workers*rounds || s.NAsSent != workers*rounds || s.SendErrors != 0 {
		t.Errorf("Announcer stats = %+v", s)
	}
	for _, a := range kernelAddrs(t, h, "eth0") {
		if a.Local != "192.0.2.1" && a.Local != "2001:db8::1" && a.Scope != "link" {
			t.Errorf("left behind: %+v", a)
		}
	}
}
