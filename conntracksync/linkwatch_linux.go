package conntracksync

import (
	"context"
	"fmt"
	"slices"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// WatchLinks is the LinkWatcher of a real system: rtnetlink's link
// group in netnsPath ("" = ours), the existing links first. A link is up
// when it is administratively up and has carrier (IFF_UP and
// IFF_RUNNING, conntrackd's test); a link that is deleted is down.
func WatchLinks(ctx context.Context, netnsPath string, ifaces []string, report func(name string, up bool)) error {
	var ns *netns.NsHandle
	if netnsPath != "" {
		h, err := netns.GetFromPath(netnsPath)
		if err != nil {
			return fmt.Errorf("conntracksync: link watcher: netns %s: %w", netnsPath, err)
		}
		defer h.Close()
		ns = &h
	}
	ch := make(chan netlink.LinkUpdate, 64)
	done := make(chan struct{})
	errs := make(chan error, 1)
	onErr := func(err error) {
		select {
		case errs <- err:
		default:
		}
	}
	if err := netlink.LinkSubscribeWithOptions(ch, done, netlink.LinkSubscribeOptions{Namespace: ns, ListExisting: true, ErrorCallback: onErr}); err != nil {
		return fmt.Errorf("conntracksync: link watcher: %w", err)
	}
	defer func() {
		close(done)
		for range ch {
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-errs:
			return fmt.Errorf("conntracksync: link watcher: %w", err)
		case u, ok := <-ch:
			if !ok {
				return fmt.Errorf("conntracksync: link watcher: subscription ended")
			}
			name := u.Attrs().Name
			if !slices.Contains(ifaces, name) {
				continue
			}
			const want = unix.IFF_UP | unix.IFF_RUNNING
			up := u.Header.Type != unix.RTM_DELLINK && u.IfInfomsg.Flags&want == want
			report(name, up)
		}
	}
}
