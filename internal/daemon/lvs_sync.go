package daemon

import (
	"context"
	"time"

	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/ipvs"
	"github.com/vigil-ha/vigil/vrrp"
)

// The kernel's IPVS connection sync daemon (lvs_sync_daemon), run as
// keepalived runs it: bound to a VRRP instance, the backup daemon runs
// from the start and the master one replaces it while the instance is
// MASTER; without an instance, both run from the start. Both stop at
// shutdown. The calls go through the IPVS worker, in order.

// syncDaemonOf is the kernel's description of sd in state st.
func syncDaemonOf(sd *config.LVSSyncDaemon, st ipvs.SyncState) ipvs.SyncDaemon {
	return ipvs.SyncDaemon{State: st, Iface: sd.Interface, SyncID: uint32(sd.SyncID), MaxLen: uint16(sd.MaxLen),
		Group: sd.Group, Port: uint16(sd.Port), TTL: uint8(sd.TTL)}
}

// startSync starts the sync daemons cfg asks for at start.
func (l *lvs) startSync(cfg *config.Config) {
	sd := cfg.Global.LVSSyncDaemon
	if sd == nil || l.work == nil {
		return
	}
	switch {
	case sd.Instance == "" && l.d.opts.Mode != ModeVRRP:
		// Left over from an earlier run: stopped first, errors ignored.
		l.syncStop(ipvs.SyncMaster, true)
		l.syncStop(ipvs.SyncBackup, true)
		l.syncStart(sd, ipvs.SyncMaster)
		l.syncStart(sd, ipvs.SyncBackup)
	case sd.Instance != "" && l.d.opts.Mode != ModeCheck:
		l.syncStart(sd, ipvs.SyncBackup)
	}
}

// syncTo switches an instance-bound sync daemon to state st.
func (l *lvs) syncTo(sd *config.LVSSyncDaemon, st ipvs.SyncState) {
	if l.work == nil {
		return
	}
	other := ipvs.SyncBackup
	if st == ipvs.SyncBackup {
		other = ipvs.SyncMaster
	}
	if l.syncd[other] {
		l.syncStop(other, false)
	}
	if !l.syncd[st] {
		l.syncStart(sd, st)
	}
}

// reloadSync restarts the sync daemons when lvs_sync_daemon changed.
func (l *lvs) reloadSync(cfg *config.Config) {
	old := l.syncCfg
	now := cfg.Global.LVSSyncDaemon
	if (old == nil && now == nil) || (old != nil && now != nil && sameSync(*old, *now)) {
		return
	}
	l.stopSync()
	l.startSync(cfg)
	if now != nil && now.Instance != "" {
		for _, inst := range l.d.instances {
			if inst.cfg.Name == now.Instance && inst.m.State() == vrrp.StateMaster {
				l.syncTo(now, ipvs.SyncMaster)
			}
		}
	}
}

func sameSync(a, b config.LVSSyncDaemon) bool {
	a.Pos, b.Pos = config.Pos{}, config.Pos{}
	return a == b
}

// stopSync stops every sync daemon vigild started.
func (l *lvs) stopSync() {
	for _, st := range []ipvs.SyncState{ipvs.SyncMaster, ipvs.SyncBackup} {
		if l.syncd[st] {
			l.syncStop(st, false)
		}
	}
	l.syncCfg = nil
}

func (l *lvs) syncStart(sd *config.LVSSyncDaemon, st ipvs.SyncState) {
	l.syncd[st] = true
	l.syncCfg = sd
	d := syncDaemonOf(sd, st)
	l.work.do(func(context.Context) func(time.Time) {
		err := l.kern.StartSyncDaemon(d)
		return func(time.Time) {
			if err != nil {
				l.syncd[st] = false
				l.log.Error("IPVS: cannot start the sync daemon", "state", st.String(), "interface", d.Iface, "err", err)
				return
			}
			l.log.Info("IPVS: started the "+st.String()+" sync daemon", "interface", d.Iface, "syncid", d.SyncID)
		}
	})
}

func (l *lvs) syncStop(st ipvs.SyncState, quiet bool) {
	l.syncd[st] = false
	l.work.do(func(context.Context) func(time.Time) {
		err := l.kern.StopSyncDaemon(st)
		return func(time.Time) {
			if err != nil && !quiet {
				l.log.Warn("IPVS: cannot stop the sync daemon", "state", st.String(), "err", err)
			}
		}
	})
}
