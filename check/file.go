package check

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
)

// fileReadMax is how much of a track file keepalived reads.
const fileReadMax = 127

// ReadTrackFile reads a track_file's value as keepalived does: at most its
// first 127 bytes, parsed by ParseFileValue. A missing, unreadable or empty
// file reads as 0 (keepalived's rule, so deleting the file clears a fault).
// A value out of range is an error wrapping ErrFileValue and the caller
// keeps the previous value.
func ReadTrackFile(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, nil
	}
	defer f.Close()
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
// path if it does not exist, or whatever it holds with overwrite. An
// existing path that is not a regular file is an error and is left alone.
func InitTrackFile(path string, value int64, overwrite bool) error {
	st, err := os.Lstat(path)
	switch {
	case err == nil && !st.Mode().IsRegular():
		return fmt.Errorf("check: init track file %s: not a regular file", path)
	case err == nil && !overwrite:
		return nil
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("check: init track file %s: %w", path, err)
	}
	if err := os.WriteFile(path, []byte(strconv.FormatInt(value, 10)+"\n"), 0o644); err != nil {
		return fmt.Errorf("check: init track file %s: %w", path, err)
	}
	return nil
}
