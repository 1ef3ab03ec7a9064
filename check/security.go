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

// Missing reports keepalived's "not found": the script, or a directory on
// its way, cannot be found or accessed. Such a script never runs.
func (e *SecurityError) Missing() bool { return errors.Is(e.Err, ErrNotFound) }

// Unsafe reports that a user other than root could change what runs with
// root powers. keepalived disables such a script only with
// enable_script_security; without it the script runs and -t reports a
// security violation.
func (e *SecurityError) Unsafe() bool { return errors.Is(e.Err, ErrInsecure) }

// NotExecutable reports that the user the script runs as may not execute
// it. Such a script never runs.
func (e *SecurityError) NotExecutable() bool { return errors.Is(e.Err, ErrNotExecutable) }

// FileStat is the part of a stat the security check needs.
type FileStat struct {
	Mode     fs.FileMode // type bits, permissions, setuid/setgid/sticky as io/fs spells them
	UID      uint32
	GID      uint32
	Dev, Ino uint64 // identity, to tell whether two paths name one file
	// ACLWrite: a POSIX access ACL lets a user or group other than root
	// write, which the mode bits need not show (a root:root 0775 directory
	// with an entry for another user).
	ACLWrite bool
}

// SecurityFS is what the check asks of the file system; SystemFS is the
// real one.
type SecurityFS interface {
	Lstat(path string) (FileStat, error)  // does not follow a final symlink
	Stat(path string) (FileStat, error)   // follows symlinks
	RealPath(path string) (string, error) // absolute, no symlinks, no . or ..
}

// CheckScript is keepalived 2.2.7's check_script_secure for a script that
// will run as uid:gid: it returns the path to execute, or why the script
// must not run. argv0 must be an absolute path (resolve PATH first).
//
// The path to execute is argv0 with its directories resolved (symlinks,
// "." and ".."), keeping the configured file name when that still names the
// same file, else the fully resolved path; keepalived runs the script under
// that name.
//
// The script must exist and be executable by uid:gid. When it runs with
// root powers (uid 0, gid 0, or a setuid/setgid-root file), "/" and every
// directory down to it must be owned by root and not writable by a non-root
// group or by others unless sticky, and the file itself must be owned by
// root and not writable by a non-root group or by others; when the file is
// a symlink, the same holds for every component of its target; and, beyond
// keepalived, no POSIX ACL on any of them may grant write to a user or
// group other than root. A failing
// component is ErrInsecure, a non-directory on the way ErrWrongFileType; the
// error names the first component at fault. A script that runs without
// root powers is not checked further: only that user's own powers are at
// stake, as in keepalived.
//
// Once a script passes, no user but root can change what it names: every
// directory that leads to it and the file are root's and closed to others,
// and entries of a sticky directory can be renamed or removed only by
// their owner, root. A caller that checks right before executing the
// returned path therefore runs what it checked, unless root (or a process
// holding CAP_CHOWN, CAP_FOWNER or CAP_DAC_OVERRIDE) changes the tree in
// between, or a writer kept a descriptor it opened while the file was still
// writable.
func CheckScript(argv0 string, uid, gid uint32, fsys SecurityFS) (string, error) {
	if !strings.HasPrefix(argv0, "/") {
		return "", &SecurityError{Script: argv0, Path: argv0, Err: fmt.Errorf("%w: not an absolute path", ErrNotFound)}
	}
	real, err := fsys.RealPath(argv0)
	if err != nil {
		return "", &SecurityError{Script: argv0, Path: argv0, Err: fmt.Errorf("%w: %w", ErrNotFound, err)}
	}
	path, target := real, ""
	if real != argv0 {
		dir, base := splitPath(real)
		if _, name := splitPath(argv0); name != base {
			// The configured name is a symlink to a file of another name;
			// keep the configured name if it still leads to that file from
			// the resolved directory (programs may act on their name).
			alias := dir + name
			rs, err1 := fsys.Stat(real)
			as, err2 := fsys.Stat(alias)
			if err1 != nil || (err2 == nil && rs.Dev == as.Dev && rs.Ino == as.Ino) {
				path, target = alias, real
			}
		}
	}
	file := path
	if target != "" {
		file = target
	}
	st, err := fsys.Stat(file)
	if err != nil {
		return "", &SecurityError{Script: argv0, Path: file, Err: fmt.Errorf("%w: %w", ErrNotFound, err)}
	}
	if !executableBy(st, uid, gid) {
		return "", &SecurityError{Script: argv0, Path: file, Err: fmt.Errorf("%w for uid:gid %d:%d", ErrNotExecutable, uid, gid)}
	}
	rootPowers := uid == 0 || gid == 0 ||
		(st.UID == 0 && st.Mode&0o100 != 0 && st.Mode&fs.ModeSetuid != 0) ||
		(st.GID == 0 && st.Mode&0o010 != 0 && st.Mode&fs.ModeSetgid != 0)
	if !rootPowers {
		return path, nil
	}
	for _, p := range []string{path, target} {
		if p == "" {
			continue
		}
		if err := CheckPathChain(p, fsys); err != nil {
			e := err.(*SecurityError)
			e.Script = argv0
			return "", e
		}
	}
	return path, nil
}

// splitPath splits an absolute path after its last slash.
func splitPath(p string) (dir, base string) {
	i := strings.LastIndexByte(p, '/')
	return p[:i+1], p[i+1:]
}

// CheckPathChain walks "/", then each directory of path, then path itself,
// without following symlinks, and reports the first component that is not
// root-owned or is writable by a non-root group or by others (a directory
// with the sticky bit may be). Beyond keepalived, which reads only the mode
// bits, a component whose ACL grants write to a user or group other than
// root is refused too. Every component but the last must be a
// directory; the last must be a regular file or a symlink (whose target
// the caller checks).
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
		case checkWrite && st.ACLWrite:
			return &SecurityError{Script: path, Path: cur, Err: fmt.Errorf("%w: its ACL lets a user or group other than root write", ErrInsecure)}
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

// ACLGrantsWrite reports whether a POSIX access ACL in the kernel's xattr
// form (system.posix_acl_access: a little-endian version 2 header, then
// entries of tag u16, permissions u16, id u32) lets a named user or group
// other than root write, after the mask. An ACL it cannot read is taken to
// grant write.
func ACLGrantsWrite(acl []byte) bool {
	const (
		tagUser  = 0x02
		tagGroup = 0x08
		tagMask  = 0x10
		permW    = 0x2
	)
	le16 := func(b []byte) uint16 { return uint16(b[0]) | uint16(b[1])<<8 }
	le32 := func(b []byte) uint32 { return uint32(le16(b)) | uint32(le16(b[2:]))<<16 }
	if len(acl) < 4 || (len(acl)-4)%8 != 0 || le32(acl) != 2 {
		return true
	}
	named, mask := false, uint16(permW)
	for e := acl[4:]; len(e) >= 8; e = e[8:] {
		tag, perm, id := le16(e), le16(e[2:]), le32(e[4:])
		switch tag {
		case tagUser, tagGroup:
			if id != 0 && perm&permW != 0 {
				named = true
			}
		case tagMask:
			mask = perm
		}
	}
	return named && mask&permW != 0
}
