package testnet

import (
	"fmt"
	"net/netip"
	"runtime"

	"github.com/vishvananda/netns"
)

// Do runs fn on a locked OS thread switched into the host's namespace and
// returns its error. Sockets and netlink handles fn creates stay in the
// namespace after it returns; goroutines fn starts run in the caller's
// namespace, not the host's. Safe for concurrent use.
func (h *Host) Do(fn func() error) error {
	type result struct{ err error }
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{fmt.Errorf("testnet: %s: current namespace: %w", h.ns, err)}
			return
		}
		defer orig.Close()
		if err := netns.Set(h.handle); err != nil {
			runtime.UnlockOSThread()
			done <- result{fmt.Errorf("testnet: %s: enter namespace: %w", h.ns, err)}
			return
		}
		var ferr error
		func() {
			defer func() {
				if r := recover(); r != nil {
					ferr = fmt.Errorf("testnet: %s: Do: panic: %v", h.ns, r)
				}
			}()
			ferr = fn()
		}()
		// Only a thread that is back in its original namespace may go back
		// to the scheduler; otherwise it stays locked and dies with this
		// goroutine.
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
		done <- result{ferr}
	}()
	return (<-done).err
}

func parsePrefix(cidr string) (netip.Prefix, error) {
	return netip.ParsePrefix(cidr)
}
