package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/vigil-ha/vigil/internal/safefile"
)

// controlListener is the control socket's listener; Close removes the
// socket file only while the path still names the socket it created.
type controlListener struct {
	*net.UnixListener
	path string
	fi   fs.FileInfo // the socket file as created
}

// listenControl creates the control socket at path, owner-only (0600)
// from the moment it can be reached: it is bound inside a fresh 0700
// directory next to path, made 0600 there and then renamed to path. The
// directory holding path must be one only root can change (see
// safefile.OpenDir). A socket left at path by an earlier run is replaced;
// anything else there is an error and is left alone.
func listenControl(path string) (*controlListener, error) {
	path, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("daemon: control socket %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	sd, err := safefile.OpenDir(dir, 0)
	if err != nil {
		return nil, fmt.Errorf("daemon: control socket %s: %w", path, err)
	}
	sd.Close()
	if err := replaceable(path); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(dir, ".vigild-control-")
	if err != nil {
		return nil, fmt.Errorf("daemon: control socket %s: %w", path, err)
	}
	defer os.RemoveAll(tmp)
	name := filepath.Join(tmp, "s")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: name, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("daemon: control socket %s: %w", path, err)
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
		return nil, fmt.Errorf("daemon: control socket %s: %w", path, err)
	}
	return &controlListener{UnixListener: l, path: path, fi: fi}, nil
}

// replaceable returns an error unless path is absent or a socket (which a
// vigild that died leaves behind).
func replaceable(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("daemon: control socket %s: %w", path, err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("daemon: control socket %s: something other than a socket is there (%v); not removing it", path, fi.Mode())
	}
	return nil
}

// Close stops listening and removes the socket file unless the path has
// been given to something else meanwhile.
func (l *controlListener) Close() error {
	err := l.UnixListener.Close()
	if fi, lerr := os.Lstat(l.path); lerr == nil && os.SameFile(fi, l.fi) {
		os.Remove(l.path)
	}
	return err
}

// controlAllowed reports whether the peer of c may use the control
// socket: root, or the user vigild runs as. The socket file's mode keeps
// others from connecting at all; this is the second wall, for a socket
// whose mode was widened.
func controlAllowed(c net.Conn) (uid uint32, ok bool, err error) {
	uid, err = peerUID(c)
	if err != nil {
		return 0, false, err
	}
	return uid, uid == 0 || uid == uint32(os.Geteuid()), nil
}

// refuseControl tells a peer that may not use the control socket so and
// hangs up. What the peer sends is read (at most 4 KiB, for at most 5 s)
// and thrown away, only so that its command line does not meet a closed
// socket before it reads the answer.
func refuseControl(c net.Conn, uid uint32, err error) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	msg := "permission denied: uid " + strconv.FormatUint(uint64(uid), 10) + " may not use vigild's control socket"
	if err != nil {
		msg = "permission denied: cannot tell who is connecting: " + err.Error()
	}
	json.NewEncoder(c).Encode(map[string]string{"result": "failed", "error": msg})
	if uc, ok := c.(*net.UnixConn); ok {
		uc.CloseWrite()
	}
	io.CopyN(io.Discard, c, 4096)
}
