package memtrim

import (
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
)

func TestProgramRanges(t *testing.T) {
	const maps = `00400000-0096d000 r-xp 00000000 fd:01 1234                               /usr/sbin/vigild
Size:               5556 kB
Rss:                4096 kB
Anonymous:             0 kB
0096d000-00ed5000 r--p 0056d000 fd:01 1234                               /usr/sbin/vigild
Size:               5536 kB
Anonymous:             0 kB
00ed5000-00ee0000 r--p 00ad5000 fd:01 1234                               /usr/sbin/vigild
Size:                 44 kB
Anonymous:            44 kB
00ee0000-00f47000 rw-p 00ae0000 fd:01 1234                               /usr/sbin/vigild
Anonymous:           100 kB
00f47000-02f8a000 rw-p 00000000 00:00 0
Anonymous:          2048 kB
7f13d5600000-7f13d5900000 r--p 00000000 fd:01 999                        /usr/lib/other
Anonymous:             0 kB
7ffe72726000-7ffe72747000 rw-p 00000000 00:00 0                          [stack]
7f141c39c000-7f141c39e000 r-xp 00000000 00:00 0                          [vdso]
`
	got, err := programRanges(strings.NewReader(maps), 1234)
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]uintptr{{0x400000, 0x96d000}, {0x96d000, 0xed5000}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("programRanges = %#x, want %#x (the read-only mappings of inode 1234 without private copies only: the relocated one must stay)", got, want)
	}
	if _, err := programRanges(strings.NewReader("zz r-xp 0 fd:01 1234 /x\n"), 1234); err == nil {
		t.Error("a malformed range was accepted")
	}
	if got, _ := programRanges(strings.NewReader(maps), 0); len(got) != 0 {
		t.Errorf("inode 0 (anonymous mappings) matched %#x", got)
	}
}

// TestTrimAfterStart drops this test binary's own program mappings and
// goes on running code and garbage collections.
func TestTrimAfterStart(t *testing.T) {
	n, err := AfterStart()
	if err != nil {
		t.Fatal(err)
	}
	if n <= 0 {
		t.Errorf("AfterStart dropped %d bytes, want the program's read-only mappings", n)
	}
	runtime.GC()
	var b strings.Builder
	for i := range 1000 {
		b.WriteString(strings.Repeat("x", i%7))
	}
	if b.Len() == 0 {
		t.Error("no output after the trim")
	}
}

// TestAfterStartPositionIndependent builds a small program
// position-independent (as some distributions build Go programs), whose
// read-only mappings include data the loader relocated, lets it trim
// itself and run code that reads that data. Dropping the relocated range
// crashes it.
func TestAfterStartPositionIndependent(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "pie")
	build := exec.Command("go", "build", "-buildmode=pie", "-o", bin, "./testdata/pie")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build -buildmode=pie: %v\n%s", err, out)
	}
	out, err := exec.Command(bin).CombinedOutput()
	if err != nil {
		t.Fatalf("the trimmed position-independent program failed: %v\n%s", err, out)
	}
	if !strings.HasPrefix(string(out), "dropped ") || strings.HasPrefix(string(out), "dropped 0 ") {
		t.Errorf("output %q: want a trim that dropped something", out)
	}
}

// Heap gives the pages of garbage back at once: the heap's free pages not
// yet returned to the system (HeapIdle − HeapReleased) fall below what the
// garbage held.
func TestHeapReleasesGarbage(t *testing.T) {
	const size = 32 << 20
	garbage := make([][]byte, 0, 512)
	for range 512 {
		b := make([]byte, size/512)
		for i := range b {
			b[i] = 1 // touch every page
		}
		garbage = append(garbage, b)
	}
	runtime.KeepAlive(garbage)
	garbage = nil
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	before := m.HeapIdle - m.HeapReleased
	Heap(slog.New(slog.DiscardHandler), "test")
	runtime.ReadMemStats(&m)
	after := m.HeapIdle - m.HeapReleased
	t.Logf("free heap pages kept: %d bytes before, %d after", before, after)
	if after > 1<<20 || after >= before {
		t.Errorf("Heap kept %d bytes of free heap pages (%d before), want at most 1 MiB", after, before)
	}
}

// SetGC sets the collector to GCPercent, unless GOGC says otherwise.
func TestSetGC(t *testing.T) {
	before := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(before) })

	t.Setenv("GOGC", "")
	if got := SetGC(); got != GCPercent {
		t.Errorf("SetGC() = %d without GOGC, want %d", got, GCPercent)
	}
	if p := debug.SetGCPercent(77); p != GCPercent {
		t.Errorf("the collector at %d after SetGC without GOGC, want %d", p, GCPercent)
	}

	// With GOGC set (the runtime read it at start; here the setting
	// made above stands for it), SetGC leaves the collector alone.
	t.Setenv("GOGC", "77")
	if got := SetGC(); got != 77 {
		t.Errorf("SetGC() = %d with GOGC=77, want the setting in force, 77", got)
	}
	if p := debug.SetGCPercent(100); p != 77 {
		t.Errorf("the collector at %d after SetGC with GOGC, want 77 left alone", p)
	}
}

// A GODEBUG value asks for huge pages when its last disablethp is 0.
func TestWantsHugePages(t *testing.T) {
	for _, c := range []struct {
		godebug string
		want    bool
	}{
		{"", false},
		{"gctrace=1", false},
		{"disablethp=0", true},
		{"gctrace=1,disablethp=0", true},
		{"gctrace=1, disablethp=0", false}, // the runtime reads " disablethp" as another name
		{"disablethp=1", false},
		{"disablethp=0,disablethp=1", false},
		{"disablethp=1,disablethp=0", true},
		{"xdisablethp=0", false},
	} {
		if got := wantsHugePages(c.godebug); got != c.want {
			t.Errorf("wantsHugePages(%q) = %v, want %v", c.godebug, got, c.want)
		}
	}
}

// The host's mode is the bracketed word of the kernel's list.
func TestHugePageMode(t *testing.T) {
	dir := t.TempDir()
	for i, c := range []struct{ in, want string }{
		{"always [madvise] never\n", "madvise"},
		{"[always] madvise never\n", "always"},
		{"always madvise [never]\n", "never"},
		{"always madvise never\n", "unknown"},
		{"[]\n", "unknown"},
		{"", "unknown"},
	} {
		f := filepath.Join(dir, strconv.Itoa(i))
		if err := os.WriteFile(f, []byte(c.in), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := hugePageMode(f); got != c.want {
			t.Errorf("hugePageMode(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := hugePageMode(filepath.Join(dir, "absent")); got != "unknown" {
		t.Errorf("hugePageMode of no file = %q, want unknown", got)
	}
}
