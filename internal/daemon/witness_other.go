//go:build !linux

package daemon

import (
	"context"
	"errors"
	"net/netip"
	"time"
)

func probeWitness(context.Context, string, netip.Addr, time.Duration) error {
	return errors.ErrUnsupported
}
