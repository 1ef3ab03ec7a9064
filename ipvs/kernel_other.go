//go:build !linux

package ipvs

import (
	"errors"
	"fmt"
)

// Kernel is the [Client] over the kernel's IPVS; only Linux has one.
type Kernel struct{ Client }

// Dial fails: IPVS is Linux only.
func Dial() (*Kernel, error) {
	return nil, fmt.Errorf("%w: %w", ErrNoIPVS, errors.ErrUnsupported)
}

// Close does nothing.
func (k *Kernel) Close() error { return nil }
