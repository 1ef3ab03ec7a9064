//go:build !linux

package conntracksync

import (
	"errors"
	"fmt"
)

// ReadAuthKeyFile returns errors.ErrUnsupported outside Linux.
func ReadAuthKeyFile(path string) (AuthKey, error) {
	return AuthKey{}, fmt.Errorf("%w: %s: %w", ErrAuthKey, path, errors.ErrUnsupported)
}
