package daemon

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// fdTimer wakes the loop through a CLOCK_MONOTONIC timerfd. Go's own
// timers are rounded to whole milliseconds by the network poller, which
// made every takeover 1–2 ms late at any advert interval; a timerfd's
// readiness wakes the poller within microseconds.
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
	go t.run()
	return t, nil
}

// run turns expirations into channel sends; it ends when Stop closes the
// file.
func (t *fdTimer) run() {
	var buf [8]byte
	for {
		if _, err := t.file.Read(buf[:]); err != nil {
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
	if err := unix.TimerfdSettime(t.fd, 0, &spec, nil); err != nil {
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
