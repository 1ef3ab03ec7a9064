//go:build !linux

package daemon

import (
	"context"
	"errors"
	"net/netip"
	"time"
)

func probeICMP(context.Context, netip.Addr, time.Duration) error { return errors.ErrUnsupported }
