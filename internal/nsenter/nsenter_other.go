//go:build !linux

package nsenter

import "errors"

// Do runs fn; another namespace than the current one (a non-empty path)
// needs Linux.
func Do(path string, fn func() error) error {
	if path != "" {
		return errors.ErrUnsupported
	}
	return fn()
}
