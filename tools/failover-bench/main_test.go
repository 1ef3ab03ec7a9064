//go:build linux

package main

import (
	"bytes"
	"encoding/xml"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/testnet"
)

// TestQuickRun runs the quick mode for vigild alone (1 trial, advert_int
// 0.1 s, a 1 s load window) in namespaces and checks the printed tables:
// one row per scenario whose figures parse and are plausible, and a load
// row.
func TestQuickRun(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIP: -short: the quick benchmark run builds vigild and a lab (about 20 s)")
	}
	if _, err := exec.LookPath("go"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("go toolchain not in PATH: %v", err)
		}
		t.Skipf("SKIP: go toolchain not in PATH (needed to build vigild): %v", err)
	}
	svg := filepath.Join(t.TempDir(), "scale.svg")
	o, err := parseFlags([]string{"-quick", "-impl", "vigild", "-window", "1s", "-svg", svg}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := bench(t, o, &out, testWriter{t}); err != nil {
		t.Fatal(err)
	}
	t.Logf("output:\n%s", out.String())
	sections := tables(out.String())
	rows := map[string][]string{}
	for _, title := range []string{"FAILOVER:", "LOAD:"} {
		for line := range strings.Lines(sections[title]) {
			f := strings.Fields(line)
			if len(f) > 2 {
				rows[f[0]+" "+f[1]+" "+f[2]] = f
			}
		}
	}
	for _, s := range scenarios {
		f, ok := rows[string(s)+" 0.1 vigild"]
		if !ok {
			t.Errorf("no row for %s", s)
			continue
		}
		// scenario advert impl ok/n a b c limit d(a) d(b) d(c) target
		if len(f) != 12 || f[3] != "1/1" {
			t.Errorf("%s row %q: want 12 fields and 1/1 trials", s, f)
			continue
		}
		limit, err := strconv.ParseFloat(f[7], 64)
		if want := float64(s.limit(100*time.Millisecond)) / 1e6; err != nil || limit < want-0.005 || limit > want+0.005 {
			t.Errorf("%s limit %q (%v), want %v", s, f[7], err, s.limit(100*time.Millisecond))
		}
		for i, col := range f[4:7] {
			parts := strings.Split(col, "/")
			if len(parts) != 3 {
				t.Errorf("%s column %d %q: want med/min/max", s, i, col)
				continue
			}
			for _, p := range parts {
				v, err := strconv.ParseFloat(p, 64)
				// Plausible: after the old master's last advert, and
				// well before it could be anything but this takeover.
				if err != nil || v <= 0 || v > 10*limit+1000 {
					t.Errorf("%s column %d value %q: %v", s, i, p, err)
				}
			}
		}
		for _, d := range f[8:11] {
			if _, err := strconv.ParseFloat(d, 64); err != nil {
				t.Errorf("%s d %q: %v", s, d, err)
			}
		}
	}
	f, ok := rows["vigild 1+1"]
	if !ok {
		for k, v := range rows {
			if strings.HasPrefix(k, "vigild ") && len(v) == 10 {
				f, ok = v, true
			}
		}
	}
	if !ok || len(f) != 10 {
		t.Fatalf("no load row for vigild: %q", f)
	}
	// impl procs sent/recv sent-us target recv-us target r1-mem r2-mem target
	for _, col := range []string{f[3], f[5]} {
		if v, err := strconv.ParseFloat(col, 64); err != nil || v < 0 {
			t.Errorf("load CPU %q: %v", col, err)
		}
	}
	for _, col := range []string{f[2], f[7], f[8]} {
		for _, p := range strings.Split(col, "/") {
			if v, err := strconv.ParseFloat(p, 64); err != nil || v <= 0 {
				t.Errorf("load column %q: %v", col, err)
			}
		}
	}
	// The floors' rows, "go floor" and "c floor", with the same nine
	// columns; their memory is the bare programs', a real resident size.
	for _, name := range []string{"go floor 1+1", "c floor 1+1"} {
		g, ok := rows[name]
		if !ok || len(g) != 11 {
			t.Errorf("no load row %q: %q", name, g)
			continue
		}
		for _, col := range []string{g[4], g[6]} {
			if v, err := strconv.ParseFloat(col, 64); err != nil || v < 0 {
				t.Errorf("%s CPU %q: %v", name, col, err)
			}
		}
		for _, p := range strings.Split(g[9], "/") {
			if v, err := strconv.ParseFloat(p, 64); err != nil || v <= 0 {
				t.Errorf("%s r2 memory %q: %v", name, g[9], err)
			}
		}
	}
	checkCaptured(t, sections["LOAD:"], []string{"vigild", "go floor", "c floor"})
	checkTimeline(t, sections["TIMELINE"])
	checkScale(t, sections["SCALE:"], []int{1, 4})
	checkSVG(t, svg)
	if n := len(strings.Split(strings.TrimSpace(sections["FLOOR:"]), "\n")); n != 7 {
		t.Errorf("FLOOR table has %d lines, want 7 (three headers, four sleepers)", n)
	}
}

// checkCaptured: each implementation's capture-window line, whose
// captures saw the adverts the interfaces' counters counted: nearly all
// (in the steady state the adverts are all the traffic; tcpdump may drop
// a few) and no more, give or take one round of the instances' adverts,
// which may fall between the readings of two counters or at a capture's
// edge.
func checkCaptured(t *testing.T, table string, impls []string) {
	t.Helper()
	re := regexp.MustCompile(`^  (.+): with captures: sent ([0-9.]+), recv ([0-9.]+) us/advert; r1 sent (\d+) frames, its capture saw (\d+) adverts; r2 received (\d+), its capture (\d+)$`)
	seen := map[string]bool{}
	for line := range strings.Lines(table) {
		m := re.FindStringSubmatch(strings.TrimRight(line, "\n"))
		if m == nil {
			continue
		}
		seen[m[1]] = true
		var v [6]float64
		for i := range v {
			v[i], _ = strconv.ParseFloat(m[i+2], 64)
		}
		if v[0] <= 0 || v[1] <= 0 {
			t.Errorf("%s: CPU with captures %v / %v us per advert", m[1], v[0], v[1])
		}
		for _, c := range [][2]float64{{v[2], v[3]}, {v[4], v[5]}} {
			frames, adverts := c[0], c[1]
			if round := float64(loadInstances); frames <= 0 || adverts > frames+round || adverts < 0.9*frames-round {
				t.Errorf("%s: %v frames counted, %v adverts captured: want nearly all the frames, no more: %q", m[1], frames, adverts, line)
			}
		}
	}
	for _, im := range impls {
		if !seen[im] {
			t.Errorf("LOAD: no capture-window line for %s", im)
		}
	}
}

// tables splits the command's output into its tables by the first word of
// each table's title line.
func tables(out string) map[string]string {
	m := map[string]string{}
	for _, block := range strings.Split(out, "\n\n") {
		block = strings.TrimLeft(block, "\n")
		if f := strings.Fields(block); len(f) > 0 {
			m[f[0]] = block
		}
	}
	return m
}

// checkTimeline: every scenario has a vigild row whose own points are
// numbers in the order the takeover passes them.
func checkTimeline(t *testing.T, table string) {
	t.Helper()
	for _, s := range scenarios {
		var f []string
		for line := range strings.Lines(table) {
			if g := strings.Fields(line); len(g) > 3 && g[0] == string(s) && g[2] == "vigild" {
				f = g
			}
		}
		// scenario advert impl n due woke ran add> add< sent VIP GARP adv GARP-due NA-GARP apart
		if len(f) != 16 || f[3] != "1" {
			t.Errorf("timeline %s: row %q, want 16 fields from 1 trial", s, f)
			continue
		}
		if f[15] != "0/1" && f[15] != "1/1" {
			t.Errorf("timeline %s: apart %q, want the one takeover's CPUs (0/1 or 1/1)", s, f[15])
		}
		var v []float64
		for _, col := range f[4:15] {
			x, err := strconv.ParseFloat(col, 64)
			if err != nil {
				t.Errorf("timeline %s: %q: %v", s, col, err)
			}
			v = append(v, x)
		}
		if len(v) == 11 && !slices.IsSorted(v[:6]) {
			t.Errorf("timeline %s: due, woke, ran, add>, add<, sent out of order: %v", s, v[:6])
		}
	}
}

// checkScale: one vigild row per instance count with plausible figures.
func checkScale(t *testing.T, table string, sizes []int) {
	t.Helper()
	got := map[string][]string{}
	for line := range strings.Lines(table) {
		if f := strings.Fields(line); len(f) == 11 && f[1] == "vigild" {
			got[f[0]] = f
		}
	}
	for _, n := range sizes {
		f, ok := got[strconv.Itoa(n)]
		if !ok {
			t.Errorf("scale: no vigild row for %d instances", n)
			continue
		}
		// n impl adverts/s r1-cpu r2-cpu jitter-med jitter-p99 gaps captured r2-sent rss
		rate, err := strconv.ParseFloat(f[2], 64)
		// 100 adverts/s per instance at 0.01 s; the capture may drop some.
		if err != nil || rate <= 0 || rate > float64(n)*110 {
			t.Errorf("scale %d: adverts/s %q: %v", n, f[2], err)
		}
		// Each capture holds nearly all the frames its interface counted:
		// the timer accuracy is read from r1's.
		for _, c := range strings.Split(f[8], "/") {
			if v, err := strconv.ParseFloat(c, 64); err != nil || v < 95 || v > 101 {
				t.Errorf("scale %d: captured %q: want 95–101 %% of the counted frames in each capture (%v)", n, f[8], err)
			}
		}
		for _, col := range []string{f[3], f[4], f[5], f[6], f[7], f[9], f[10]} {
			if v, err := strconv.ParseFloat(col, 64); err != nil || v < 0 {
				t.Errorf("scale %d: column %q: %v", n, col, err)
			}
		}
	}
}

// checkSVG: the scale curve is well-formed XML with a line per panel.
func checkSVG(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("scale SVG: %v", err)
	}
	d := xml.NewDecoder(bytes.NewReader(b))
	lines := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("scale SVG is not well-formed: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "polyline" {
			lines++
		}
	}
	if lines != 3 {
		t.Errorf("scale SVG has %d lines, want 3 (one implementation, three panels)", lines)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

func TestSummary(t *testing.T) {
	ms := time.Millisecond
	for _, c := range []struct {
		in          []time.Duration
		med, lo, hi time.Duration
	}{
		{[]time.Duration{5 * ms}, 5 * ms, 5 * ms, 5 * ms},
		{[]time.Duration{3 * ms, 1 * ms, 2 * ms}, 2 * ms, 1 * ms, 3 * ms},
		{[]time.Duration{4 * ms, 1 * ms, 2 * ms, 9 * ms}, 3 * ms, 1 * ms, 9 * ms},
		{[]time.Duration{-1 * ms, 7 * ms, 7 * ms, 2 * ms, 100 * ms}, 7 * ms, -1 * ms, 100 * ms},
	} {
		in := append([]time.Duration(nil), c.in...)
		med, lo, hi := summary(c.in)
		if med != c.med || lo != c.lo || hi != c.hi {
			t.Errorf("summary(%v) = %v %v %v, want %v %v %v", in, med, lo, hi, c.med, c.lo, c.hi)
		}
		for i := range in {
			if in[i] != c.in[i] {
				t.Errorf("summary reordered its input")
			}
		}
	}
}

// TestLimits: RFC 5798 §6.1 for the backup's priority 100.
func TestLimits(t *testing.T) {
	for _, c := range []struct {
		sc   scenario
		adv  time.Duration
		want time.Duration
	}{
		{scCut, time.Second, 3609375 * time.Microsecond},
		{scKill, 100 * time.Millisecond, 360937500 * time.Nanosecond},
		{scCut, 10 * time.Millisecond, 36093750 * time.Nanosecond},
		{scTerm, time.Second, 609375 * time.Microsecond},
		{scTerm, 10 * time.Millisecond, 6093750 * time.Nanosecond},
	} {
		if got := c.sc.limit(c.adv); got != c.want {
			t.Errorf("%s at %v: limit %v, want %v", c.sc, c.adv, got, c.want)
		}
	}
}

func TestParseStatusMem(t *testing.T) {
	status := "Name:\tvigild\nVmPeak:\t 1250000 kB\nVmHWM:\t   13600 kB\nVmRSS:\t   13312 kB\nThreads:\t7\n"
	hwm, rss, err := parseStatusMem(status)
	if err != nil || hwm != 13600*1024 || rss != 13312*1024 {
		t.Errorf("parseStatusMem = %d, %d, %v", hwm, rss, err)
	}
	for _, bad := range []string{"Name:\tx\n", "VmHWM:\t1 kB\n", "VmHWM:\tx kB\nVmRSS:\t1 kB\n", "VmHWM:\t1 MB\nVmRSS:\t1 kB\n"} {
		if _, _, err := parseStatusMem(bad); err == nil {
			t.Errorf("parseStatusMem(%q) accepted", bad)
		}
	}
	// Our own process, as the benchmark reads the daemons'.
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("SKIP: no /proc: %v", err)
	}
	if hwm, rss, err := parseStatusMem(string(b)); err != nil || rss <= 0 || hwm < rss {
		t.Errorf("own status: HWM %d RSS %d, %v", hwm, rss, err)
	}
	// Our own process group holds at least this process.
	if cpu, n, err := groupCPU(syscall.Getpgrp()); err != nil || n < 1 || cpu < 0 {
		t.Errorf("groupCPU(own group): %v, %d processes, %v", cpu, n, err)
	}
	// This test has run on a CPU for some time already, and the time
	// only grows.
	r1, err := groupRuntime(syscall.Getpgrp())
	if err != nil || r1 <= 0 {
		t.Errorf("groupRuntime(own group): %v, %v", r1, err)
	}
	for i := range 1_000_000 {
		_ = strconv.Itoa(i)
	}
	if r2, err := groupRuntime(syscall.Getpgrp()); err != nil || r2 <= r1 {
		t.Errorf("groupRuntime(own group) after work: %v (before %v), %v", r2, r1, err)
	}
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags([]string{"-quick"}, new(bytes.Buffer))
	if err != nil || o.trials != 1 || len(o.intervals) != 1 || o.intervals[0] != 100*time.Millisecond ||
		len(o.impls) != 2 || !slices.Equal(o.scenarios, scenarios) || o.window != 3*time.Second {
		t.Errorf("-quick: %+v, %v", o, err)
	}
	if o.scale == nil || !slices.Equal(o.scale, []int{1, 4}) {
		t.Errorf("-quick: scale %v, want [1 4]", o.scale)
	}
	if o, err := parseFlags([]string{"-scale", "none"}, new(bytes.Buffer)); err != nil || len(o.scale) != 0 {
		t.Errorf("-scale none: %v, %v", o.scale, err)
	}
	o, err = parseFlags(nil, new(bytes.Buffer))
	if err != nil || o.trials != 5 || len(o.intervals) != 3 || o.intervals[2] != 10*time.Millisecond || o.window != 10*time.Second {
		t.Errorf("defaults: %+v, %v", o, err)
	}
	if o, err := parseFlags([]string{"-global", "vrrp_priority -10; vrrp_garp_interval 0 ;"}, new(bytes.Buffer)); err != nil ||
		!slices.Equal(o.global, []string{"vrrp_priority -10", "vrrp_garp_interval 0"}) {
		t.Errorf("-global: %q, %v", o.global, err)
	}
	for _, bad := range [][]string{{"-intervals", "0.005"}, {"-intervals", "0.015"}, {"-intervals", "x"},
		{"-impl", "bird"}, {"-scenarios", "cut,flood"}, {"-n", "0"}, {"extra"}, {"-global", "vrrp_sync_group G {"},
		{"-scale", "0"}, {"-scale", "256"}, {"-scale", "1,x"}, {"-scale-window", "0s"}, {"-floor", "-1"}} {
		if _, err := parseFlags(bad, new(bytes.Buffer)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestWithGlobal: the extra lines land inside global_defs of the
// configuration an implementation starts with, and nowhere else; a floor
// (no configuration) is left alone.
func TestWithGlobal(t *testing.T) {
	var got string
	im := withGlobal(impl{name: "x", start: func(_ testing.TB, _ *testnet.Host, conf string) *testnet.Proc { got = conf; return nil }},
		[]string{"vrrp_priority -10", "vrrp_garp_interval 0"})
	im.start(t, nil, pairConf("BACKUP", 100, time.Second))
	want := "global_defs {\n    vrrp_priority -10\n    vrrp_garp_interval 0\n    router_id bench\n"
	if !strings.HasPrefix(got, want) || strings.Count(got, "vrrp_priority") != 1 {
		t.Errorf("configuration:\n%s\nwant it to begin with\n%s", got, want)
	}
	floor := impl{name: "floor", floor: true}
	if f := withGlobal(floor, []string{"vrrp_priority -10"}); f.start != nil {
		t.Error("a floor got a start function")
	}
}

// TestLastTimeline: the last timeline line of the instance after skip,
// with its CPUs when the line has them (an older vigild's has none).
func TestLastTimeline(t *testing.T) {
	const line = `time=x level=DEBUG msg="(VI_4) takeover timeline" instance=VI_4 due_unix_ns=1000 woke_us=20.5 ran_us=21.0 add_start_us=40.0 add_done_us=150.0 announced_us=210.5 add_failed=false announce_failed=false ann_queued_us=60.0 ann_start_us=151.0`
	out := line + " loop_cpu=0 worker_cpu=0\n" + line + " loop_cpu=0 worker_cpu=1\n" + strings.Replace(line, "VI_4", "VI_6", 2) + " loop_cpu=1 worker_cpu=1\n"
	due, us, cpus, ok := lastTimeline(out, 0, "VI_4")
	if !ok || due.UnixNano() != 1000 || us[0] != 20500*time.Nanosecond || us[4] != 210500*time.Nanosecond {
		t.Fatalf("got %v %v %v, want due 1000 ns and woke 20.5 µs … announced 210.5 µs", due.UnixNano(), us, ok)
	}
	if cpus != (lineCPUs{apart: true, known: true}) {
		t.Errorf("CPUs %+v, want the last VI_4 line's: apart", cpus)
	}
	if _, _, cpus, ok := lastTimeline(line+"\n", 0, "VI_4"); !ok || cpus.known {
		t.Errorf("a line without CPUs: ok %v, CPUs %+v, want none known", ok, cpus)
	}
	if _, _, _, ok := lastTimeline(out, len(out), "VI_4"); ok {
		t.Error("found a line before skip")
	}
}

// TestPrintTimelineNAGARP: the NA-GARP column is the median over a cell's
// trials of the client's first NA minus its first GARP, for keepalived's
// row (which has none of vigild's own points) as for vigild's; a trial
// whose NA came first counts negative.
func TestPrintTimelineNAGARP(t *testing.T) {
	us := func(n int) time.Duration { return time.Duration(n) * time.Microsecond }
	trial := func(own bool, garp, na int) trialResult {
		return trialResult{tl: &timeline{own: own, due: us(2), woke: us(40), ran: us(41), addStart: us(90), addDone: us(300), ann: us(360),
			vip: us(320), garp: us(garp), na: us(na), advert: us(200)}}
	}
	rows := []failoverRow{
		{sc: scCut, adv: 100 * time.Millisecond, impl: "vigild", res: []trialResult{trial(true, 400, 700), trial(true, 500, 650), trial(true, 450, 400)}},
		{sc: scCut, adv: 100 * time.Millisecond, impl: "keepalived", res: []trialResult{trial(false, 600, 800), trial(false, 550, 900), trial(false, 700, 820)}},
	}
	var b strings.Builder
	printTimeline(&b, rows, []scenario{scCut}, []time.Duration{100 * time.Millisecond})
	want := map[string]string{"vigild": "150", "keepalived": "200"} // medians of 300, 150, -50 and of 200, 350, 120
	for line := range strings.Lines(b.String()) {
		f := strings.Fields(line)
		if len(f) != 16 || f[0] != string(scCut) {
			continue
		}
		if w, ok := want[f[2]]; ok {
			if f[14] != w {
				t.Errorf("%s: NA-GARP %q, want %s\n%s", f[2], f[14], w, b.String())
			}
			delete(want, f[2])
		}
	}
	if len(want) > 0 {
		t.Errorf("no TIMELINE row for %v:\n%s", want, b.String())
	}
}
