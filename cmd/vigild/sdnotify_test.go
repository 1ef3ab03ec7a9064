package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/testnet"
)

// fakeManager is the service manager's end of NOTIFY_SOCKET: a unixgram
// socket whose datagrams the test reads in order.
type fakeManager struct {
	addr string
	c    *net.UnixConn
	got  chan string
}

// newFakeManager listens on name: a path, or @name for an abstract socket.
func newFakeManager(t *testing.T, name string) *fakeManager {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	m := &fakeManager{addr: name, c: c, got: make(chan string, 1000)}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			if err != nil {
				close(m.got)
				return
			}
			m.got <- string(buf[:n])
		}
	}()
	return m
}

// expect waits for a datagram equal to want, skipping WATCHDOG=1 unless
// that is what is wanted, and fails on any other one.
func (m *fakeManager) expect(t *testing.T, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case s, ok := <-m.got:
			if !ok {
				t.Fatalf("notify socket closed while waiting for %q", want)
			}
			if s == want {
				return
			}
			if s == "WATCHDOG=1" {
				continue
			}
			t.Fatalf("notification %q, want %q", s, want)
		case <-deadline:
			t.Fatalf("no %q within %v", want, timeout)
		}
	}
}

// TestSDNotifierEnvironment: NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID
// are read as sd_notify(3) and sd_watchdog_enabled(3) read them, and are
// gone from the environment afterwards (scripts must not inherit them).
func TestSDNotifierEnvironment(t *testing.T) {
	self := strconv.Itoa(os.Getpid())
	for _, tc := range []struct {
		name, sock, usec, pid string
		nilN, wantErr         bool
		watchdog              time.Duration
	}{
		{name: "not under systemd", nilN: true},
		{name: "watchdog without socket", usec: "1000000", nilN: true},
		{name: "relative socket", sock: "run/notify", nilN: true, wantErr: true},
		{name: "path", sock: "/run/systemd/notify"},
		{name: "abstract", sock: "@vigil-notify"},
		{name: "watchdog", sock: "/run/n", usec: "20000000", watchdog: 20 * time.Second},
		{name: "watchdog for us", sock: "/run/n", usec: "500000", pid: self, watchdog: 500 * time.Millisecond},
		{name: "watchdog for another process", sock: "/run/n", usec: "500000", pid: "1"},
		{name: "watchdog garbage", sock: "/run/n", usec: "5s", wantErr: true},
		{name: "watchdog zero", sock: "/run/n", usec: "0", wantErr: true},
		{name: "watchdog negative", sock: "/run/n", usec: "-1", wantErr: true},
		{name: "watchdog huge", sock: "/run/n", usec: "99999999999999999999", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("NOTIFY_SOCKET", tc.sock)
			t.Setenv("WATCHDOG_USEC", tc.usec)
			t.Setenv("WATCHDOG_PID", tc.pid)
			n, err := newSDNotifier()
			if (err != nil) != tc.wantErr {
				t.Errorf("error %v, want error %v", err, tc.wantErr)
			}
			if (n == nil) != tc.nilN {
				t.Fatalf("notifier %+v, want nil %v", n, tc.nilN)
			}
			if n != nil && n.watchdog != tc.watchdog {
				t.Errorf("watchdog %v, want %v", n.watchdog, tc.watchdog)
			}
			for _, k := range []string{"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"} {
				if v, ok := os.LookupEnv(k); ok {
					t.Errorf("%s=%q still in the environment", k, v)
				}
			}
		})
	}
}

// TestSDNotifySends: a notification reaches a socket named by a path and
// an abstract one; a nil notifier sends nothing and does not fail; a
// socket nobody listens on is an error, not a hang.
func TestSDNotifySends(t *testing.T) {
	for _, name := range []string{filepath.Join(t.TempDir(), "notify"), "@vigil-test-notify-" + strconv.Itoa(os.Getpid())} {
		m := newFakeManager(t, name)
		t.Setenv("NOTIFY_SOCKET", name)
		n, err := newSDNotifier()
		if err != nil || n == nil {
			t.Fatalf("%s: notifier %v, %v", name, n, err)
		}
		if err := n.send("READY=1\nSTATUS=running"); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		m.expect(t, "READY=1\nSTATUS=running", 10*time.Second)
	}
	var none *sdNotifier
	if err := none.send("READY=1"); err != nil {
		t.Errorf("nil notifier: %v", err)
	}
	gone := &sdNotifier{addr: &net.UnixAddr{Name: filepath.Join(t.TempDir(), "nobody"), Net: "unixgram"}}
	if err := gone.send("READY=1"); err == nil {
		t.Error("send to a socket that does not exist succeeded")
	}
}

// TestWatchdogFollowsTheLoop: WATCHDOG=1 is sent only after the liveness
// probe has returned; while the probe is stuck (a stuck event loop) no
// ping goes out, however many intervals pass; cancelling ends it.
func TestWatchdogFollowsTheLoop(t *testing.T) {
	m := newFakeManager(t, filepath.Join(t.TempDir(), "notify"))
	n := &sdNotifier{addr: &net.UnixAddr{Name: m.addr, Net: "unixgram"}, watchdog: 20 * time.Millisecond}
	var mu sync.Mutex
	stuck := make(chan struct{})
	probes := 0
	alive := func() {
		mu.Lock()
		probes++
		p := probes
		mu.Unlock()
		if p == 3 {
			<-stuck // the third probe hangs until released
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		n.runWatchdog(ctx, alive)
		close(done)
	}()
	m.expect(t, "WATCHDOG=1", 10*time.Second)
	m.expect(t, "WATCHDOG=1", 10*time.Second)
	// The third probe hangs: 25 intervals pass without a ping.
	select {
	case s := <-m.got:
		t.Fatalf("%q sent while the loop was stuck", s)
	case <-time.After(500 * time.Millisecond):
	}
	close(stuck)
	m.expect(t, "WATCHDOG=1", 10*time.Second)
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("runWatchdog did not return after cancel")
	}

	// Without a watchdog it returns at once and probes nothing.
	probes = 0
	(&sdNotifier{addr: n.addr}).runWatchdog(t.Context(), alive)
	if probes != 0 {
		t.Errorf("probed %d times without a watchdog", probes)
	}
}

// TestSystemdNotify runs vigild -n as systemd's Type=notify unit with
// WatchdogSec= starts it, against a fake manager: READY=1 once running,
// WATCHDOG=1 pings, RELOADING=1 then READY=1 around a SIGHUP reload,
// STOPPING=1 on SIGTERM; a notify script does not inherit NOTIFY_SOCKET.
func TestSystemdNotify(t *testing.T) {
	testnet.NeedRoot(t, "ip")
	l := newLab(t)
	dir := t.TempDir()
	m := newFakeManager(t, filepath.Join(dir, "notify"))
	envOut := filepath.Join(dir, "script-env")
	script := testnet.WriteScript(t, dir, "master.sh", "env > "+envOut+".tmp; mv "+envOut+".tmp "+envOut)
	path := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(path, []byte(conf("    script_user root\n", 150, "    notify_master \""+script+"\"\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	p := l.R1.Start(t, "env", "NOTIFY_SOCKET="+m.addr, "WATCHDOG_USEC=200000", "VIGILD_AS_MAIN=1", os.Args[0],
		"-n", "-l", "-i", "r1", "-f", path, "-p", filepath.Join(dir, "vigild.pid"), "--control", filepath.Join(dir, "ctl.sock"))
	m.expect(t, "READY=1", settle)
	m.expect(t, "WATCHDOG=1", settle)
	m.expect(t, "WATCHDOG=1", settle)
	waitAddr(t, l.R1, "eth0", vip4, true, settle)

	var env []byte
	testnet.Eventually(t, settle, func() bool {
		env, _ = os.ReadFile(envOut)
		return len(env) > 0
	}, "notify_master script ran")
	for _, k := range []string{"NOTIFY_SOCKET=", "WATCHDOG_USEC=", "WATCHDOG_PID="} {
		if strings.Contains("\n"+string(env), "\n"+k) {
			t.Errorf("the notify script inherited %s:\n%s", k, env)
		}
	}

	if err := p.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	m.expect(t, "RELOADING=1", settle)
	m.expect(t, "READY=1", settle)
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	m.expect(t, "STOPPING=1", settle)
	if code, err := p.Wait(30 * time.Second); err != nil || code != 0 {
		t.Fatalf("vigild exit %d, %v\n%s", code, err, p.Output())
	}
}
