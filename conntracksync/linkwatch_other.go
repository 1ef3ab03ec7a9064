//go:build !linux

package conntracksync

import (
	"context"
	"errors"
)

// WatchLinks returns errors.ErrUnsupported outside Linux.
func WatchLinks(ctx context.Context, netnsPath string, ifaces []string, report func(name string, up bool)) error {
	return errors.ErrUnsupported
}
