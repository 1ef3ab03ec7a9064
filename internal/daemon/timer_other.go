//go:build !linux

package daemon

import "errors"

func newFDTimer() (loopTimer, error) { return nil, errors.ErrUnsupported }
