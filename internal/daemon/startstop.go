package daemon

import (
	"context"
	"fmt"
	"time"

	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/config"
)

// runStartStop runs global_defs' startup_script (before VRRP starts) or
// shutdown_script (after everything has stopped) to completion, as
// keepalived's parent does: with the script's user (else script_user, else
// keepalived_script or root), under script security, in its own process
// group, and killed at its timeout (SIGTERM, then SIGKILL after the grace).
// A failure is logged; the daemon carries on starting or stopping.
func (d *Daemon) runStartStop(kind string, c *config.Command, timeout time.Duration) {
	nc := d.notifyCommand(c)
	if nc == nil {
		return
	}
	d.log.Info(fmt.Sprintf("Running %s script %s", kind, c.Argv[0]))
	res := check.Exec(context.Background(), check.Script{
		Name: kind + "_script", Argv: nc.Argv,
		Credential: nc.Credential, UID: nc.UID, GID: nc.GID,
		AllowUnsafe: nc.AllowUnsafe, Timeout: timeout,
	}, nil)
	if !res.OK() {
		d.log.Warn(fmt.Sprintf("%s script %s", kind, res), "script", c.Argv[0])
	}
}
