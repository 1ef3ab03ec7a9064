package vip

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// EnsureVMAC makes sure the macvlan v exists on its parent, in private mode
// (as keepalived creates them), with the virtual router MAC, and is up. A
// matching interface is left as it is (only brought up if it is down), so
// calling it again changes nothing. An interface with that name that is
// not such a macvlan is ErrConflict and is not touched; a missing parent is
// ErrNoDevice. It returns the interface index. The kernel generates no
// link-local address on a VMAC it creates; v.LinkLocal, if set, is added.
// The sysctls keepalived sets with a VMAC (VMAC.Sysctls) are the caller's
// job.
func (m *Manager) EnsureVMAC(ctx context.Context, v VMAC) (int, error) {
	idx, err := m.ensureVMAC(ctx, v)
	if err != nil {
		m.stats.errors.Add(1)
		return 0, fmt.Errorf("vip: vmac %s on %s: %w", v.Name, v.Parent, err)
	}
	return idx, nil
}

func (m *Manager) ensureVMAC(ctx context.Context, v VMAC) (int, error) {
	if err := v.Validate(); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	h, err := m.handle()
	if err != nil {
		return 0, err
	}
	c := newLinkCache(h)
	parent, err := c.link(v.Parent)
	if err != nil {
		return 0, err
	}
	existing, err := h.LinkByName(v.Name)
	var nf netlink.LinkNotFoundError
	switch {
	case errors.As(err, &nf):
		mv := &netlink.Macvlan{
			LinkAttrs: netlink.LinkAttrs{
				Name:         v.Name,
				ParentIndex:  parent.Attrs().Index,
				HardwareAddr: v.MAC(),
			},
			Mode: netlink.MACVLAN_MODE_PRIVATE,
		}
		if err := h.LinkAdd(mv); err != nil {
			return 0, err
		}
		l, err := h.LinkByName(v.Name)
		if err != nil {
			return 0, err
		}
		// Before the link is up, or the kernel has already added its
		// EUI-64 link-local address. A kernel without IPv6 refuses it;
		// then there is no address to avoid either.
		if err := h.LinkSetIP6AddrGenMode(l, in6AddrGenModeNone); err != nil {
			m.log.Debug("vip: VMAC address generation mode not set", "iface", v.Name, "err", err)
		}
		if err := h.LinkSetUp(l); err != nil {
			return 0, err
		}
		if err := addLinkLocal(h, l, v.LinkLocal); err != nil {
			return 0, err
		}
		m.log.Info("vip: created VMAC", "iface", v.Name, "parent", v.Parent, "mac", v.MAC().String())
		return l.Attrs().Index, nil
	case err != nil:
		return 0, err
	}
	mv, ok := existing.(*netlink.Macvlan)
	if !ok || mv.Attrs().ParentIndex != parent.Attrs().Index || !bytes.Equal(mv.Attrs().HardwareAddr, v.MAC()) {
		return 0, fmt.Errorf("%w: interface %s exists (%s, mac %s) and is not macvlan of %s with %s",
			ErrConflict, v.Name, existing.Type(), existing.Attrs().HardwareAddr, v.Parent, v.MAC())
	}
	if existing.Attrs().Flags&net.FlagUp == 0 {
		if err := h.LinkSetUp(existing); err != nil {
			return 0, err
		}
	}
	if err := addLinkLocal(h, existing, v.LinkLocal); err != nil {
		return 0, err
	}
	return existing.Attrs().Index, nil
}

// in6AddrGenModeNone is the kernel's IN6_ADDR_GEN_MODE_NONE: no automatic
// IPv6 link-local address on the link.
const in6AddrGenModeNone = 1

// addLinkLocal puts ll (if valid) on l as a /64 without duplicate address
// detection, unless it is there already.
func addLinkLocal(h *netlink.Handle, l netlink.Link, ll netip.Addr) error {
	if !ll.IsValid() {
		return nil
	}
	have, err := h.AddrList(l, netlink.FAMILY_V6)
	if err != nil {
		return err
	}
	for _, a := range have {
		if ip, ok := netip.AddrFromSlice(a.IP); ok && ip.Unmap() == ll {
			return nil
		}
	}
	return h.AddrAdd(l, &netlink.Addr{
		IPNet: &net.IPNet{IP: ll.AsSlice(), Mask: net.CIDRMask(64, 128)},
		Flags: unix.IFA_F_NODAD,
	})
}

// RemoveVMAC deletes the macvlan named name if it is one (a macvlan with a
// VRRP virtual router MAC). Absent is not an error; any other interface is
// ErrConflict and is not touched.
func (m *Manager) RemoveVMAC(ctx context.Context, name string) error {
	if err := m.removeVMAC(ctx, name); err != nil {
		m.stats.errors.Add(1)
		return fmt.Errorf("vip: remove vmac %s: %w", name, err)
	}
	return nil
}

func (m *Manager) removeVMAC(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	h, err := m.handle()
	if err != nil {
		return err
	}
	l, err := h.LinkByName(name)
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, ok := l.(*netlink.Macvlan); !ok || !isVirtualRouterMAC(l.Attrs().HardwareAddr) {
		return fmt.Errorf("%w: %s is a %s with mac %s, not a VMAC", ErrConflict, name, l.Type(), l.Attrs().HardwareAddr)
	}
	if err := h.LinkDel(l); err != nil {
		return err
	}
	m.log.Info("vip: removed VMAC", "iface", name)
	return nil
}
