package ipvs

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-ha/vigil/config"
)

// build parses keepalived.conf text and builds its Spec; config warnings
// are allowed (keepalived's defaults warn), fatal complaints are not.
func build(t *testing.T, text string) (*Spec, []Complaint) {
	t.Helper()
	c, errs := config.Parse("t.conf", []byte(text), config.Options{ConfigID: "t"})
	for _, e := range errs {
		if e.Severity == config.Fatal {
			t.Fatalf("config: %v", e)
		}
	}
	return Build(c)
}

// summary prints a table compactly: one line per service,
// "KEY sched [flags] -> dest/wN dest/wN".
func summary(tb Table) string {
	var lines []string
	for _, k := range tb.Keys() {
		s := tb[k]
		l := fmt.Sprintf("%s %s", k, s.Scheduler)
		if s.Flags != 0 {
			l += fmt.Sprintf(" f%#x", s.Flags)
		}
		if s.TimeoutSecs != 0 {
			l += fmt.Sprintf(" t%d", s.TimeoutSecs)
		}
		if s.Netmask != DefaultNetmask(k.Family) {
			l += fmt.Sprintf(" m%#x", s.Netmask)
		}
		l += " ->"
		for _, dk := range slices.SortedFunc(maps.Keys(s.Dests), func(a, b DestKey) int { return a.Compare(b) }) {
			d := s.Dests[dk]
			l += fmt.Sprintf(" %s/%s/w%d", dk, d.Method, d.Weight)
			if d.Method == TUN {
				l += fmt.Sprintf("/tun%d:%d:%d", d.TunnelType, d.TunnelPort, d.TunnelFlags)
			}
		}
		lines = append(lines, l)
	}
	return strings.Join(lines, "\n")
}

// actions prints actions as "kind VSi[/RSj] script".
func actions(acts []Action) []string {
	var out []string
	for _, a := range acts {
		s := fmt.Sprintf("%s vs%d", a.Kind, a.VS)
		if a.RS >= 0 {
			s += fmt.Sprintf("/rs%d", a.RS)
		}
		if a.Script != nil {
			s += " " + strings.Join(a.Script.Argv, " ")
		}
		out = append(out, s)
	}
	return out
}

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }
