package daemon

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/notify"
	"github.com/vigil-ha/vigil/notify/mail"
	"github.com/vigil-ha/vigil/vrrp"
)

// notifyFlushTimeout bounds how long shutdown waits for notify_stop
// scripts.
const notifyFlushTimeout = 5 * time.Second

// newNotifier opens the notify FIFOs and builds the notifier.
func newNotifier(d *Daemon, cfg *config.Config) (*notify.Notifier, fifoSet, error) {
	fifos, err := d.openFIFOs(cfg)
	if err != nil {
		return nil, fifoSet{}, err
	}
	return notify.New(notify.Config{Log: d.log, FIFOs: fifos.vrrp}), fifos, nil
}

// fifoSet is the open notify FIFOs and who writes to which: as in
// keepalived, notify_fifo gets every line, vrrp_notify_fifo the VRRP
// ones, lvs_notify_fifo the checkers' VS and RS lines.
type fifoSet struct {
	all  []*notify.FIFO
	vrrp []notify.LineWriter
	lvs  []notify.LineWriter
}

func (fs fifoSet) close() {
	for _, f := range fs.all {
		f.Close()
	}
}

// openFIFOs opens cfg's notify_fifo, vrrp_notify_fifo and
// lvs_notify_fifo, with their scripts; on error none stays open.
func (d *Daemon) openFIFOs(cfg *config.Config) (fifoSet, error) {
	var fs fifoSet
	var errs []error
	g := &cfg.Global
	for _, x := range []struct {
		fifo, script *config.Command
		vrrp, lvs    bool
	}{
		{g.NotifyFIFO, g.NotifyFIFOScript, true, true},
		{g.VRRPNotifyFIFO, g.VRRPNotifyFIFOScript, true, false},
		{g.LVSNotifyFIFO, g.LVSNotifyFIFOScript, false, true},
	} {
		fc, sc := x.fifo, x.script
		if fc == nil || len(fc.Argv) == 0 {
			continue
		}
		fcfg := notify.FIFOConfig{Path: fc.Argv[0], Log: d.log, Script: d.notifyCommand(sc)}
		if fc.User != "" {
			uid, gid, err := check.LookupCredential(fc.User, fc.Group)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: notify_fifo: %w", fc.Pos, err))
				continue
			}
			fcfg.Chown, fcfg.UID, fcfg.GID = true, uid, gid
		}
		f, err := notify.OpenFIFO(fcfg)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: notify_fifo %s: %w", fc.Pos, fc.Argv[0], err))
			continue
		}
		fs.all = append(fs.all, f)
		if x.vrrp {
			fs.vrrp = append(fs.vrrp, f)
		}
		if x.lvs {
			fs.lvs = append(fs.lvs, f)
		}
	}
	if err := errors.Join(errs...); err != nil {
		fs.close()
		return fifoSet{}, err
	}
	return fs, nil
}

// notifyCommand resolves a configured script's credentials (its own user,
// else script_user, else keepalived_script or root).
func (d *Daemon) notifyCommand(c *config.Command) *notify.Command {
	if c == nil || len(c.Argv) == 0 {
		return nil
	}
	user, group := c.User, c.Group
	if user == "" {
		user, group = d.cfg.Global.ScriptUser, d.cfg.Global.ScriptGroup
	}
	uid, gid, err := check.LookupCredential(user, group)
	if err != nil {
		// The script was meant to run as someone else and was judged safe
		// for that user: running it as root instead could hand root to
		// whoever may change it. keepalived disables it too.
		d.log.Error(fmt.Sprintf("%s: script %s: %v; script disabled", c.Pos, c.Argv[0], err))
		return nil
	}
	return &notify.Command{Argv: c.Argv, Credential: uid != 0 || gid != 0, UID: uid, GID: gid,
		AllowUnsafe: !d.cfg.Global.EnableScriptSecurity}
}

func (d *Daemon) notifyScripts(n config.Notify) notify.Scripts {
	return notify.Scripts{
		Master:           d.notifyCommand(n.Master),
		Backup:           d.notifyCommand(n.Backup),
		Fault:            d.notifyCommand(n.Fault),
		Stop:             d.notifyCommand(n.Stop),
		Deleted:          d.notifyCommand(n.Deleted),
		MasterRxLowerPri: d.notifyCommand(n.MasterRxLowerPri),
		Generic:          d.notifyCommand(n.Any),
	}
}

// notifyState is keepalived's word for a state in notify calls; "" for
// INIT, which keepalived reports only as STOP on shutdown.
func notifyState(s vrrp.State) string {
	switch s {
	case vrrp.StateMaster:
		return notify.StateMaster
	case vrrp.StateBackup:
		return notify.StateBackup
	case vrrp.StateFault:
		return notify.StateFault
	}
	return ""
}

// notifyInstance tells the scripts and FIFOs about an instance's new state.
func (d *Daemon) notifyInstance(inst *instance, state string, reason string, now time.Time) {
	if state == "" {
		return
	}
	if state == notify.StateFault && d.trk != nil && d.trk.held[inst.cfg.Name] {
		return // evaluate tells it once the script has reported
	}
	if d.notifier == nil {
		d.mailAlert(mail.KindInstance, inst.cfg.Name, inst.cfg.SMTPAlert, mailState(state))
		return
	}
	d.groupStarting(inst, state, reason, now)
	d.mailAlert(mail.KindInstance, inst.cfg.Name, inst.cfg.SMTPAlert, mailState(state))
	d.notifier.Notify(notify.Event{
		Kind: notify.KindInstance, Name: inst.cfg.Name, State: state,
		Priority: int(inst.m.Priority()), Reason: reason, Time: now,
	}, inst.scripts)
}

// notifyPriority writes keepalived's MASTER_PRIORITY / BACKUP_PRIORITY
// FIFO line when the instance asked for priority-change notices
// (notify_priority_changes, or vrrp_notify_priority_changes globally).
func (d *Daemon) notifyPriority(inst *instance, reason string, now time.Time) {
	if !inst.cfg.Notify.PriorityChanges {
		return
	}
	switch inst.m.State() {
	case vrrp.StateMaster:
		d.notifyInstance(inst, notify.StateMasterPriority, reason, now)
	case vrrp.StateBackup:
		d.notifyInstance(inst, notify.StateBackupPriority, reason, now)
	}
}

// closeNotifier lets queued scripts (notify_stop) finish, then stops.
func (d *Daemon) closeNotifier() {
	if d.notifier == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), notifyFlushTimeout)
	defer cancel()
	if err := d.notifier.Flush(ctx); err != nil {
		d.log.Warn("notify scripts still running at shutdown were stopped", "err", err)
	}
	d.notifier.Close()
	d.fifos.close()
	d.fifos = fifoSet{}
	d.notifier = nil
}
