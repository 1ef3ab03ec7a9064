//go:build unix

package config

import (
	"fmt"
	"io"
	"os"
	"syscall"
)

// maxFileBytes bounds one configuration file (the largest keepalived.conf
// seen in the wild is a few hundred kilobytes).
const maxFileBytes = 16 << 20

// readFile is the default Options.ReadFile: it reads a configuration file,
// an include or a conntrackd_config without ever blocking (a FIFO planted
// where an include glob looks, say /tmp/*.conf, must not hang vigild -t,
// start-up or a reload) and refuses anything that is not a regular file or
// is larger than maxFileBytes.
func readFile(name string) ([]byte, error) {
	f, err := os.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file (%v)", name, st.Mode().Type())
	}
	if st.Size() > maxFileBytes {
		return nil, fmt.Errorf("%s: %d bytes, more than a configuration file may hold (%d)", name, st.Size(), maxFileBytes)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err == nil && len(b) > maxFileBytes {
		err = fmt.Errorf("%s: more than a configuration file may hold (%d bytes)", name, maxFileBytes)
	}
	return b, err
}
