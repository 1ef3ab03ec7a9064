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
//
// An expiration calls fire on the timer's own goroutine, the one the
// poller woke: the loop's timer turn runs where the wake-up landed,
// without waking a second goroutine for it.
type fdTimer struct {
	fd   int
	file *os.File
	fire func(woke time.Time)
	done chan struct{} // closed when run has returned
}

func newFDTimer(fire func(woke time.Time)) (loopTimer, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, err
	}
	t := &fdTimer{fd: fd, file: os.NewFile(uintptr(fd), "vigild-timerfd"), fire: fire, done: make(chan struct{})}
	rc, err := t.file.SyscallConn()
	if err != nil {
		t.file.Close()
		return nil, err
	}
	go t.run(rc)
	return t, nil
}

// run turns expirations into calls of fire; it ends when Stop closes the
// file.
func (t *fdTimer) run(rc syscall.RawConn) {
	defer close(t.done)
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
		t.fire(time.Now())
	}
}

// Reset arms the timer to fire once after d (at least 1 ns: zero would
// disarm it). A call of fire already under way for the previous deadline
// still runs: the loop finds nothing due and arms the timer again.
func (t *fdTimer) Reset(d time.Duration) {
	d = max(d, time.Nanosecond)
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(d.Nanoseconds())}
	if _, _, e := unix.RawSyscall6(unix.SYS_TIMERFD_SETTIME, uintptr(t.fd), 0, uintptr(unsafe.Pointer(&spec)), 0, 0, 0); e != 0 {
		// Cannot happen with a valid fd and spec; fall back to a Go timer
		// rather than never waking.
		time.AfterFunc(d, func() { t.fire(time.Now()) })
	}
}

// Stop closes the timer and waits until its goroutine has returned: no
// call of fire starts after it (one by the fallback of Reset still may).
func (t *fdTimer) Stop() {
	t.file.Close()
	<-t.done
}
