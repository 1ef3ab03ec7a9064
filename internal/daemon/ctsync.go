package daemon

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/conntracksync"
	"github.com/vigil-ha/vigil/vrrp"
)

// ctSync binds the conntrack replicator to the instance or sync group named
// by conntrack_sync's track_group: commit before that group's VIPs go up,
// resync when it leaves MASTER.
type ctSync struct{}

// CTStatus is the conntrack replication part of Status.
type CTStatus struct {
	TrackGroup string `json:"track_group"`
	conntracksync.Stats
}

func newCTSync(log *slog.Logger, cfg *config.Config) (*ctSync, error) {
	return nil, errors.New("daemon: conntrack_sync is not wired yet")
}

func (c *ctSync) run(ctx context.Context)                                     {}
func (c *ctSync) beforeVIPs(inst *instance, now time.Time)                    {}
func (c *ctSync) transition(inst *instance, t vrrp.Transition, now time.Time) {}
func (c *ctSync) status() *CTStatus                                           { return nil }
