package ipvs

import (
	"fmt"
	"net/netip"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
)

// Generic netlink numbers of the IPVS sync daemon (linux/ip_vs.h).
const (
	cmdNewDaemon = 9  // IPVS_CMD_NEW_DAEMON
	cmdDelDaemon = 10 // IPVS_CMD_DEL_DAEMON
	cmdGetDaemon = 11 // IPVS_CMD_GET_DAEMON

	attrDaemon = 3 // IPVS_CMD_ATTR_DAEMON (nested)

	daemonState       = 1 // u32: SyncMaster / SyncBackup
	daemonIfname      = 2 // string
	daemonSyncID      = 3 // u32
	daemonSyncMaxLen  = 4 // u16
	daemonMcastGroup  = 5 // IPv4 address, network order
	daemonMcastGroup6 = 6 // 16 bytes
	daemonMcastPort   = 7 // u16, host order
	daemonMcastTTL    = 8 // u8
)

func (k *Kernel) daemonCmd(cmd uint8, ae *netlink.AttributeEncoder, flags netlink.HeaderFlags) ([]genetlink.Message, error) {
	var data []byte
	if ae != nil {
		var err error
		if data, err = ae.Encode(); err != nil {
			return nil, err
		}
	}
	return k.conn.Execute(genetlink.Message{Header: genetlink.Header{Command: cmd, Version: genlVersion}, Data: data}, k.family.ID, flags)
}

// StartSyncDaemon starts a sync daemon in the given role.
func (k *Kernel) StartSyncDaemon(d SyncDaemon) error {
	if len(d.Iface) == 0 || len(d.Iface) > 15 {
		return fmt.Errorf("ipvs: sync daemon: interface name %q must have 1..15 bytes", d.Iface)
	}
	ae := netlink.NewAttributeEncoder()
	ae.Nested(attrDaemon, func(nae *netlink.AttributeEncoder) error {
		nae.Uint32(daemonState, uint32(d.State))
		nae.String(daemonIfname, d.Iface)
		nae.Uint32(daemonSyncID, d.SyncID)
		if d.MaxLen != 0 {
			nae.Uint16(daemonSyncMaxLen, d.MaxLen)
		}
		switch {
		case d.Group.Is4():
			b := d.Group.As4()
			nae.Bytes(daemonMcastGroup, b[:])
		case d.Group.Is6():
			b := d.Group.As16()
			nae.Bytes(daemonMcastGroup6, b[:])
		}
		if d.Port != 0 {
			nae.Uint16(daemonMcastPort, d.Port)
		}
		if d.TTL != 0 {
			nae.Uint8(daemonMcastTTL, d.TTL)
		}
		return nil
	})
	if _, err := k.daemonCmd(cmdNewDaemon, ae, netlink.Request|netlink.Acknowledge); err != nil {
		return fmt.Errorf("ipvs: starting the %s sync daemon on %s: %w", d.State, d.Iface, err)
	}
	return nil
}

// StopSyncDaemon stops the sync daemon of the given role.
func (k *Kernel) StopSyncDaemon(s SyncState) error {
	ae := netlink.NewAttributeEncoder()
	ae.Nested(attrDaemon, func(nae *netlink.AttributeEncoder) error {
		nae.Uint32(daemonState, uint32(s))
		return nil
	})
	if _, err := k.daemonCmd(cmdDelDaemon, ae, netlink.Request|netlink.Acknowledge); err != nil {
		return fmt.Errorf("ipvs: stopping the %s sync daemon: %w", s, err)
	}
	return nil
}

// SyncDaemons lists the running sync daemons.
func (k *Kernel) SyncDaemons() ([]SyncDaemon, error) {
	msgs, err := k.daemonCmd(cmdGetDaemon, nil, netlink.Request|netlink.Dump)
	if err != nil {
		return nil, fmt.Errorf("ipvs: listing sync daemons: %w", err)
	}
	var out []SyncDaemon
	for _, m := range msgs {
		ad, err := netlink.NewAttributeDecoder(m.Data)
		if err != nil {
			return nil, err
		}
		for ad.Next() {
			if ad.Type() != attrDaemon {
				continue
			}
			var d SyncDaemon
			ad.Nested(func(nad *netlink.AttributeDecoder) error {
				for nad.Next() {
					switch nad.Type() {
					case daemonState:
						d.State = SyncState(nad.Uint32())
					case daemonIfname:
						d.Iface = nad.String()
					case daemonSyncID:
						d.SyncID = nad.Uint32()
					case daemonSyncMaxLen:
						d.MaxLen = nad.Uint16()
					case daemonMcastGroup:
						if b := nad.Bytes(); len(b) == 4 {
							d.Group = netip.AddrFrom4([4]byte(b))
						}
					case daemonMcastGroup6:
						if b := nad.Bytes(); len(b) == 16 {
							d.Group = netip.AddrFrom16([16]byte(b))
						}
					case daemonMcastPort:
						d.Port = nad.Uint16()
					case daemonMcastTTL:
						d.TTL = nad.Uint8()
					}
				}
				return nil
			})
			out = append(out, d)
		}
		if err := ad.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}
