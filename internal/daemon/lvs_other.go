//go:build !linux

package daemon

import (
	"errors"
	"fmt"

	"github.com/vigil-ha/vigil/ipvs"
)

// dialIPVS fails: only Linux has IPVS.
func dialIPVS() (IPVS, error) {
	return nil, fmt.Errorf("%w: %w", ipvs.ErrNoIPVS, errors.ErrUnsupported)
}
