package ipvslab

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/testnet"
)

// Table is `ipvsadm -Ln --sort` normalised: the header lines dropped,
// fields separated by one space, a destination line cut to its address,
// forwarding method and weight (the connection counters depend on
// traffic, not on the daemon), services ordered by their line and each
// service's destinations by theirs. Two tables are equal when the kernel
// holds the same services with the same destinations.
type Table []string

// Normalise turns ipvsadm -Ln output into a Table.
func Normalise(out string) Table {
	var svcs []Service
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 0:
		case f[0] == "IP" || f[0] == "Prot":
			// "IP Virtual Server version ..." and the column titles.
		case f[0] == "->":
			if len(f) >= 2 && f[1] == "RemoteAddress:Port" {
				continue
			}
			if len(f) > 4 {
				f = f[:4]
			}
			if len(svcs) == 0 {
				// A destination before any service: keep it visible.
				svcs = append(svcs, Service{Line: "(none)"})
			}
			svcs[len(svcs)-1].Dests = append(svcs[len(svcs)-1].Dests, strings.Join(f[1:], " "))
		default:
			svcs = append(svcs, Service{Line: strings.Join(f, " ")})
		}
	}
	return Expect(svcs...)
}

// Service is one virtual service of an expected table: its ipvsadm line
// ("TCP 203.0.113.100:80 rr") and its destinations ("198.51.100.11:8080
// Masq 1"; see [Dest]).
type Service struct {
	Line  string
	Dests []string
}

// Dest formats a destination line: address:port, ipvsadm's method name
// (Masq, Route, Tunnel) and weight.
func Dest(addrPort, method string, weight int) string {
	return addrPort + " " + method + " " + strconv.Itoa(weight)
}

// Expect builds the normalised table of svcs.
func Expect(svcs ...Service) Table {
	svcs = slices.Clone(svcs)
	slices.SortFunc(svcs, func(a, b Service) int { return strings.Compare(a.Line, b.Line) })
	tab := Table{}
	for _, s := range svcs {
		tab = append(tab, s.Line)
		ds := slices.Clone(s.Dests)
		slices.Sort(ds)
		for _, d := range ds {
			tab = append(tab, "-> "+d)
		}
	}
	return tab
}

// String is the table one line per entry, for messages.
func (t Table) String() string {
	if len(t) == 0 {
		return "(empty)"
	}
	return "\n\t" + strings.Join(t, "\n\t")
}

// Equal reports whether two tables are the same.
func (t Table) Equal(u Table) bool {
	return slices.Equal(t, u)
}

// Read returns host h's normalised IPVS table (ipvsadm runs inside h's
// namespace: each namespace has its own table).
func Read(t testing.TB, h *testnet.Host) Table {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := h.Command(ctx, "ipvsadm", "-Ln", "--sort").CombinedOutput()
	if err != nil {
		t.Fatalf("ipvslab: ipvsadm -Ln --sort in %s: %v\n%s", h.Name(), err, out)
	}
	return Normalise(string(out))
}

// WaitTable waits up to timeout for h's table to equal want and returns
// it; it fails the test with both tables if it never does.
func WaitTable(t testing.TB, h *testnet.Host, timeout time.Duration, want Table, what string) Table {
	t.Helper()
	var got Table
	deadline := time.Now().Add(timeout)
	for {
		got = Read(t, h)
		if got.Equal(want) {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("ipvslab: %s: after %v the table is%s\nwant%s", what, timeout, got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
