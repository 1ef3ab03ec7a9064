package check

import (
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// SystemFS is the real file system for CheckScript.
type SystemFS struct{}

var _ SecurityFS = SystemFS{}

// Lstat stats path without following a final symlink, and reads its
// access ACL.
func (SystemFS) Lstat(path string) (FileStat, error) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return FileStat{}, err
	}
	fst := toFileStat(&st)
	if st.Mode&unix.S_IFMT != unix.S_IFLNK {
		w, err := aclWrite(path, unix.Lgetxattr)
		if err != nil {
			return FileStat{}, err
		}
		fst.ACLWrite = w
	}
	return fst, nil
}

// Stat stats path, following symlinks, and reads its access ACL.
func (SystemFS) Stat(path string) (FileStat, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return FileStat{}, err
	}
	fst := toFileStat(&st)
	w, err := aclWrite(path, unix.Getxattr)
	if err != nil {
		return FileStat{}, err
	}
	fst.ACLWrite = w
	return fst, nil
}

// aclWrite reports whether path's POSIX access ACL grants write to a named
// user or group other than root (through the mask). No ACL, or a file
// system without ACLs, grants nothing beyond the mode bits.
func aclWrite(path string, get func(path, attr string, dest []byte) (int, error)) (bool, error) {
	const attr = "system.posix_acl_access"
	buf := make([]byte, 512)
	n, err := get(path, attr, buf)
	if errors.Is(err, unix.ERANGE) {
		if n, err = get(path, attr, nil); err == nil {
			buf = make([]byte, n)
			n, err = get(path, attr, buf)
		}
	}
	switch {
	case errors.Is(err, unix.ENODATA), errors.Is(err, unix.EOPNOTSUPP):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("read ACL of %s: %w", path, err)
	}
	return ACLGrantsWrite(buf[:n]), nil
}

// RealPath resolves symlinks, "." and "..".
func (SystemFS) RealPath(path string) (string, error) {
	p, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", err
	}
	return filepath.Abs(p)
}

func toFileStat(st *unix.Stat_t) FileStat {
	m := fs.FileMode(st.Mode & 0o777)
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		m |= fs.ModeDir
	case unix.S_IFLNK:
		m |= fs.ModeSymlink
	case unix.S_IFIFO:
		m |= fs.ModeNamedPipe
	case unix.S_IFSOCK:
		m |= fs.ModeSocket
	case unix.S_IFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		m |= fs.ModeDevice
	}
	if st.Mode&unix.S_ISUID != 0 {
		m |= fs.ModeSetuid
	}
	if st.Mode&unix.S_ISGID != 0 {
		m |= fs.ModeSetgid
	}
	if st.Mode&unix.S_ISVTX != 0 {
		m |= fs.ModeSticky
	}
	return FileStat{Mode: m, UID: st.Uid, GID: st.Gid, Dev: st.Dev, Ino: st.Ino}
}

// ResolveScript finds argv0 in PATH when it has no slash, as keepalived
// does before its security check.
func ResolveScript(argv0 string) (string, error) {
	if strings.Contains(argv0, "/") {
		return argv0, nil
	}
	return exec.LookPath(argv0)
}

// CheckScriptAs is CheckScript on the real file system for a script run as
// a user and group given by name ("" user: DefaultScriptUser if it exists,
// else root; "" group: the user's primary group), with a bare name found in
// PATH first. It is what vigild's configuration check calls for every
// script, and what Exec applies again right before each run.
func CheckScriptAs(argv0, user, group string) (string, error) {
	uid, gid, err := LookupCredential(user, group)
	if err != nil {
		return "", err
	}
	return checkResolved(argv0, uid, gid)
}

// checkResolved finds a bare name in PATH and applies CheckScript.
func checkResolved(argv0 string, uid, gid uint32) (string, error) {
	path, err := ResolveScript(argv0)
	if err != nil {
		return "", &SecurityError{Script: argv0, Path: argv0, Err: fmt.Errorf("%w: not found in PATH", ErrNotFound)}
	}
	return CheckScript(path, uid, gid, SystemFS{})
}
