package harness

import (
	"context"
	"encoding/json"
	"time"

	"github.com/vigil-ha/vigil/internal/ctl"
)

// ReadStatus asks the vigild behind the control socket at path for its
// status. It is the harness's one status reader; everything else that
// reads vigild's status calls it.
func ReadStatus(path string) (ctl.Status, error) {
	c := ctl.Client{Path: path, DialTimeout: 2 * time.Second, Timeout: 5 * time.Second}
	return c.Status(context.Background())
}

// Request sends one command line ("status", "reload", ...) to the vigild
// behind the control socket at path through ctl's client, and decodes its
// one JSON answer into out, all within timeout.
func Request(path, line string, timeout time.Duration, out any) error {
	c := ctl.Client{Path: path, DialTimeout: 2 * time.Second, Timeout: timeout}
	raw, err := c.Do(context.Background(), ctl.Command(line))
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, out)
}
