//go:build linux

package main

import (
	"bufio"
	"compress/gzip"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/vigil-ha/vigil/testnet"
)

// TestSmallRun runs the whole bench once at two small sizes, one trial,
// so that its code paths cannot rot: every table has a row per size (the
// restarted peer's only at the larger size) whose figures are positive numbers (the commits put every flow in the kernel,
// which bench itself checks), the floors received every datagram their
// sends sent, and the charts are well-formed SVG. It asserts no speed.
func TestSmallRun(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIP: -short: the bench builds nine namespaces and runs conntrackd (about 20 s)")
	}
	testnet.NeedRoot(t, "ip", "conntrack", "conntrackd")
	// The sender's backlog sampling too: the run fails if its node does
	// not know the command or answers with an error.
	t.Setenv("CTBENCH_BACKLOG", "1")
	// And the nodes' profiles: a node that cannot write its heap profile
	// answers with an error, which fails the run.
	prof := t.TempDir()
	t.Setenv("CTBENCH_PROFILE_DIR", prof)
	dir := t.TempDir()
	if err := bench("ctbt", []int{300, 1000}, 1, dir, false, false); err != nil {
		t.Fatal(err)
	}
	// A CPU profile of each node's whole run: the vigil pair, the warm
	// pair and the restarted receiver (the restarts replace each other's).
	if got, _ := filepath.Glob(filepath.Join(prof, "cpu-*.pprof")); len(got) != 5 {
		t.Errorf("%d CPU profiles, want 5 (one per node): %v", len(got), got)
	}
	// At each size the heap of the sender, the receiver and the warm
	// standby once the receivers hold the flows, and of the first two
	// after the commits and bulks.
	for _, want := range []struct {
		glob  string
		nodes int
	}{{"heap-*-event-300.pprof", 3}, {"heap-*-bulk-300.pprof", 2}, {"heap-*-event-1000.pprof", 3}, {"heap-*-bulk-1000.pprof", 2}} {
		got, _ := filepath.Glob(filepath.Join(prof, want.glob))
		if len(got) != want.nodes {
			t.Errorf("%s: %d heap profiles, want %d", want.glob, len(got), want.nodes)
		}
		for _, path := range got {
			// A profile is a gzipped protocol buffer.
			if err := readGzip(path); err != nil {
				t.Errorf("%s: not a heap profile: %v", path, err)
			}
		}
	}
	md, err := os.ReadFile(filepath.Join(dir, "ct-scale.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := 0
	for line := range strings.Lines(string(md)) {
		f := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
		if len(f) < 3 || (strings.TrimSpace(f[0]) != "300" && strings.TrimSpace(f[0]) != "1000") {
			continue
		}
		rows++
		for _, c := range f[1:] {
			c = strings.TrimSpace(c)
			c, _, _ = strings.Cut(c, " ")
			if v, err := strconv.ParseFloat(c, 64); err != nil || v <= 0 {
				t.Errorf("row %q: figure %q is not a positive number", line, c)
			}
		}
	}
	// Neither floor loses a datagram in this lab at these sizes: each
	// is measured until the last datagram its send sent.
	if strings.Contains(string(md), "missed up to") {
		t.Errorf("a floor lost datagrams:\n%s", md)
	}
	if rows != 15 {
		t.Errorf("%d table rows for the two sizes, want 15 (7 tables, and the restarted peer's at the larger size):\n%s", rows, md)
	}
	for _, name := range []string{"ct-commit.svg", "ct-resync.svg", "ct-cpu.svg", "ct-rss.svg"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			XMLName  xml.Name
			Polyline []struct{} `xml:"polyline"`
		}
		if err := xml.Unmarshal(b, &doc); err != nil || doc.XMLName.Local != "svg" || len(doc.Polyline) < 3 {
			t.Errorf("%s: not an SVG chart with its series (%v, %d lines)", name, err, len(doc.Polyline))
		}
	}
}

// TestLabBuckets checks the hash size the bench asks for: at least one
// bucket per entry held at once (seven namespaces of the largest size,
// four with -warm-only, and the slack), in whole pages of bucket heads as the
// kernel allocates them.
func TestLabBuckets(t *testing.T) {
	for _, c := range []struct {
		largest  int
		warmOnly bool
		perPage  int
		want     int
	}{
		{1000, false, 512, 8192},        // 8,024 entries
		{100000, false, 512, 701440},    // 701,024
		{1000000, false, 512, 7001088},  // 7,001,024
		{1000000, true, 512, 4001280},   // 4,001,024
		{1000000, false, 8192, 7004160}, // 64 KiB pages
		{512, false, 512, 4608},         // 4,608: whole pages already
	} {
		got := labBuckets(c.largest, c.warmOnly, c.perPage)
		if got != c.want {
			t.Errorf("labBuckets(%d, %v, %d) = %d, want %d", c.largest, c.warmOnly, c.perPage, got, c.want)
		}
	}
}

// TestCallTakesErrAsFailure: an answer with "err" (a command that failed,
// or that the node does not know) is an error to the caller, its figures
// still returned; an answer without it is not.
func TestCallTakesErrAsFailure(t *testing.T) {
	v := &vnode{in: nopCloser{io.Discard}, out: bufio.NewScanner(strings.NewReader(
		`{"err":"unknown command backlogs"}` + "\n" + `{"ms":1.5,"failed":2,"err":"commit: timeout"}` + "\n" + `{"ms":2}` + "\n"))}
	if _, err := v.call("backlogs"); err == nil || !strings.Contains(err.Error(), "unknown command") {
		t.Errorf("unknown command: %v, want an error", err)
	}
	if m, err := v.call("commit"); err == nil || num(m, "failed") != 2 {
		t.Errorf("failed commit: %v %v, want an error and its figures", m, err)
	}
	if m, err := v.call("commit"); err != nil || num(m, "ms") != 2 {
		t.Errorf("commit: %v %v", m, err)
	}
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// TestFmtMS: a small run's bulk figures keep their digits (one decimal
// would print an encoding of 0.031 ms as 0.0, which TestSmallRun rightly
// refuses as not positive).
func TestFmtMS(t *testing.T) {
	for v, want := range map[float64]string{0.031: "0.031", 5.234: "5.23", 43.61: "43.6", 1234.56: "1234.6"} {
		if got := fmtMS(v); got != want {
			t.Errorf("fmtMS(%v) = %q, want %q", v, got, want)
		}
	}
}

// TestParseCtdRuntime: the event socket's overruns and the resyncs with
// the kernel's table are read from conntrackd -s runtime's lines, and a
// counter that is missing reads -1, not 0.
func TestParseCtdRuntime(t *testing.T) {
	out := "daemon uptime: 1 min\n\nnetlink stats:\n\tevents received:\t\t  100000\n" +
		"\tnetlink overrun:\t\t           2\n\tflush kernel table:\t\t           0\n" +
		"\tresync with kernel table:\t           1\n\tcurrent buffer size (in bytes):\t    67108864\n"
	if o, r := parseCtdRuntime(out); o != 2 || r != 1 {
		t.Errorf("overruns %d, resyncs %d; want 2, 1", o, r)
	}
	if o, r := parseCtdRuntime("daemon uptime: 1 min\n"); o != -1 || r != -1 {
		t.Errorf("without the counters: %d, %d; want -1, -1", o, r)
	}
}

// Writing a fresh mapping page by page counts a minor fault per page (or
// folio), and the first-touch figure is a positive time.
func TestMinorFaults(t *testing.T) {
	const size = 1 << 20
	b, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(b)
	before := minorFaults(os.Getpid())
	for i := 0; i < size; i += 4096 {
		b[i] = 1
	}
	// At least one fault per 64 KiB: a kernel may hand out anonymous
	// memory in folios of up to that size.
	if got := minorFaults(os.Getpid()) - before; got < size/(64<<10) {
		t.Errorf("writing %d fresh pages counted %d minor faults", size/4096, got)
	}
	if us := firstTouchMicros(); !(us > 0) {
		t.Errorf("first touch: %v µs per page", us)
	}
}

// The event path's table says where a sender's event socket overflowed.
func TestOverflowed(t *testing.T) {
	for _, c := range []struct {
		n    int
		want string
	}{{0, ""}, {1, " (1 resync)"}, {3, " (3 resyncs)"}, {-1, " (overflows unknown)"}} {
		if got := overflowed(c.n, "resync"); got != c.want {
			t.Errorf("overflowed(%d) = %q, want %q", c.n, got, c.want)
		}
	}
}

// readGzip reads a gzipped file whole and fails if it is empty.
func readGzip(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	n, err := io.Copy(io.Discard, z)
	if err == nil && n == 0 {
		err = errors.New("empty")
	}
	return err
}
