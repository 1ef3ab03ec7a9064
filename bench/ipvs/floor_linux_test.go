package ipvsbench

import (
	"encoding/binary"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/vigil-ha/vigil/testnet/ipvslab"
)

// floorClose, when set, makes the test binary the floor process instead
// of running tests: "fin" closes each connection normally (as both
// daemons do), "rst" with SO_LINGER 0 (a reset, no TIME_WAIT).
var (
	floorClose    = flag.String("lab.floor", "", "run the floor loop of checkerConf's TCP_CHECKs, closing with fin or rst")
	floorServices = flag.Int("lab.floor-services", checkServices, "the floor loop's virtual servers")
)

func TestMain(m *testing.M) {
	flag.Parse()
	if *floorClose != "" {
		if err := runFloor(*floorClose == "rst", *floorServices); err != nil {
			fmt.Fprintln(os.Stderr, "floor:", err)
			os.Exit(1)
		}
		return
	}
	os.Exit(m.Run())
}

// runFloor is the least any checker can do for checkerConf(services)'s
// TCP_CHECKs at delay_loop 1: one thread, no scheduler, no runtime
// poller, the checks spread evenly over each second and started in
// batches (see below), each one socket, connect, (for a connect still in
// progress, poll and SO_ERROR) and close: the kernel's part of a TCP
// check plus one wake-up per batch. It runs until killed.
func runFloor(rst bool, services int) error {
	runtime.LockOSThread()
	var targets []unix.RawSockaddrInet4
	for i := range services {
		for j := range checkReals {
			a, err := netip.ParseAddr(ipvslab.RealAddr(j))
			if err != nil {
				return err
			}
			sa := unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: a.As4()}
			binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:], uint16(10000+i))
			targets = append(targets, sa)
		}
	}
	// Check i is due at i/n of a second from the start; a check not yet
	// due waits for the next slot of vigild's timer grid at delay_loop 1
	// (50 ms), so every check due in one slot starts after one wake-up.
	const slot = 50 * time.Millisecond
	n := time.Duration(len(targets))
	start := time.Now()
	for i := time.Duration(0); ; i++ {
		if due := i * time.Second / n; due > time.Since(start) {
			wake := (due + slot - 1) / slot * slot
			ts := unix.NsecToTimespec(int64(wake - time.Since(start)))
			for unix.Nanosleep(&ts, &ts) == unix.EINTR {
			}
		}
		if err := floorCheck(&targets[i%n], rst); err != nil {
			return err
		}
	}
}

// floorCheck is one check with raw system calls, as a C program makes
// them (no runtime bookkeeping around them: none of them blocks).
func floorCheck(sa *unix.RawSockaddrInet4, rst bool) error {
	r, _, errno := syscall.RawSyscall(unix.SYS_SOCKET, unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if errno != 0 {
		return errno
	}
	fd := int(r)
	defer syscall.RawSyscall(unix.SYS_CLOSE, uintptr(fd), 0, 0)
	if rst {
		if err := unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1}); err != nil {
			return err
		}
	}
	_, _, errno = syscall.RawSyscall(unix.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(sa)), unix.SizeofSockaddrInet4)
	switch errno {
	case 0:
		return nil
	case unix.EINPROGRESS:
	default:
		return fmt.Errorf("connect %v: %w", sa.Addr, errno)
	}
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
	for {
		if _, err := unix.Poll(pfd, 1000); err != unix.EINTR {
			break
		}
	}
	if soerr, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR); err != nil || soerr != 0 {
		return fmt.Errorf("connect %v: %v %v", sa.Addr, err, unix.Errno(soerr))
	}
	return nil
}

// benchFloor runs the floor process in the director and measures it as
// the daemons are measured.
func benchFloor(b *testing.B, l *ipvslab.Lab, closing string, services int) (sample, bool) {
	dir := l.Directors[0]
	p := dir.Start(b, os.Args[0], "-lab.floor="+closing, "-lab.floor-services="+strconv.Itoa(services))
	time.Sleep(3 * time.Second)
	name := "floor-" + closing
	use, connects, err := measure(b, dir, name, p.Pid())
	if err == nil && p.Exited() {
		err = fmt.Errorf("the floor process exited: %s", p.Output())
	}
	_ = p.Kill()
	if err != nil {
		b.Errorf("%s: %v", name, err)
		return sample{}, false
	}
	x := sample{use, connects, 0}
	b.Logf("%s: %s for the same %d TCP checks a second without a daemon", name, x, services*checkReals)
	return x, true
}

// syscallsPerCheck attaches strace -c to pid's process tree for a few
// seconds, after the CPU window (tracing slows the process down), and logs
// the system calls per connect call (one a check). Without strace in the
// VM it does nothing.
func syscallsPerCheck(b *testing.B, name string, pid int) error {
	strace, err := exec.LookPath("strace")
	if err != nil {
		return nil
	}
	_, pids, err := tree(pid)
	if err != nil {
		return err
	}
	out := filepath.Join(b.TempDir(), "strace-"+name)
	args := []string{"-c", "-f", "-q", "-o", out}
	for _, p := range pids {
		args = append(args, "-p", strconv.Itoa(p))
	}
	cmd := exec.Command(strace, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	time.Sleep(5 * time.Second)
	_ = cmd.Process.Signal(os.Interrupt)
	werr := cmd.Wait() // strace's status on SIGINT varies; the summary counts
	raw, err := os.ReadFile(out)
	if err != nil {
		return fmt.Errorf("%v (strace: %v: %s)", err, werr, stderr.String())
	}
	type count struct {
		name  string
		calls float64
	}
	var counts []count
	var total, connects float64
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 || f[len(f)-1] == "syscall" || f[len(f)-1] == "total" {
			continue
		}
		calls, err := strconv.ParseFloat(f[3], 64)
		if err != nil {
			continue
		}
		counts = append(counts, count{f[len(f)-1], calls})
		total += calls
		if f[len(f)-1] == "connect" {
			connects = calls
		}
	}
	if connects == 0 {
		return fmt.Errorf("no connect in strace's summary:\n%s", raw)
	}
	var lines []string
	for _, c := range counts {
		lines = append(lines, fmt.Sprintf("%s %.2f", c.name, c.calls/connects))
	}
	b.Logf("%s: %.1f system calls per check under strace (%.0f connect calls): %s", name, total/connects, connects, strings.Join(lines, ", "))
	return nil
}
