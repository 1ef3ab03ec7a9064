package check

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// Script-security sentinels, wrapped by *SecurityError.
var (
	ErrInsecure      = errors.New("unsafe permissions")
	ErrWrongFileType = errors.New("wrong file type")
	ErrNotFound      = errors.New("cannot be accessed")
	ErrNotExecutable = errors.New("not executable")
)

// SecurityError names the script and the path component that failed the
// check.
type SecurityError struct {
	Script string // the script as configured
	Path   string // the file or directory at fault
	Err    error  // one of the sentinels above, possibly wrapping an OS error
}

func (e *SecurityError) Error() string {
	if e.Path == e.Script {
		return fmt.Sprintf("check: script %s: %v", e.Script, e.Err)
	}
	return fmt.Sprintf("check: script %s: %s: %v", e.Script, e.Path, e.Err)
}

func (e *SecurityError) Unwrap() error { return e.Err }

// FileStat is the part of a stat the security check needs.
type FileStat struct {
	Mode fs.FileMode // type bits, permissions, setuid/setgid/sticky as io/fs spells them
	UID  uint32
	GID  uint32
}

// SecurityFS is what the check asks of the file system; SystemFS is the
// real one.
type SecurityFS interface {
	Lstat(path string) (FileStat, error)  // does not follow a final symlink
	Stat(path string) (FileStat, error)   // follows symlinks
	RealPath(path string) (string, error) // absolute, no symlinks, no . or ..
}

// CheckScript applies keepalived's enable_script_security rules to a script
// that will run as uid:gid. argv0 must be an absolute path (resolve PATH
// first). It returns nil when the script may run.
//
// The script must exist and be executable by uid:gid. When it runs with
// root powers (uid 0, gid 0, or a setuid/setgid-root file), every directory
// on its path, as written and as resolved, must be owned by root and not
// writable by a non-root group or by others unless sticky, and the file
// itself must be owned by root and not writable by a non-root group or by
// others. The error names the first offending file or directory.
func CheckScript(argv0 string, uid, gid uint32, fsys SecurityFS) error {
	if !strings.HasPrefix(argv0, "/") {
		return &SecurityError{Script: argv0, Path: argv0, Err: fmt.Errorf("%w: not an absolute path", ErrNotFound)}
	}
	real, err := fsys.RealPath(argv0)
	if err != nil {
		return &SecurityError{Script: argv0, Path: argv0, Err: fmt.Errorf("%w: %w", ErrNotFound, err)}
	}
	st, err := fsys.Stat(real)
	if err != nil {
		return &SecurityError{Script: argv0, Path: real, Err: fmt.Errorf("%w: %w", ErrNotFound, err)}
	}
	if !executableBy(st, uid, gid) {
		return &SecurityError{Script: argv0, Path: real, Err: fmt.Errorf("%w for uid:gid %d:%d", ErrNotExecutable, uid, gid)}
	}
	rootPowers := uid == 0 || gid == 0 ||
		(st.UID == 0 && st.Mode&0o100 != 0 && st.Mode&fs.ModeSetuid != 0) ||
		(st.GID == 0 && st.Mode&0o010 != 0 && st.Mode&fs.ModeSetgid != 0)
	if !rootPowers {
		return nil
	}
	if err := CheckPathChain(argv0, fsys); err != nil {
		return err
	}
	if real != argv0 {
		if err := CheckPathChain(real, fsys); err != nil {
			e := err.(*SecurityError)
			e.Script = argv0
			return e
		}
	}
	return nil
}

// CheckPathChain walks "/", then each directory of path, then path itself,
// without following symlinks, and reports the first component that is not
// root-owned or is writable by a non-root group or by others (a directory
// with the sticky bit may be). Every component but the last must be a
// directory; the last must be a regular file or a symlink.
func CheckPathChain(path string, fsys SecurityFS) error {
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	cur := ""
	for i := -1; i < len(parts); i++ {
		last := i == len(parts)-1
		if i < 0 {
			cur = "/"
		} else {
			if parts[i] == "" && !last {
				continue // a doubled slash
			}
			cur = strings.TrimSuffix(cur, "/") + "/" + parts[i]
		}
		st, err := fsys.Lstat(cur)
		if err != nil {
			return &SecurityError{Script: path, Path: cur, Err: fmt.Errorf("%w: %w", ErrNotFound, err)}
		}
		isDir := st.Mode.IsDir()
		if (!last && !isDir) || (last && !st.Mode.IsRegular() && st.Mode&fs.ModeSymlink == 0) {
			return &SecurityError{Script: path, Path: cur, Err: ErrWrongFileType}
		}
		checkWrite := (isDir && st.Mode&fs.ModeSticky == 0) || st.Mode.IsRegular()
		groupW := st.GID != 0 && st.Mode&0o020 != 0
		otherW := st.Mode&0o002 != 0
		switch {
		case st.UID != 0:
			return &SecurityError{Script: path, Path: cur, Err: fmt.Errorf("%w: owned by uid %d, not root", ErrInsecure, st.UID)}
		case checkWrite && groupW:
			return &SecurityError{Script: path, Path: cur, Err: fmt.Errorf("%w: writable by group %d", ErrInsecure, st.GID)}
		case checkWrite && otherW:
			return &SecurityError{Script: path, Path: cur, Err: fmt.Errorf("%w: writable by others", ErrInsecure)}
		}
	}
	return nil
}

// executableBy is keepalived's is_executable: root needs any x bit; the
// owner the user x bit; a member of the file's group the group x bit;
// everyone else the other x bit.
func executableBy(st FileStat, uid, gid uint32) bool {
	m := st.Mode.Perm()
	switch {
	case uid == 0:
		return m&0o111 != 0
	case uid == st.UID:
		return m&0o100 != 0
	case gid == st.GID:
		return m&0o010 != 0
	}
	return m&0o001 != 0
}
