package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vigil-ha/vigil/testnet"
)

const testSyncKey = "5c4b0d1e9f3a7b2c6d8e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e"

// authConf is a configuration whose conntrack_sync block names key; the
// auth_key_file keyword is on line 17, its argument at column 19.
func authConf(key string) string {
	return `vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority 100
    advert_int 1
    virtual_ipaddress {
        192.0.2.10/24
    }
}
conntrack_sync {
    interface eth1
    local_address 198.51.100.1
    peer_address 198.51.100.2
    track_group VI_1
    ! the pre-shared key of the sync channel
    auth_key_file ` + key + `
}
`
}

// TestConfigTestRefusesUnsafeKeyFile: vigild -t refuses an auth_key_file
// that the local user nobody could read or replace (or that holds no key),
// naming file:line:col, with exit 4, and never prints the key; a root-owned
// 0600 key passes.
func TestConfigTestRefusesUnsafeKeyFile(t *testing.T) {
	uid, gid := testnet.Nobody(t)
	// vigild -t looks up the interfaces: run it in a namespace that has them.
	lab := testnet.New(t)
	h := lab.Host("t")
	lab.Wire(h, "eth0", h, "eth1")
	type setup func(t *testing.T, dir, key string)
	chmod := func(mode os.FileMode) setup {
		return func(t *testing.T, _, key string) {
			if err := os.Chmod(key, mode); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tc := range []struct {
		name  string
		setup setup
		want  string // "" = accepted
	}{
		{"root 0600", nil, ""},
		{"root 0400", chmod(0o400), ""},
		{"readable by others", func(t *testing.T, _, key string) {
			chmod(0o644)(t, "", key)
			// The threat: the local user nobody reads the key.
			if out, err := testnet.AsNobody(t, "cat", key); err != nil || !strings.Contains(string(out), testSyncKey) {
				t.Fatalf("nobody could not read the 0644 key (the test's premise): %v %s", err, out)
			}
		}, "has mode 0644"},
		{"readable by group", chmod(0o640), "has mode 0640"},
		{"owned by nobody", func(t *testing.T, _, key string) {
			if err := os.Chown(key, int(uid), int(gid)); err != nil {
				t.Fatal(err)
			}
			// The threat: nobody replaces the key with one of its own.
			if out, err := testnet.AsNobody(t, "sh", "-c", "echo "+strings.Repeat("ab", 32)+" > "+key); err != nil {
				t.Fatalf("nobody could not rewrite its key file (the test's premise): %v %s", err, out)
			}
		}, "owned by uid"},
		{"directory owned by nobody", func(t *testing.T, dir, _ string) {
			if err := os.Chown(dir, int(uid), int(gid)); err != nil {
				t.Fatal(err)
			}
		}, "directory " + "DIR" + " is owned by uid"},
		{"directory writable by others", func(t *testing.T, dir, _ string) {
			if err := os.Chmod(dir, 0o777); err != nil {
				t.Fatal(err)
			}
		}, "others can replace the key"},
		{"not a key", func(t *testing.T, _, key string) {
			if err := os.WriteFile(key, []byte("secret\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "want 64 hexadecimal digits"},
		{"missing", func(t *testing.T, _, key string) { os.Remove(key) }, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			// Let nobody through the test's private directories, as through /etc.
			for _, d := range []string{tmp, filepath.Dir(tmp)} {
				if err := os.Chmod(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			dir := filepath.Join(tmp, "vigil")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			key := filepath.Join(dir, "sync.key")
			if err := os.WriteFile(key, []byte(testSyncKey+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if tc.setup != nil {
				tc.setup(t, dir, key)
			}
			conf := filepath.Join(t.TempDir(), "keepalived.conf")
			if err := os.WriteFile(conf, []byte(authConf(key)), 0o644); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			var code int
			if err := h.Do(func() error { code = run([]string{"-t", "-f", conf}, &stdout, &stderr); return nil }); err != nil {
				t.Fatal(err)
			}
			out := stderr.String()
			if strings.Contains(out+stdout.String(), testSyncKey) || strings.Contains(out, "5c4b0d1e") {
				t.Fatalf("vigild -t printed the key:\n%s", out)
			}
			if tc.want == "" {
				if code != 0 || strings.Contains(out, "auth_key_file") {
					t.Fatalf("vigild -t: exit %d\n%s", code, out)
				}
				return
			}
			want := strings.ReplaceAll(tc.want, "DIR", dir)
			at := regexp.MustCompile(regexp.QuoteMeta(conf) + `:17:19: auth_key_file: .*` + regexp.QuoteMeta(want))
			if code != 4 || !at.MatchString(out) {
				t.Fatalf("vigild -t: exit %d, want 4 and %q at %s:17:19\n%s", code, want, conf, out)
			}
		})
	}
}
