package main

import (
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"time"
)

// systemd's service notification protocol, for a Type=notify unit with
// WatchdogSec=: datagrams of NAME=VALUE lines on the unix socket named by
// $NOTIFY_SOCKET (a leading @ names an abstract socket). vigild sends
// READY=1 once running, RELOADING=1 then READY=1 around a SIGHUP reload,
// STOPPING=1 on SIGTERM, and WATCHDOG=1 while its event loop answers.

// sdNotifier sends notifications to the service manager; a nil one (not
// started by systemd) sends nothing.
type sdNotifier struct {
	addr     *net.UnixAddr
	watchdog time.Duration // 0: no watchdog asked for
}

// newSDNotifier reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID and
// removes them from the environment, so that scripts vigild runs do not
// inherit them. It returns nil without NOTIFY_SOCKET. The watchdog is
// vigild's only if WATCHDOG_PID is unset or names this process, as
// sd_watchdog_enabled(3) has it; a bad WATCHDOG_USEC is an error and no
// watchdog.
func newSDNotifier() (*sdNotifier, error) {
	path := os.Getenv("NOTIFY_SOCKET")
	usec, pid := os.Getenv("WATCHDOG_USEC"), os.Getenv("WATCHDOG_PID")
	for _, k := range []string{"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"} {
		os.Unsetenv(k)
	}
	if path == "" {
		return nil, nil
	}
	if path[0] != '/' && path[0] != '@' {
		return nil, errors.New("NOTIFY_SOCKET " + strconv.Quote(path) + " is neither an absolute path nor an abstract socket (@)")
	}
	n := &sdNotifier{addr: &net.UnixAddr{Name: path, Net: "unixgram"}}
	if usec == "" || (pid != "" && pid != strconv.Itoa(os.Getpid())) {
		return n, nil
	}
	v, err := strconv.ParseUint(usec, 10, 63)
	if err != nil || v == 0 || v > uint64(24*time.Hour/time.Microsecond) {
		return n, errors.New("WATCHDOG_USEC " + strconv.Quote(usec) + " is not a duration in microseconds; no watchdog")
	}
	n.watchdog = time.Duration(v) * time.Microsecond
	return n, nil
}

// send sends state (one or more NAME=VALUE lines) in one datagram.
func (n *sdNotifier) send(state string) error {
	if n == nil {
		return nil
	}
	c, err := net.DialUnix("unixgram", nil, n.addr)
	if err != nil {
		return err
	}
	defer c.Close()
	// The manager reads at once; a socket nobody reads never holds vigild.
	c.SetWriteDeadline(time.Now().Add(time.Second))
	_, err = c.Write([]byte(state))
	return err
}

// runWatchdog sends WATCHDOG=1 every half watchdog interval, each time
// only after alive has returned: alive asks vigild's event loop for its
// status, so a loop that is stuck stops the pings and systemd restarts
// vigild. It returns when ctx ends; without a watchdog at once.
func (n *sdNotifier) runWatchdog(ctx context.Context, alive func()) {
	if n == nil || n.watchdog == 0 {
		return
	}
	tick := time.NewTicker(n.watchdog / 2)
	defer tick.Stop()
	for {
		alive()
		if ctx.Err() != nil {
			return
		}
		n.send("WATCHDOG=1")
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
