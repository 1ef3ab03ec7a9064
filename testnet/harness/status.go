package harness

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"time"

	"github.com/vigil-ha/vigil/internal/daemon"
)

// ReadStatus asks the vigild behind the control socket at path for its
// status. It is the harness's one status reader; everything else that
// reads vigild's status calls it.
func ReadStatus(path string) (daemon.Status, error) {
	var s daemon.Status
	err := Request(path, "status", 5*time.Second, &s)
	return s, err
}

// Request sends one command line ("status", "reload", ...) to the vigild
// behind the control socket at path, and decodes its one JSON answer into
// out, all within timeout.
func Request(path, line string, timeout time.Duration, out any) error {
	c, err := net.DialTimeout("unix", path, 2*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	if _, err := fmt.Fprintln(c, line); err != nil {
		return err
	}
	return json.NewDecoder(bufio.NewReader(c)).Decode(out)
}
