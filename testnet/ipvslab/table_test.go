package ipvslab

import (
	"slices"
	"strings"
	"testing"
)

// TestNormalise: ipvsadm's header and counters go, services and
// destinations are ordered, so the same kernel state read twice in a
// different order gives equal tables and a changed weight does not.
func TestNormalise(t *testing.T) {
	out := `IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  203.0.113.100:81 rr
  -> 198.51.100.12:81             Route   1      3          0
  -> 198.51.100.11:81             Route   1      0          7
TCP  203.0.113.100:80 wrr persistent 300
  -> 198.51.100.11:8080           Masq    2      0          0
UDP  203.0.113.100:53 rr
`
	got := Normalise(out)
	want := Table{
		"TCP 203.0.113.100:80 wrr persistent 300",
		"-> 198.51.100.11:8080 Masq 2",
		"TCP 203.0.113.100:81 rr",
		"-> 198.51.100.11:81 Route 1",
		"-> 198.51.100.12:81 Route 1",
		"UDP 203.0.113.100:53 rr",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Normalise:%s\nwant%s", got, want)
	}
	built := Expect(
		Service{Line: "UDP 203.0.113.100:53 rr"},
		Service{Line: "TCP 203.0.113.100:81 rr", Dests: []string{Dest("198.51.100.12:81", "Route", 1), Dest("198.51.100.11:81", "Route", 1)}},
		Service{Line: "TCP 203.0.113.100:80 wrr persistent 300", Dests: []string{Dest("198.51.100.11:8080", "Masq", 2)}},
	)
	if !got.Equal(built) {
		t.Errorf("Expect:%s\nwant%s", built, got)
	}
	built[1] = "-> 198.51.100.11:8080 Masq 3"
	if got.Equal(built) {
		t.Error("a changed weight compares equal")
	}
	if n := Normalise("IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n"); len(n) != 0 {
		t.Errorf("empty table: %q", n)
	}
}

// TestSummarise: goroutines that differ only in argument values, pc
// offsets and their creator's number are one kind.
func TestSummarise(t *testing.T) {
	dump := `SIGQUIT: quit

goroutine 7 [select, 2 minutes]:
main.run(0xc000012345, 0x1)
	/src/main.go:10 +0x1f
created by main.start in goroutine 1
	/src/main.go:5 +0x2a

goroutine 9 [select]:
main.run(0xc000099999, 0x2)
	/src/main.go:10 +0x1f
created by main.start in goroutine 3
	/src/main.go:5 +0x2a

goroutine 1 [chan receive]:
main.main()
	/src/main.go:3 +0x10
`
	got := summarise(dump)
	if !strings.Contains(got, "2 goroutine(s) [select]") || !strings.Contains(got, "1 goroutine(s) [chan receive]") {
		t.Errorf("summarise:\n%s", got)
	}
}
