package daemon

import (
	"fmt"
	"reflect"

	"github.com/vigil-ha/vigil/config"
)

// fifoConfig is what the notify FIFOs are built from.
func fifoConfig(g *config.Global) [6]*config.Command {
	return [6]*config.Command{g.NotifyFIFO, g.NotifyFIFOScript, g.VRRPNotifyFIFO, g.VRRPNotifyFIFOScript,
		g.LVSNotifyFIFO, g.LVSNotifyFIFOScript}
}

// sameFIFOs reports whether two configurations' FIFOs are the same: path,
// owner and script (positions aside).
func sameFIFOs(a, b *config.Global) bool {
	ca, cb := fifoConfig(a), fifoConfig(b)
	for i := range ca {
		x, y := ca[i], cb[i]
		if (x == nil) != (y == nil) {
			return false
		}
		if x == nil {
			continue
		}
		xc, yc := *x, *y
		xc.Pos, yc.Pos = config.Pos{}, config.Pos{}
		if !reflect.DeepEqual(xc, yc) {
			return false
		}
	}
	return true
}

// reloadFIFOs switches the notifier to next's FIFOs when a reload changed
// them (d.cfg is already next): the instances keep running, as in
// keepalived, which reopens its FIFOs on reload. The old FIFOs are closed
// first (one may have the same path as a new one), then the new ones are
// opened; if that fails no FIFO is written until a reload that works, and
// the error says so.
func (d *Daemon) reloadFIFOs(prev *config.Config) error {
	if d.notifier == nil || sameFIFOs(&prev.Global, &d.cfg.Global) {
		return nil
	}
	d.notifier.SetFIFOs(nil)
	d.fifos.close()
	d.fifos = fifoSet{}
	fifos, err := d.openFIFOs(d.cfg)
	if err != nil {
		return fmt.Errorf("notify FIFOs changed but could not be opened, none is written: %w", err)
	}
	d.fifos = fifos
	d.notifier.SetFIFOs(fifos.vrrp)
	d.log.Info("Notify FIFOs reopened for the changed configuration", "fifos", len(fifos.all))
	return nil
}
