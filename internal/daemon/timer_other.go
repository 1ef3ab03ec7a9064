//go:build !linux

package daemon

import (
	"errors"
	"time"
)

func newFDTimer(func(time.Time)) (loopTimer, error) { return nil, errors.ErrUnsupported }
