//go:build !linux

package check

import (
	"errors"
	"os/exec"
	"strings"
)

// SystemFS is only implemented on Linux.
type SystemFS struct{}

// Lstat fails.
func (SystemFS) Lstat(path string) (FileStat, error) { return FileStat{}, errors.ErrUnsupported }

// Stat fails.
func (SystemFS) Stat(path string) (FileStat, error) { return FileStat{}, errors.ErrUnsupported }

// RealPath fails.
func (SystemFS) RealPath(path string) (string, error) { return "", errors.ErrUnsupported }

// ResolveScript finds argv0 in PATH when it has no slash.
func ResolveScript(argv0 string) (string, error) {
	if strings.Contains(argv0, "/") {
		return argv0, nil
	}
	return exec.LookPath(argv0)
}

// CheckScriptAs is only implemented on Linux.
func CheckScriptAs(argv0, user, group string) (string, error) { return "", errors.ErrUnsupported }
