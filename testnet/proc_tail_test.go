package testnet

import (
	"fmt"
	"strings"
	"testing"
)

// A daemon's log ends in a flood of the same request, each line with its
// own time: tail keeps the lines before it.
func TestTailCollapsesRepeatedLines(t *testing.T) {
	var sb strings.Builder
	sb.WriteString("time=1 level=INFO msg=\"entering BACKUP\"\n")
	sb.WriteString("time=2 level=INFO msg=\"peer answered\"\n")
	for i := range 500 {
		fmt.Fprintf(&sb, "time=%d level=DEBUG msg=\"Control command\" command=status\n", 3+i)
	}
	got := strings.Split(tail(sb.String(), 40), "\n")
	want := []string{
		`time=1 level=INFO msg="entering BACKUP"`,
		`time=2 level=INFO msg="peer answered"`,
		`time=3 level=DEBUG msg="Control command" command=status`,
		"\t(498 more lines like it)",
		`time=502 level=DEBUG msg="Control command" command=status`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("tail:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestTailKeepsLastLines(t *testing.T) {
	var sb strings.Builder
	for i := range 100 {
		fmt.Fprintf(&sb, "line %d\n", i)
	}
	sb.WriteString("same\nsame\nother\n")
	got := strings.Split(tail(sb.String(), 5), "\n")
	want := []string{"line 98", "line 99", "same", "same", "other"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("tail: %q, want %q", got, want)
	}
	if got := tail("", 3); got != "" {
		t.Fatalf("tail of nothing: %q", got)
	}
	if got := untimed("time=2026-12-06T11:15:02.108Z level=DEBUG msg=x"); got != "level=DEBUG msg=x" {
		t.Fatalf("untimed: %q", got)
	}
}
