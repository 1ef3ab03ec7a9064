package safefile

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// maxSymlinks bounds the root-owned symlinks OpenDir follows (the kernel's
// own limit is 40).
const maxSymlinks = 40

// OpenDir opens the directory at path, which must be absolute, walking it
// from "/" as the package documentation describes. When create is not
// zero, missing directories are created with that mode (exactly, whatever
// the umask). Errors name the path and the component at fault.
func OpenDir(path string, create fs.FileMode) (*Dir, error) {
	if !filepath.IsAbs(path) {
		return nil, fmt.Errorf("safefile: %s: not an absolute path", path)
	}
	fd, err := unix.Open("/", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("safefile: open /: %w", err)
	}
	if err := checkDir(fd, "/"); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("safefile: %s: %w", path, err)
	}
	cur := "/" // the path walked so far, for messages
	comps := split(path)
	links := 0
	for len(comps) > 0 {
		c := comps[0]
		comps = comps[1:]
		next := filepath.Join(cur, c)
		nfd, err := unix.Openat(fd, c, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
		if errors.Is(err, unix.ENOENT) && create != 0 {
			// Made 0700 and then given its mode through the open
			// descriptor, so it is never wider than asked, whatever the
			// umask. One that appeared meanwhile is checked below.
			err = unix.Mkdirat(fd, c, 0o700)
			made := err == nil
			if made || errors.Is(err, unix.EEXIST) {
				nfd, err = unix.Openat(fd, c, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
				if err == nil && made {
					if err = unix.Fchmod(nfd, uint32(create.Perm())); err != nil {
						unix.Close(nfd)
					}
				}
			}
		}
		if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
			// ELOOP: the component is a symlink (O_NOFOLLOW).
			var st unix.Stat_t
			if serr := unix.Fstatat(fd, c, &st, unix.AT_SYMLINK_NOFOLLOW); serr != nil {
				err = serr
			} else if st.Mode&unix.S_IFMT != unix.S_IFLNK {
				err = errors.New("not a directory")
			} else if st.Uid != 0 {
				err = fmt.Errorf("a symlink owned by uid %d (only root's symlinks are followed)", st.Uid)
			} else if links++; links > maxSymlinks {
				err = unix.ELOOP
			} else {
				target, rerr := readlinkat(fd, c)
				if rerr != nil {
					err = rerr
				} else {
					comps = append(split(target), comps...)
					if filepath.IsAbs(target) {
						unix.Close(fd)
						if fd, err = unix.Open("/", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
							return nil, fmt.Errorf("safefile: open /: %w", err)
						}
						cur = "/"
					}
					continue
				}
			}
		}
		if err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("safefile: %s: %s: %w", path, next, err)
		}
		unix.Close(fd)
		fd = nfd
		if c == ".." {
			cur = filepath.Dir(cur)
		} else {
			cur = next
		}
		if err := checkDir(fd, cur); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("safefile: %s: %w", path, err)
		}
	}
	return &Dir{path: filepath.Clean(path), fd: fd}, nil
}

// split returns the non-empty components of p.
func split(p string) []string {
	var out []string
	for _, c := range strings.Split(p, "/") {
		if c != "" && c != "." {
			out = append(out, c)
		}
	}
	return out
}

func readlinkat(dirfd int, name string) (string, error) {
	buf := make([]byte, 256)
	for {
		n, err := unix.Readlinkat(dirfd, name, buf)
		if err != nil {
			return "", err
		}
		if n < len(buf) {
			return string(buf[:n]), nil
		}
		buf = make([]byte, 2*len(buf))
	}
}

// checkDir refuses a directory that someone other than root (or the
// caller) could change: owned by another user, or writable by group or
// others without the sticky bit.
func checkDir(fd int, path string) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if st.Uid != 0 && st.Uid != uint32(os.Geteuid()) {
		return fmt.Errorf("%s: directory owned by uid %d, not root", path, st.Uid)
	}
	if st.Mode&0o022 != 0 && st.Mode&unix.S_ISVTX == 0 {
		return fmt.Errorf("%s: directory writable by group or others (mode %#o) and not sticky", path, st.Mode&0o7777)
	}
	return nil
}

// Mode returns the directory's permission bits (with sticky, setuid and
// setgid) and owner as they are now.
func (d *Dir) Mode() (mode fs.FileMode, uid uint32, err error) {
	var st unix.Stat_t
	if err := unix.Fstat(d.fd, &st); err != nil {
		return 0, 0, fmt.Errorf("safefile: %s: %w", d.path, err)
	}
	mode = fs.FileMode(st.Mode & 0o777)
	if st.Mode&unix.S_ISVTX != 0 {
		mode |= fs.ModeSticky
	}
	if st.Mode&unix.S_ISUID != 0 {
		mode |= fs.ModeSetuid
	}
	if st.Mode&unix.S_ISGID != 0 {
		mode |= fs.ModeSetgid
	}
	return mode, st.Uid, nil
}

// Close closes the directory.
func (d *Dir) Close() error {
	if d.fd < 0 {
		return nil
	}
	err := unix.Close(d.fd)
	d.fd = -1
	return err
}

// validName refuses names that are not a single directory entry.
func validName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsRune(name, '/') {
		return fmt.Errorf("safefile: %q is not a file name", name)
	}
	return nil
}

// describe says what an entry is, for messages: "a symlink owned by uid
// 65534".
func describe(st *unix.Stat_t) string {
	kind := "a file"
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		kind = "a regular file"
		if st.Nlink > 1 {
			kind = "a regular file with " + strconv.FormatUint(uint64(st.Nlink), 10) + " links"
		}
	case unix.S_IFLNK:
		kind = "a symlink"
	case unix.S_IFIFO:
		kind = "a FIFO"
	case unix.S_IFSOCK:
		kind = "a socket"
	case unix.S_IFCHR:
		kind = "a character device"
	case unix.S_IFBLK:
		kind = "a block device"
	case unix.S_IFDIR:
		kind = "a directory"
	}
	return kind + " owned by uid " + strconv.FormatUint(uint64(st.Uid), 10)
}

// ours reports whether st is a regular file the caller owns with exactly
// one link: the only kind of existing entry safefile opens.
func ours(st *unix.Stat_t) bool {
	return st.Mode&unix.S_IFMT == unix.S_IFREG && st.Uid == uint32(os.Geteuid()) && st.Nlink == 1
}

// WriteFile replaces the entry name in d with a new regular file holding
// data with mode perm, owned by the caller: written under a random name
// with O_CREAT|O_EXCL, fsynced, then renamed over name. It never opens,
// follows or writes into what was at name before. replaced describes that
// entry when it was not a regular file of the caller's with one link (a
// symlink, FIFO, another user's file...), so the caller can report it;
// it is empty otherwise. A directory at name is an error.
func (d *Dir) WriteFile(name string, data []byte, perm fs.FileMode) (replaced string, err error) {
	if err := validName(name); err != nil {
		return "", err
	}
	full := filepath.Join(d.path, name)
	var st unix.Stat_t
	if err := unix.Fstatat(d.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil {
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			return "", fmt.Errorf("safefile: %s: is a directory", full)
		}
	} else if !errors.Is(err, unix.ENOENT) {
		return "", fmt.Errorf("safefile: %s: %w", full, err)
	}
	tmp, fd, err := d.createTemp(name)
	if err != nil {
		return "", err
	}
	f := os.NewFile(uintptr(fd), filepath.Join(d.path, tmp))
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm.Perm())
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		unix.Unlinkat(d.fd, tmp, 0)
		return "", fmt.Errorf("safefile: %s: %w", full, err)
	}
	// Describe what is replaced as late as possible; the rename below is
	// atomic whatever it is.
	if err := unix.Fstatat(d.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil && !ours(&st) {
		replaced = describe(&st)
	}
	if err := unix.Renameat(d.fd, tmp, d.fd, name); err != nil {
		unix.Unlinkat(d.fd, tmp, 0)
		return "", fmt.Errorf("safefile: %s: rename: %w", full, err)
	}
	return replaced, nil
}

// createTemp creates a new file ".name.RANDOM" in d with O_EXCL and mode
// 0600 and returns its name and descriptor.
func (d *Dir) createTemp(name string) (string, int, error) {
	var b [8]byte
	for range 10 {
		rand.Read(b[:])
		tmp := "." + name + "." + hex.EncodeToString(b[:])
		fd, err := unix.Openat(d.fd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0o600)
		if errors.Is(err, unix.EEXIST) {
			continue
		}
		if err != nil {
			return "", -1, fmt.Errorf("safefile: %s: create %s: %w", d.path, tmp, err)
		}
		return tmp, fd, nil
	}
	return "", -1, fmt.Errorf("safefile: %s: cannot create a temporary file for %s: %w", d.path, name, unix.EEXIST)
}

// WriteFile writes data to path through [OpenDir] (without creating
// directories) and [Dir.WriteFile].
func WriteFile(path string, data []byte, perm fs.FileMode) (replaced string, err error) {
	d, err := OpenDir(filepath.Dir(path), 0)
	if err != nil {
		return "", err
	}
	defer d.Close()
	return d.WriteFile(filepath.Base(path), data, perm)
}

// OpenAppend opens path for appending, as a log (vigild -t=FILE): the
// directory through [OpenDir] (not created), the file created 0600 if it
// is missing, without following a symlink at its name and without
// blocking. An existing entry is used only if it is a regular file of the
// caller's with one link (what [Dir.WriteFile] would leave alone);
// anything else (another user's file, a FIFO, a hard link) is an error and
// is not written.
func OpenAppend(path string) (*os.File, error) {
	d, err := OpenDir(filepath.Dir(path), 0)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	name := filepath.Base(path)
	if err := validName(name); err != nil {
		return nil, err
	}
	fd, err := unix.Openat(d.fd, name, unix.O_WRONLY|unix.O_APPEND|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0o600)
	var st unix.Stat_t
	if err != nil {
		// A symlink at the name fails with ELOOP, or with EACCES when
		// O_CREAT meets another user's symlink in a sticky directory: say
		// what is there.
		if unix.Fstatat(d.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && !ours(&st) {
			return nil, fmt.Errorf("safefile: %s: is %s; not written", path, describe(&st))
		}
		return nil, fmt.Errorf("safefile: %s: %w", path, err)
	}
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("safefile: %s: %w", path, err)
	}
	if !ours(&st) {
		unix.Close(fd)
		return nil, fmt.Errorf("safefile: %s: is %s; not written", path, describe(&st))
	}
	return os.NewFile(uintptr(fd), path), nil
}

// CreatePIDFile takes the pid file at path: it opens or creates it (see
// the package documentation; missing directories are created 0755),
// takes an exclusive flock without waiting, and then writes pid into it.
// When another process holds the lock the error wraps [ErrLocked] and
// names the pid written in the file. The lock is held until Close (or the
// process's exit).
func CreatePIDFile(path string, pid int) (*PIDFile, error) {
	if !filepath.IsAbs(path) {
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, fmt.Errorf("safefile: %s: %w", path, err)
		}
		path = abs
	}
	name := filepath.Base(path)
	if err := validName(name); err != nil {
		return nil, err
	}
	d, err := OpenDir(filepath.Dir(path), 0o755)
	if err != nil {
		return nil, err
	}
	p := &PIDFile{dir: d, name: name, fd: -1}
	for range 10 {
		done, err := p.try(path, pid)
		if err != nil {
			d.Close()
			return nil, err
		}
		if done {
			return p, nil
		}
	}
	d.Close()
	return nil, fmt.Errorf("safefile: %s: the pid file kept changing while being locked", path)
}

// try makes one attempt at opening, locking and writing the pid file. It
// returns false without an error when the entry changed under it and the
// caller should start again.
func (p *PIDFile) try(path string, pid int) (bool, error) {
	dfd := p.dir.fd
	var st unix.Stat_t
	flags := unix.O_RDWR | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_NOCTTY | unix.O_CLOEXEC
	err := unix.Fstatat(dfd, p.name, &st, unix.AT_SYMLINK_NOFOLLOW)
	switch {
	case errors.Is(err, unix.ENOENT):
		flags |= unix.O_CREAT | unix.O_EXCL
	case err != nil:
		return false, fmt.Errorf("safefile: %s: %w", path, err)
	case st.Mode&unix.S_IFMT == unix.S_IFDIR:
		return false, fmt.Errorf("safefile: %s: is a directory", path)
	case !ours(&st):
		// Not something a vigild of ours can have locked: remove the
		// entry (unlink does not follow it) and create a new file.
		if p.Replaced == "" {
			p.Replaced = describe(&st)
		}
		if err := unix.Unlinkat(dfd, p.name, 0); err != nil && !errors.Is(err, unix.ENOENT) {
			return false, fmt.Errorf("safefile: %s: remove %s: %w", path, describe(&st), err)
		}
		return false, nil
	}
	fd, err := unix.Openat(dfd, p.name, flags, 0o644)
	if errors.Is(err, unix.EEXIST) || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ELOOP) {
		return false, nil // changed since the lstat
	}
	if err != nil {
		return false, fmt.Errorf("safefile: %s: %w", path, err)
	}
	var fst unix.Stat_t
	if err := unix.Fstat(fd, &fst); err != nil {
		unix.Close(fd)
		return false, fmt.Errorf("safefile: %s: %w", path, err)
	}
	if !ours(&fst) {
		unix.Close(fd)
		return false, nil
	}
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		holder := readPID(fd)
		unix.Close(fd)
		if errors.Is(err, unix.EWOULDBLOCK) {
			if holder != "" {
				return false, fmt.Errorf("safefile: %s: %w (pid %s)", path, ErrLocked, holder)
			}
			return false, fmt.Errorf("safefile: %s: %w", path, ErrLocked)
		}
		return false, fmt.Errorf("safefile: %s: lock: %w", path, err)
	}
	// The name may have been unlinked (by a process that held the lock
	// and exited) between our open and the lock: then the lock is on a
	// file nobody else will find. Start again.
	if err := unix.Fstatat(dfd, p.name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil || st.Dev != fst.Dev || st.Ino != fst.Ino {
		unix.Close(fd)
		return false, nil
	}
	b := []byte(strconv.Itoa(pid) + "\n")
	if err := unix.Ftruncate(fd, 0); err != nil {
		unix.Close(fd)
		return false, fmt.Errorf("safefile: %s: %w", path, err)
	}
	if n, err := unix.Pwrite(fd, b, 0); err != nil || n != len(b) {
		unix.Close(fd)
		if err == nil {
			err = errors.New("short write")
		}
		return false, fmt.Errorf("safefile: %s: %w", path, err)
	}
	p.fd, p.dev, p.ino = fd, fst.Dev, fst.Ino
	return true, nil
}

// readPID returns the first line of the file at fd, if it is a number.
func readPID(fd int) string {
	b := make([]byte, 32)
	n, _ := unix.Pread(fd, b, 0)
	s := strings.TrimSpace(string(b[:max(n, 0)]))
	if _, err := strconv.Atoi(s); err != nil {
		return ""
	}
	return s
}

// Close removes the pid file if its name still refers to the locked file
// (never following a symlink put there meanwhile) and releases the lock.
func (p *PIDFile) Close() error {
	if p.fd < 0 {
		return nil
	}
	var err error
	var st unix.Stat_t
	if unix.Fstatat(p.dir.fd, p.name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Dev == p.dev && st.Ino == p.ino {
		if uerr := unix.Unlinkat(p.dir.fd, p.name, 0); uerr != nil {
			err = fmt.Errorf("safefile: %s: %w", filepath.Join(p.dir.path, p.name), uerr)
		}
	}
	unix.Close(p.fd)
	p.fd = -1
	p.dir.Close()
	return err
}
