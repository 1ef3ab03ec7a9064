package config

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// auth_key_file: the path is kept and dumped, and the injected KeyFile check
// (vigild passes conntracksync.ReadAuthKeyFile) makes a refused key file
// fatal at the keyword's file:line:col.
func TestConntrackSyncAuthKeyFile(t *testing.T) {
	conf := instConf("") + "conntrack_sync {\n interface eth2\n local_address 198.51.100.1\n peer_address 198.51.100.2\n track_group VI_1\n auth_key_file /etc/vigil/sync.key\n}\n"
	var checked []string
	opts := testOpts()
	opts.KeyFile = func(p string) error {
		checked = append(checked, p)
		return errors.New("bad auth_key_file: /etc/vigil/sync.key has mode 0644")
	}
	cfg, got, errs := load(t, conf, opts)
	want := []string{`fatal t.conf:13:16: auth_key_file: bad auth_key_file: /etc/vigil/sync.key has mode 0644 (vigild does not start)`}
	if !slices.Equal(got, want) {
		t.Errorf("complaints:\n got %q\nwant %q", got, want)
	}
	if !slices.Equal(checked, []string{"/etc/vigil/sync.key"}) {
		t.Errorf("KeyFile called with %q", checked)
	}
	if c := ExitCode(cfg, errs, nil); c != ExitCannot {
		t.Errorf("ExitCode = %d, want %d", c, ExitCannot)
	}

	opts.KeyFile = func(string) error { return nil }
	cfg, got, _ = load(t, conf, opts)
	if len(got) != 0 || cfg.ConntrackSync.AuthKeyFile != "/etc/vigil/sync.key" {
		t.Fatalf("good key file: %q, AuthKeyFile %q", got, cfg.ConntrackSync.AuthKeyFile)
	}
	if d := string(Dump(cfg)); !strings.Contains(d, "    auth_key_file /etc/vigil/sync.key\n") {
		t.Errorf("dump lacks auth_key_file:\n%s", d)
	}
	roundTrip(t, cfg, opts)

	// Without a checker (tests, tools), the path is taken as is.
	opts.KeyFile = nil
	if _, got, _ = load(t, conf, opts); len(got) != 0 {
		t.Errorf("unchecked: %q", got)
	}
}
