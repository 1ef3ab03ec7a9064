package main

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"os/exec"
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
	o, err := parseFlags([]string{"-quick", "-impl", "vigild", "-window", "1s"}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := bench(t, o, &out, testWriter{t}); err != nil {
		t.Fatal(err)
	}
	t.Logf("output:\n%s", out.String())
	rows := map[string][]string{}
	for line := range strings.Lines(out.String()) {
		f := strings.Fields(line)
		if len(f) > 2 {
			rows[f[0]+" "+f[1]+" "+f[2]] = f
		}
	}
	for _, s := range []scenario{scCut, scKill, scTerm} {
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
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

var (
	macA = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0a}
	macB = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0b}
)

func eth(src net.HardwareAddr, etherType uint16, payload ...[]byte) testnet.Packet {
	b := append([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, src...)
	b = binary.BigEndian.AppendUint16(b, etherType)
	for _, p := range payload {
		b = append(b, p...)
	}
	return testnet.Packet{Time: time.Unix(1, 0), Data: b}
}

func ipv4(proto byte, src, dst string) []byte {
	h := make([]byte, 20)
	h[0], h[8], h[9] = 0x45, 255, proto
	copy(h[12:16], netip.MustParseAddr(src).AsSlice())
	copy(h[16:20], netip.MustParseAddr(dst).AsSlice())
	return h
}

func ipv6(next byte, src, dst string) []byte {
	h := make([]byte, 40)
	h[0], h[6], h[7] = 0x60, next, 255
	copy(h[8:24], netip.MustParseAddr(src).AsSlice())
	copy(h[24:40], netip.MustParseAddr(dst).AsSlice())
	return h
}

func arpPkt(op uint16, spa, tpa string) []byte {
	b := []byte{0, 1, 8, 0, 6, 4}
	b = binary.BigEndian.AppendUint16(b, op)
	b = append(b, macB...)
	b = append(b, netip.MustParseAddr(spa).AsSlice()...)
	b = append(b, 0, 0, 0, 0, 0, 0)
	return append(b, netip.MustParseAddr(tpa).AsSlice()...)
}

func na(flags byte, target string) []byte {
	b := []byte{136, 0, 0, 0, flags, 0, 0, 0}
	return append(b, netip.MustParseAddr(target).AsSlice()...)
}

// TestClassify: frames are told apart as the benchmark needs, field by
// field (VRRP header: version/type, VRID, priority, count, interval).
func TestClassify(t *testing.T) {
	vrrp := func(vrid, prio byte) []byte { return []byte{0x31, vrid, prio, 1, 0, 10, 0, 0, 192, 0, 2, 254} }
	for _, c := range []struct {
		name string
		p    testnet.Packet
		want frame
	}{
		{"v4 advert", eth(macA, etherIPv4, ipv4(112, "192.0.2.1", "224.0.0.18"), vrrp(51, 150)),
			frame{kind: kindAdvert, vrid: 51, prio: 150}},
		{"v4 advert prio 0", eth(macA, etherIPv4, ipv4(112, "192.0.2.1", "224.0.0.18"), vrrp(7, 0)),
			frame{kind: kindAdvert, vrid: 7, prio: 0}},
		{"v6 advert", eth(macA, etherIPv6, ipv6(112, "fe80::1", "ff02::12"), vrrp(51, 100)),
			frame{kind: kindAdvert, v6: true, vrid: 51, prio: 100}},
		{"v4 other proto", eth(macA, etherIPv4, ipv4(17, "192.0.2.1", "192.0.2.2"), vrrp(51, 100)), frame{}},
		{"v4 truncated VRRP", eth(macA, etherIPv4, ipv4(112, "192.0.2.1", "224.0.0.18"), []byte{0x31, 51}), frame{}},
		{"gratuitous ARP request", eth(macB, etherARP, arpPkt(1, "192.0.2.254", "192.0.2.254")),
			frame{kind: kindGARP, addr: netip.MustParseAddr("192.0.2.254")}},
		{"gratuitous ARP reply", eth(macB, etherARP, arpPkt(2, "192.0.2.254", "192.0.2.254")),
			frame{kind: kindGARP, addr: netip.MustParseAddr("192.0.2.254")}},
		{"ordinary ARP request", eth(macB, etherARP, arpPkt(1, "192.0.2.2", "192.0.2.100")), frame{}},
		{"unsolicited NA", eth(macB, etherIPv6, ipv6(58, "fe80::2", "ff02::1"), na(0xa0, "2001:db8:1::254")),
			frame{kind: kindNA, v6: true, addr: netip.MustParseAddr("2001:db8:1::254")}},
		{"solicited NA", eth(macB, etherIPv6, ipv6(58, "fe80::2", "fe80::100"), na(0x60, "2001:db8:1::254")),
			frame{v6: false}},
		{"short", testnet.Packet{Data: []byte{1, 2, 3}}, frame{}},
	} {
		got := classify(c.p)
		if got.kind != c.want.kind || got.v6 != c.want.v6 && c.want.kind != kindOther || got.vrid != c.want.vrid ||
			got.prio != c.want.prio || got.addr != c.want.addr {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
		if len(c.p.Data) >= 14 && !got.from(net.HardwareAddr(c.p.Data[6:12])) {
			t.Errorf("%s: source MAC %v", c.name, got.srcMAC)
		}
	}
	if f := classify(eth(macA, etherIPv4, ipv4(112, "192.0.2.1", "224.0.0.18"), vrrp(1, 1))); f.from(macB) {
		t.Errorf("from(%v) true for a frame from %v", macB, macA)
	}
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
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags([]string{"-quick"}, new(bytes.Buffer))
	if err != nil || o.trials != 1 || len(o.intervals) != 1 || o.intervals[0] != 100*time.Millisecond ||
		len(o.impls) != 2 || len(o.scenarios) != 3 || o.window != 3*time.Second {
		t.Errorf("-quick: %+v, %v", o, err)
	}
	o, err = parseFlags(nil, new(bytes.Buffer))
	if err != nil || o.trials != 5 || len(o.intervals) != 3 || o.intervals[2] != 10*time.Millisecond || o.window != 10*time.Second {
		t.Errorf("defaults: %+v, %v", o, err)
	}
	for _, bad := range [][]string{{"-intervals", "0.005"}, {"-intervals", "0.015"}, {"-intervals", "x"},
		{"-impl", "bird"}, {"-scenarios", "cut,flood"}, {"-n", "0"}, {"extra"}} {
		if _, err := parseFlags(bad, new(bytes.Buffer)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
