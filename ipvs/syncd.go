package ipvs

import (
	"fmt"
	"net/netip"
)

// SyncState is the role of a sync daemon (IP_VS_STATE_MASTER/_BACKUP).
type SyncState uint32

// Sync daemon roles.
const (
	SyncMaster SyncState = 1
	SyncBackup SyncState = 2
)

// String returns "master" or "backup".
func (s SyncState) String() string {
	switch s {
	case SyncMaster:
		return "master"
	case SyncBackup:
		return "backup"
	}
	return fmt.Sprintf("SyncState(%d)", uint32(s))
}

// SyncDaemon is one kernel connection-sync daemon (lvs_sync_daemon). Zero
// MaxLen, Group, Port and TTL mean the kernel's defaults (port 8848, group
// 224.0.0.81 or ff02::8101... as the kernel chooses).
type SyncDaemon struct {
	State  SyncState
	Iface  string
	SyncID uint32 // 0..255
	MaxLen uint16
	Group  netip.Addr
	Port   uint16
	TTL    uint8
}
