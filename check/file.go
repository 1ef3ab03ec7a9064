package check

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// fileReadMax is how much of a track file keepalived reads.
const fileReadMax = 127

// ReadTrackFile reads a track_file's value as keepalived does: at most its
// first 127 bytes, parsed by ParseFileValue. A missing, unreadable or empty
// file reads as 0 (keepalived's rule, so deleting the file clears a fault).
// A value out of range is an error wrapping ErrFileValue and the caller
// keeps the previous value. The file is opened without blocking and must
// be a regular file: a FIFO or device planted at the path is an error
// (the previous value is kept) instead of a reader stuck forever.
func ReadTrackFile(path string) (int64, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if err != nil {
		return 0, nil
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return 0, fmt.Errorf("check: track file %s: not a regular file", path)
	}
	buf := make([]byte, fileReadMax)
	n, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return 0, nil
	}
	v, err := ParseFileValue(buf[:n])
	if err != nil {
		return 0, fmt.Errorf("check: track file %s: %w", path, err)
	}
	return v, nil
}

// InitTrackFile is keepalived's init_file: write value and a newline to
// path if it does not exist, or whatever it holds with overwrite. vigild
// writes it as root, often in a folder other users can write (/tmp), so:
// a new file is created exclusively, never through a symlink; an existing
// one is overwritten only if it is a regular file with one link, opened
// without following a symlink and without blocking. Anything else is an
// error and is left alone.
func InitTrackFile(path string, value int64, overwrite bool) error {
	data := []byte(strconv.FormatInt(value, 10) + "\n")
	const flags = unix.O_WRONLY | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_CLOEXEC | unix.O_NOCTTY
	fd, err := unix.Open(path, flags|unix.O_CREAT|unix.O_EXCL, 0o644)
	if errors.Is(err, unix.EEXIST) {
		if !overwrite {
			var st unix.Stat_t
			if err := unix.Lstat(path, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
				return fmt.Errorf("check: init track file %s: not a regular file", path)
			}
			return nil
		}
		fd, err = unix.Open(path, flags, 0)
	}
	if err != nil {
		if errors.Is(err, unix.ELOOP) {
			return fmt.Errorf("check: init track file %s: not a regular file (a symlink)", path)
		}
		return fmt.Errorf("check: init track file %s: %w", path, err)
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Nlink != 1 {
		return fmt.Errorf("check: init track file %s: not a regular file with one link", path)
	}
	if err := f.Truncate(0); err != nil {
		return fmt.Errorf("check: init track file %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("check: init track file %s: %w", path, err)
	}
	return nil
}
