package memtrim

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/vigil-ha/vigil/testnet"
)

// Set in a child test process's environment: hugePageChild makes
// TestHugePagesChild run, modeFileEnv names the host's mode for it, and
// startsEnv a file each image of the child adds a line to.
const (
	hugePageChild = "MEMTRIM_HUGEPAGE_CHILD"
	modeFileEnv   = "MEMTRIM_HUGEPAGE_MODE"
	startsEnv     = "MEMTRIM_HUGEPAGE_STARTS"
)

// TestHugePagesChild is the child of TestNoHugePages: it calls
// NoHugePagesFrom, asks for huge pages on 8 MiB of its own (MADV_HUGEPAGE,
// which the kernel honours in its "always" and "madvise" modes), touches
// them, and prints whether the process has huge pages off, how many
// kilobytes of huge pages those 8 MiB and the whole process hold, its
// name, and what a program it runs is told.
func TestHugePagesChild(t *testing.T) {
	if os.Getenv(hugePageChild) != "1" {
		return // only as TestNoHugePages's child
	}
	f, err := os.OpenFile(os.Getenv(startsEnv), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, "started")
	f.Close()
	errText := ""
	if err := NoHugePagesFrom(os.Getenv(modeFileEnv)); err != nil {
		errText = err.Error()
	}
	const huge = 2 << 20
	m, err := unix.Mmap(-1, 0, 5*huge, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	off := 0
	for (uintptr(unsafe.Pointer(&m[0]))+uintptr(off))%huge != 0 {
		off += os.Getpagesize()
	}
	region := m[off : off+4*huge]
	if err := unix.Madvise(region, unix.MADV_HUGEPAGE); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(region); i += os.Getpagesize() {
		region[i] = 1
	}
	script, err := exec.Command("sh", "-c", "grep THP_enabled /proc/self/status; echo \"${"+StartedAgainEnv+":-unset}\"").Output()
	if err != nil {
		t.Fatal(err)
	}
	comm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("err=%q off=%v regionkB=%d totalkB=%d comm=%q script=%q\n", errText, HugePagesOff(), mappingHugeKB(t, uintptr(unsafe.Pointer(&region[0]))), anonHugeKB(t),
		strings.TrimSpace(string(comm)), strings.Join(strings.Fields(string(script)), " "))
}

// mappingHugeKB returns the kilobytes of anonymous huge pages in this
// process's mapping that holds addr (its block of /proc/self/smaps).
func mappingHugeKB(t *testing.T, addr uintptr) int {
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	var block strings.Builder
	in := false
	for line := range strings.Lines(string(b)) {
		if f := strings.Fields(line); len(f) > 0 && !strings.HasSuffix(f[0], ":") {
			// A mapping's header: "lo-hi perms ...".
			lo, hi, _ := strings.Cut(f[0], "-")
			l, err1 := strconv.ParseUint(lo, 16, 64)
			h, err2 := strconv.ParseUint(hi, 16, 64)
			in = err1 == nil && err2 == nil && uint64(addr) >= l && uint64(addr) < h
			continue
		}
		if in {
			block.WriteString(line)
		}
	}
	return kbOf(t, block.String(), "AnonHugePages")
}

// anonHugeKB returns the kilobytes of anonymous huge pages this process
// holds (/proc/self/smaps_rollup).
func anonHugeKB(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/smaps_rollup")
	if err != nil {
		t.Fatal(err)
	}
	return kbOf(t, string(b), "AnonHugePages")
}

// kbOf reads the "key: N kB" figure of a /proc listing.
func kbOf(t *testing.T, s, key string) int {
	t.Helper()
	kb, err := testnet.ParseStatusKB(s, key)
	if err != nil {
		t.Fatalf("%v in %q", err, s)
	}
	return int(kb[0])
}

// NoHugePages turns transparent huge pages off for the process, and what
// it runs, unless GODEBUG asks for them or the host has none: memory the
// process asks to have in huge pages then comes in small ones. Where the
// host's mode is "always" it starts the program again, under its own
// name, so that the pages the runtime touched before main are small ones
// too. The host's mode is given to each child in a file of the test's.
func TestNoHugePages(t *testing.T) {
	host, err := os.ReadFile(thpEnabled)
	if err != nil {
		t.Fatalf("this kernel has no transparent huge pages to turn off: %v", err)
	}
	// Where the host's mode is "never", no process gets huge pages, so
	// only the setting itself can be checked.
	canHuge := !strings.Contains(string(host), "[never]")
	self, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimSpace(string(self))
	dir := t.TempDir()
	for i, c := range []struct {
		mode, godebug string
		off           bool
		starts        int
		// again: the child is told it is the image started again
		// (the variable NoHugePages passes to it), without the setting;
		// it must say so and not start a third time.
		again bool
	}{
		{"always [madvise] never", "", true, 1, false},
		{"always [madvise] never", "gctrace=0", true, 1, false},
		{"[always] madvise never", "", true, 2, false},
		{"[always] madvise never", "disablethp=0", false, 1, false},
		{"always madvise [never]", "", false, 1, false},
		{"[always] madvise never", "", false, 1, true},
	} {
		what := fmt.Sprintf("mode %q, GODEBUG=%q", c.mode, c.godebug)
		modeFile, starts := filepath.Join(dir, fmt.Sprint("mode", i)), filepath.Join(dir, fmt.Sprint("starts", i))
		if err := os.WriteFile(modeFile, []byte(c.mode+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(starts, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestHugePagesChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), hugePageChild+"=1", modeFileEnv+"="+modeFile, startsEnv+"="+starts, "GODEBUG="+c.godebug)
		if c.again {
			cmd.Env = append(cmd.Env, StartedAgainEnv+"="+name)
		}
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: child: %v\n%s", what, err, out)
		}
		var off bool
		var regionKB, totalKB int
		var errText, comm, script string
		line, _, _ := strings.Cut(string(out), "\n")
		if _, err := fmt.Sscanf(line, "err=%q off=%t regionkB=%d totalkB=%d comm=%q script=%q", &errText, &off, &regionKB, &totalKB, &comm, &script); err != nil {
			t.Fatalf("%s: child said %q: %v", what, out, err)
		}
		b, err := os.ReadFile(starts)
		if err != nil {
			t.Fatal(err)
		}
		n := strings.Count(string(b), "started")
		t.Logf("%s (again %v): error %q, started %d times, huge pages off %v, %d kB of them in the 8 MiB and %d kB in all, named %q, its script: %s", what, c.again, errText, n, off, regionKB, totalKB, comm, script)
		if (errText != "") != c.again {
			t.Errorf("%s: NoHugePagesFrom said %q, want an error only for an image started again without the setting", what, errText)
		}
		if off != c.off {
			t.Errorf("%s: huge pages off = %v, want %v", what, off, c.off)
		}
		if n != c.starts {
			t.Errorf("%s: the program started %d times, want %d", what, n, c.starts)
		}
		if comm != name {
			t.Errorf("%s: the process is named %q, want %q as before", what, comm, name)
		}
		wantScript := "THP_enabled: 1 unset"
		if c.off {
			wantScript = "THP_enabled: 0 unset"
		}
		if script != wantScript {
			t.Errorf("%s: a script it runs says %q, want %q", what, script, wantScript)
		}
		switch {
		case c.off && regionKB != 0:
			t.Errorf("%s: %d kB of huge pages in the 8 MiB asked for with MADV_HUGEPAGE, with them off", what, regionKB)
		case !c.off && canHuge && regionKB != 8192:
			t.Errorf("%s: %d kB of huge pages in the 8 MiB asked for with MADV_HUGEPAGE, want all of it (host: %q)", what, regionKB, strings.TrimSpace(string(host)))
		}
		// Started again, the process has no huge page at all, also where
		// the host's mode is "always" and the runtime's first pages were
		// huge ones before the exec.
		if n == 2 && totalKB != 0 {
			t.Errorf("%s: %d kB of huge pages in the process started again", what, totalKB)
		}
	}
}
