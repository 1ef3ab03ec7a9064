package manpage

import (
	"slices"
	"testing"
)

func TestFlags(t *testing.T) {
	help := `Usage: x [OPTION]...

Options:
  -C, --check                      run checkers only
  -t, --config-test string[="-"]   check
      --dump-dir string            directory
      --vrrp_pid string            pid
Trailing text -- not an option
`
	got := Flags(help)
	want := []string{"--check", "-C", "--config-test", "-t", "--dump-dir", "--vrrp_pid"}
	if !slices.Equal(got, want) {
		t.Errorf("Flags = %q, want %q", got, want)
	}
}

func TestMissing(t *testing.T) {
	roff := `.TP
.BR \-f ", " \-\-use\-file =\fIFILE\fR
.TP
.B \-\-dump\-config
Print.
.TP
.BI \-\-control= PATH
.TP
.BR \-\-vrrp_pid
`
	for _, tc := range []struct {
		flag string
		ok   bool
	}{
		{"--use-file", true},
		{"-f", true},
		{"--dump-config", true},
		{"--control", true},
		{"--vrrp_pid", true},
		{"--dump", false},    // only a prefix of --dump-config
		{"-u", false},        // only inside --use-file
		{"-d", false},        // only inside --dump-config
		{"--config", false},  // only inside --dump-config
		{"--use", false},     // only a prefix of --use-file
		{"--vrrp", false},    // only a prefix of --vrrp_pid
		{"--metrics", false}, // absent
		{"-D", false},        // absent
	} {
		got := len(Missing(roff, []string{tc.flag})) == 0
		if got != tc.ok {
			t.Errorf("%s documented = %v, want %v", tc.flag, got, tc.ok)
		}
	}
}
