//go:build !linux

package safefile

import (
	"errors"
	"io/fs"
	"os"
)

// OpenDir is only implemented on Linux.
func OpenDir(path string, create fs.FileMode) (*Dir, error) { return nil, errors.ErrUnsupported }

// Mode is only implemented on Linux.
func (d *Dir) Mode() (fs.FileMode, uint32, error) { return 0, 0, errors.ErrUnsupported }

// Close is only implemented on Linux.
func (d *Dir) Close() error { return errors.ErrUnsupported }

// WriteFile is only implemented on Linux.
func (d *Dir) WriteFile(name string, data []byte, perm fs.FileMode) (string, error) {
	return "", errors.ErrUnsupported
}

// WriteFile is only implemented on Linux.
func WriteFile(path string, data []byte, perm fs.FileMode) (string, error) {
	return "", errors.ErrUnsupported
}

// CreatePIDFile is only implemented on Linux.
func CreatePIDFile(path string, pid int) (*PIDFile, error) { return nil, errors.ErrUnsupported }

// Close is only implemented on Linux.
func (p *PIDFile) Close() error { return errors.ErrUnsupported }

// OpenAppend is only implemented on Linux.
func OpenAppend(path string) (*os.File, error) { return nil, errors.ErrUnsupported }
