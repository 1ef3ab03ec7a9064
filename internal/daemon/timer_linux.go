package daemon

import (
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// fdTimer wakes the loop through a CLOCK_MONOTONIC timerfd. Go's own
// timers are rounded to whole milliseconds by the network poller, which
// made every takeover 1–2 ms late at any advert interval; a timerfd's
// readiness wakes the poller within microseconds.
//
// Its reads and settings are raw system calls (they never block: the fd
// is non-blocking and read only when the poller says it is ready): an
// ordinary system call wakes the runtime's monitor thread whenever every
// P was idle, and that thread then polls every 20 µs for a millisecond
// or more (a burst of nanosleep calls on every timer wake-up of an idle
// daemon).
type fdTimer struct {
	fd   int
	file *os.File
	c    chan time.Time
}

func newFDTimer() (loopTimer, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, err
	}
	t := &fdTimer{fd: fd, file: os.NewFile(uintptr(fd), "vigild-timerfd"), c: make(chan time.Time, 1)}
	rc, err := t.file.SyscallConn()
	if err != nil {
		t.file.Close()
		return nil, err
	}
	go t.run(rc)
	return t, nil
}

// run turns expirations into channel sends; it ends when Stop closes the
// file.
func (t *fdTimer) run(rc syscall.RawConn) {
	var buf [8]byte
	var rerr syscall.Errno
	read := func(fd uintptr) bool {
		_, _, rerr = unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
		return rerr != unix.EAGAIN // EAGAIN: not expired yet, wait for the poller
	}
	for {
		if err := rc.Read(read); err != nil {
			return
		}
		if rerr != 0 && rerr != unix.EINTR {
			return
		}
		select {
		case t.c <- time.Now():
		default: // the loop has a wake-up pending already
		}
	}
}

func (t *fdTimer) C() <-chan time.Time { return t.c }

// Reset arms the timer to fire once after d (at least 1 ns: zero would
// disarm it). A wake-up already pending for the previous deadline is
// dropped, as time.Timer.Reset does since Go 1.23.
func (t *fdTimer) Reset(d time.Duration) {
	d = max(d, time.Nanosecond)
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(d.Nanoseconds())}
	select {
	case <-t.c:
	default:
	}
	if _, _, e := unix.RawSyscall6(unix.SYS_TIMERFD_SETTIME, uintptr(t.fd), 0, uintptr(unsafe.Pointer(&spec)), 0, 0, 0); e != 0 {
		// Cannot happen with a valid fd and spec; fall back to a Go timer
		// rather than never waking.
		time.AfterFunc(d, func() {
			select {
			case t.c <- time.Now():
			default:
			}
		})
	}
}

func (t *fdTimer) Stop() { t.file.Close() }
