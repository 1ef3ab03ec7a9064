package ctl

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// userHZ is the unit of the times in /proc/<pid>/stat: USER_HZ, 100 on
// every Linux architecture (what Prometheus' procfs assumes too).
const userHZ = 100

// readProcess reads vigild's CPU time, memory, start time and file
// descriptors from /proc/self, as client_golang's process collector does.
func readProcess() (processStats, error) {
	var p processStats
	stat, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return p, err
	}
	f, err := statFields(stat)
	if err != nil {
		return p, err
	}
	boot, err := bootTime()
	if err != nil {
		return p, err
	}
	p.CPUSeconds = float64(f.utime+f.stime) / userHZ
	p.StartTime = float64(boot) + float64(f.starttime)/userHZ
	p.VirtualBytes = float64(f.vsize)
	p.ResidentBytes = float64(f.rss) * float64(os.Getpagesize())

	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return p, err
	}
	p.OpenFDs = float64(len(fds))
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return p, err
	}
	p.MaxFDs = rlimitValue(lim.Cur)
	if err := unix.Getrlimit(unix.RLIMIT_AS, &lim); err != nil {
		return p, err
	}
	p.MaxVirtualBytes = rlimitValue(lim.Cur)
	return p, nil
}

// rlimitValue is a soft limit as client_golang reports it: unlimited is
// 2^64-1.
func rlimitValue(v uint64) float64 {
	if v == unix.RLIM_INFINITY {
		return math.MaxUint64
	}
	return float64(v)
}

// procStat holds the fields of /proc/<pid>/stat the metrics use.
type procStat struct {
	utime, stime, starttime, vsize, rss uint64
}

// statFields parses /proc/<pid>/stat (proc(5)): the command name, in
// parentheses, may hold spaces and parentheses itself, so the fields are
// counted from the last ')'.
func statFields(b []byte) (procStat, error) {
	var s procStat
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return s, errors.New("ctl: /proc/self/stat: no command name")
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 (state); field n is f[n-3].
	const utime, stime, starttime, vsize, rss = 14 - 3, 15 - 3, 22 - 3, 23 - 3, 24 - 3
	if len(f) <= rss {
		return s, fmt.Errorf("ctl: /proc/self/stat: %d fields after the command name", len(f))
	}
	for _, x := range []struct {
		to *uint64
		i  int
	}{{&s.utime, utime}, {&s.stime, stime}, {&s.starttime, starttime}, {&s.vsize, vsize}, {&s.rss, rss}} {
		v, err := strconv.ParseUint(string(f[x.i]), 10, 64)
		if err != nil {
			return s, fmt.Errorf("ctl: /proc/self/stat: field %d: %w", x.i+3, err)
		}
		*x.to = v
	}
	return s, nil
}

// bootTime reads btime, the boot time in seconds since the Unix epoch,
// from /proc/stat.
func bootTime() (uint64, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte("btime ")); ok {
			return strconv.ParseUint(string(bytes.TrimSpace(v)), 10, 64)
		}
	}
	return 0, errors.New("ctl: /proc/stat: no btime")
}
