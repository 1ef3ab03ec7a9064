package buildinfo

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestFormat(t *testing.T) {
	rev := "5f08648c1e2a7d3b9a0f1e2d3c4b5a6978877665"
	settings := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i+1 < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	for _, tc := range []struct {
		name string
		bi   *debug.BuildInfo
		want string
	}{
		{"no build info", nil, "vigild devel"},
		{"work tree, no vcs", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "vigild devel"},
		{"empty main version", &debug.BuildInfo{}, "vigild devel"},
		{"clean commit", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"},
			Settings: settings("vcs", "git", "vcs.revision", rev, "vcs.modified", "false")}, "vigild devel (commit 5f08648c1e2a)"},
		{"dirty commit", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"},
			Settings: settings("vcs.revision", rev, "vcs.modified", "true")}, "vigild devel (commit 5f08648c1e2a, modified)"},
		{"released", &debug.BuildInfo{Main: debug.Module{Version: "v1.2.0"},
			Settings: settings("vcs.revision", rev)}, "vigild v1.2.0 (commit 5f08648c1e2a)"},
		{"pseudo-version, short revision", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261203221900-5f08648c1e2a"},
			Settings: settings("vcs.revision", "abc")}, "vigild v0.0.0-20261203221900-5f08648c1e2a (commit abc)"},
	} {
		if got := Format("vigild", tc.bi); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestString: the running (test) binary has build information; its line
// names the command and never prints Go's "(devel)".
func TestString(t *testing.T) {
	got := String("vigilctl")
	if !strings.HasPrefix(got, "vigilctl ") || strings.Contains(got, "(devel)") || strings.Contains(got, "\n") {
		t.Errorf("String = %q", got)
	}
}
