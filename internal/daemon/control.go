package daemon

import (
	"context"

	"github.com/vigil-ha/vigil/internal/ctl"
)

// ServeControl answers vigilctl on the unix socket at path until ctx ends
// (package ctl speaks the protocol and guards the socket); it returns once
// every client's goroutine has ended. Clients refused for their uid are
// counted in Status.ControlRefused.
func (d *Daemon) ServeControl(ctx context.Context, path string) error {
	srv, err := ctl.Listen(path, controlHandler{d})
	if err != nil {
		return err
	}
	return srv.Serve(ctx)
}

// ServeMetrics serves /metrics, /healthz and /readyz on addr until ctx
// ends, from the daemon's status snapshots (cfg.Status is set here).
func (d *Daemon) ServeMetrics(ctx context.Context, addr string, cfg ctl.MetricsConfig) error {
	cfg.Status = d.Status
	return ctl.ServeMetrics(ctx, addr, cfg)
}

// controlHandler is the daemon as the control server sees it.
type controlHandler struct{ d *Daemon }

func (h controlHandler) Status() ctl.Status { return h.d.Status() }

func (h controlHandler) Reload(ctx context.Context, force bool) error {
	if force {
		return h.d.ForceReload(ctx)
	}
	return h.d.Reload(ctx)
}

func (h controlHandler) Refused(uid uint32, err error) {
	h.d.controlRefused.Add(1)
	h.d.log.Warn("Control client refused", "uid", uid, "err", err)
}

func (h controlHandler) Operate(ctx context.Context, req ctl.Request) ([]string, error) {
	return h.d.Operate(ctx, req)
}

func (h controlHandler) Subscribe() (<-chan ctl.Event, func()) { return h.d.Subscribe() }

func (h controlHandler) Audit(p ctl.Peer, req ctl.Request, err error) { h.d.audit(p, req, err) }
