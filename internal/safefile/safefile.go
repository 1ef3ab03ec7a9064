package safefile

import "errors"

// Dir is a directory opened by [OpenDir]. Its methods act on that
// directory even if its path is renamed or replaced afterwards.
type Dir struct {
	path string
	fd   int
}

// Path returns the path the directory was opened with (cleaned).
func (d *Dir) Path() string { return d.path }

// ErrLocked is wrapped by the error [CreatePIDFile] returns when another
// process holds the pid file's lock.
var ErrLocked = errors.New("locked by another process")

// PIDFile is a pid file locked by [CreatePIDFile].
type PIDFile struct {
	dir  *Dir
	name string
	fd   int
	dev  uint64
	ino  uint64
	// Replaced describes what was at the pid file's name and had to be
	// replaced (a symlink, a FIFO, another user's file...); empty when
	// nothing or a regular file of ours was there.
	Replaced string
}
