package memtrim

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// GCPercent is the collector's setting vigild runs with (SetGC): it trades
// a little GC CPU for memory. vigild's VRRP heap is small and steady, and
// at Go's default of 100 its resident size with 50 instances was 17 MB
// against 15 MB at 50; with conntrack sync at 100k flows a vigild at 100
// peaked about 2 MB higher per box (BenchmarkFirewallTakeover).
const GCPercent = 50

// SetGC sets the collector to GCPercent unless GOGC in the environment
// says otherwise, and returns the setting in force. Every way of running
// the daemon's code for its figures (vigild itself, its test binary
// started as vigild, ct-bench's nodes) calls it, so that their memory and
// CPU are vigild's.
func SetGC() int {
	if os.Getenv("GOGC") != "" {
		p := debug.SetGCPercent(100)
		debug.SetGCPercent(p)
		return p
	}
	debug.SetGCPercent(GCPercent)
	return GCPercent
}

// Trim runs AfterStart and logs what it did.
func Trim(log *slog.Logger) {
	if n, err := AfterStart(); err != nil {
		log.Warn("could not release start-up memory", "err", err)
	} else {
		log.Debug("released start-up memory", "program_bytes", n)
	}
}

// Heap gives back now the heap pages freed since the last collection: it
// collects, then returns every free page to the system. For the garbage a
// transient task leaves, such as a takeover's commit, the flush of the
// external cache and the bulk to the peer; the collector would otherwise
// keep those pages until its next cycle, and the background scavenger
// returns them later still, or not at all while the heap's goal covers
// them. after names the task in the log.
func Heap(log *slog.Logger, after string) {
	debug.FreeOSMemory()
	log.Debug("released memory", "after", after)
}

// AfterStart gives back the memory that only starting needed, once the
// daemon runs: the heap pages freed by then (the configuration's parse,
// the sockets' and instances' set-up) and this process's mappings of the
// program's read-only pages (code, read-only data, the function tables).
// Starting touches much of the program (every package's initialisation,
// the configuration reader, netlink set-up) and the kernel maps the
// neighbours of each page touched too, so that most of the binary stayed
// resident; afterwards the pages the daemon uses fault back in from the
// page cache, where all of them stay. Nothing writable is touched, so no
// state can be lost. It returns the bytes of program mappings dropped.
func AfterStart() (int64, error) {
	debug.FreeOSMemory()
	var st syscall.Stat_t
	if err := syscall.Stat("/proc/self/exe", &st); err != nil {
		return 0, fmt.Errorf("trim: %w", err)
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return 0, fmt.Errorf("trim: %w", err)
	}
	defer f.Close()
	ranges, err := programRanges(f, st.Ino)
	if err != nil {
		return 0, fmt.Errorf("trim: %w", err)
	}
	var dropped int64
	for _, r := range ranges {
		if _, _, e := unix.Syscall(unix.SYS_MADVISE, r[0], r[1]-r[0], unix.MADV_DONTNEED); e != 0 {
			return dropped, fmt.Errorf("trim: madvise %#x-%#x: %w", r[0], r[1], e)
		}
		dropped += int64(r[1] - r[0])
	}
	return dropped, nil
}

// programRanges returns, from a /proc/PID/smaps listing, the address
// ranges of the file with inode ino mapped private and read-only (r-xp,
// r--p) that hold no private copy of any page (Anonymous: 0 kB): pages
// that always equal the file's. A read-only range with private copies
// (what a position-independent build's relocations leave behind, made
// read-only after they were written) is kept: dropping it would bring
// back the file's unrelocated bytes.
func programRanges(r io.Reader, ino uint64) ([][2]uintptr, error) {
	var out [][2]uintptr
	var cur [2]uintptr
	candidate := false // cur is a read-only mapping of the program
	anonymous := false // cur holds private copies
	done := func() {
		if candidate && !anonymous {
			out = append(out, cur)
		}
		candidate, anonymous = false, false
	}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if strings.HasSuffix(f[0], ":") {
			// A field of the current mapping: "Anonymous: 4 kB".
			if f[0] == "Anonymous:" && candidate && (len(f) < 2 || f[1] != "0") {
				anonymous = true
			}
			continue
		}
		// A mapping's header: address perms offset dev inode [path].
		done()
		if len(f) < 5 || (f[1] != "r-xp" && f[1] != "r--p") {
			continue
		}
		if n, err := strconv.ParseUint(f[4], 10, 64); err != nil || n != ino || n == 0 {
			continue
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		if !ok {
			return nil, fmt.Errorf("smaps: bad range %q", f[0])
		}
		a, err1 := strconv.ParseUint(lo, 16, 64)
		b, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || b <= a {
			return nil, fmt.Errorf("smaps: bad range %q", f[0])
		}
		cur, candidate = [2]uintptr{uintptr(a), uintptr(b)}, true
	}
	done()
	return out, sc.Err()
}
