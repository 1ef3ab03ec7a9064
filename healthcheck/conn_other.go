//go:build !linux

package healthcheck

import (
	"context"
	"errors"
	"syscall"
	"time"
)

// beginTCP leaves the whole attempt to wait.
func (c Conn) beginTCP(context.Context, time.Time) (Result, func(context.Context) Result) {
	return Result{}, c.probeTCP
}

// probeTCP is one TCP_CHECK attempt.
func (c Conn) probeTCP(ctx context.Context) Result {
	conn, fail := c.dial(ctx, "tcp")
	if fail != nil {
		return *fail
	}
	conn.Close()
	return Result{Verdict: Success}
}

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
