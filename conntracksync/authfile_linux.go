package conntracksync

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// ReadAuthKeyFile reads the pre-shared key of auth_key_file and refuses a
// file that anyone but root could read or replace: path must be absolute;
// after symbolic links are resolved the file must be a regular file owned
// by root with no permission bits for group or others (0600 or 0400), and
// every directory above it must be owned by root and writable by nobody
// else (group-writable only for group root; a sticky directory such as /tmp
// is accepted, since others cannot replace a root-owned file in it). The
// content is 64 hexadecimal digits (see ParseAuthKey); make one with
//
//	(umask 077; openssl rand -hex 32 > /etc/vigil/sync.key)
//
// The error never contains the key.
func ReadAuthKeyFile(path string) (AuthKey, error) {
	if !filepath.IsAbs(path) {
		return AuthKey{}, fmt.Errorf("%w: %s: not an absolute path", ErrAuthKey, path)
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return AuthKey{}, fmt.Errorf("%w: %v", ErrAuthKey, err)
	}
	f, err := os.OpenFile(real, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return AuthKey{}, fmt.Errorf("%w: %v", ErrAuthKey, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return AuthKey{}, fmt.Errorf("%w: %v", ErrAuthKey, err)
	}
	if err := keyFileSafe(real, fi); err != nil {
		return AuthKey{}, err
	}
	for dir := filepath.Dir(real); ; dir = filepath.Dir(dir) {
		di, err := os.Lstat(dir)
		if err != nil {
			return AuthKey{}, fmt.Errorf("%w: %v", ErrAuthKey, err)
		}
		if err := keyDirSafe(path, dir, di); err != nil {
			return AuthKey{}, err
		}
		if dir == "/" {
			break
		}
	}
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return AuthKey{}, fmt.Errorf("%w: %s: %v", ErrAuthKey, path, err)
	}
	k, err := ParseAuthKey(b)
	clear(b)
	if err != nil {
		return AuthKey{}, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

func statOwner(fi fs.FileInfo) (uid, gid uint32) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Uid, st.Gid
	}
	return ^uint32(0), ^uint32(0)
}

// keyFileSafe checks the key file itself.
func keyFileSafe(path string, fi fs.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: %s is not a regular file (%s)", ErrAuthKey, path, fi.Mode().Type())
	}
	if uid, _ := statOwner(fi); uid != 0 {
		return fmt.Errorf("%w: %s is owned by uid %d, not root: chown root:root %s", ErrAuthKey, path, uid, path)
	}
	if p := fi.Mode().Perm(); p&0o077 != 0 {
		return fmt.Errorf("%w: %s has mode %04o: group or others may read or change it: chmod 600 %s", ErrAuthKey, path, p, path)
	}
	return nil
}

// keyDirSafe checks one directory above the key file: nobody but root may
// replace the file.
func keyDirSafe(file, dir string, fi fs.FileInfo) error {
	uid, gid := statOwner(fi)
	m := fi.Mode()
	switch {
	case uid != 0:
		return fmt.Errorf("%w: %s: directory %s is owned by uid %d, not root: that user can replace the key", ErrAuthKey, file, dir, uid)
	case m&fs.ModeSticky != 0:
		return nil
	case m&0o002 != 0 || (gid != 0 && m&0o020 != 0):
		return fmt.Errorf("%w: %s: directory %s has mode %04o: others can replace the key", ErrAuthKey, file, dir, m.Perm())
	}
	return nil
}
