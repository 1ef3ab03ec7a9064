package ctl

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"

	"github.com/vigil-ha/vigil/internal/safefile"
)

// listener is the control socket's listener; Close removes the
// socket file only while the path still names the socket it created.
type listener struct {
	*net.UnixListener
	path string
	fi   fs.FileInfo // the socket file as created
}

// listen creates the control socket at path, owner-only (0600)
// from the moment it can be reached: it is bound inside a fresh 0700
// directory next to path, made 0600 there and then renamed to path. The
// directory holding path must be one only root can change (see
// safefile.OpenDir). A socket left at path by an earlier run is replaced;
// anything else there is an error and is left alone.
func listen(path string) (*listener, error) {
	path, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("ctl: control socket %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	sd, err := safefile.OpenDir(dir, 0)
	if err != nil {
		return nil, fmt.Errorf("ctl: control socket %s: %w", path, err)
	}
	sd.Close()
	if err := replaceable(path); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(dir, ".vigild-control-")
	if err != nil {
		return nil, fmt.Errorf("ctl: control socket %s: %w", path, err)
	}
	defer os.RemoveAll(tmp)
	name := filepath.Join(tmp, "s")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: name, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("ctl: control socket %s: %w", path, err)
	}
	l.SetUnlinkOnClose(false)
	err = os.Chmod(name, 0o600)
	if err == nil {
		err = replaceable(path)
	}
	if err == nil {
		err = os.Rename(name, path)
	}
	var fi fs.FileInfo
	if err == nil {
		fi, err = os.Lstat(path)
	}
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("ctl: control socket %s: %w", path, err)
	}
	return &listener{UnixListener: l, path: path, fi: fi}, nil
}

// replaceable returns an error unless path is absent or a socket (which a
// vigild that died leaves behind).
func replaceable(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("ctl: control socket %s: %w", path, err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("ctl: control socket %s: something other than a socket is there (%v); not removing it", path, fi.Mode())
	}
	return nil
}

// Close stops listening and removes the socket file unless the path has
// been given to something else meanwhile.
func (l *listener) Close() error {
	err := l.UnixListener.Close()
	if fi, lerr := os.Lstat(l.path); lerr == nil && os.SameFile(fi, l.fi) {
		os.Remove(l.path)
	}
	return err
}
