package daemon

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/vigil-ha/vigil/config"
)

// TestNotifyCommandUnknownUserDisabled: a notify script whose user cannot
// be found is disabled, not run as root (it was judged safe for that user,
// not for root).
func TestNotifyCommandUnknownUserDisabled(t *testing.T) {
	var buf bytes.Buffer
	d := &Daemon{log: slog.New(slog.NewTextHandler(&buf, nil)), cfg: &config.Config{}}
	c := &config.Command{Argv: []string{"/usr/local/bin/master.sh"}, User: "vigil-no-such-user-7f3a"}
	if nc := d.notifyCommand(c); nc != nil {
		t.Fatalf("notify script of an unknown user: %+v, want disabled (nil)", nc)
	}
	if !strings.Contains(buf.String(), "script disabled") {
		t.Errorf("no 'script disabled' log line: %s", buf.String())
	}
	root := &config.Command{Argv: []string{"/usr/local/bin/master.sh"}, User: "root"}
	if nc := d.notifyCommand(root); nc == nil || nc.Credential {
		t.Errorf("root's notify script: %+v, want enabled, run as root", nc)
	}
}
