//go:build !linux

package healthcheck

import (
	"errors"
	"syscall"
)

func (c Conn) control(network, address string, rc syscall.RawConn) error {
	if c.FWMark != 0 || c.BindIf != "" {
		return errors.ErrUnsupported
	}
	return nil
}

func isConnFailure(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ETIMEDOUT)
}

func isPermission(err error) bool {
	return errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM)
}
