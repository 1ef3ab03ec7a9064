package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/buildinfo"
	"github.com/vigil-ha/vigil/internal/safefile"
	"github.com/vigil-ha/vigil/testnet"
)

// TestFlagErrors: every bad command line gets one line naming what is
// wrong, then the usage, on stderr, and exit status 2; nothing starts.
func TestFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--bogus"}, "vigild: unknown flag: --bogus"},
		{[]string{"-n", "-Z"}, "vigild: unknown shorthand flag: 'Z' in -Z"},
		{[]string{"-f"}, "vigild: flag needs an argument: 'f' in -f"},
		{[]string{"--use-file"}, "vigild: flag needs an argument: --use-file"},
		{[]string{"-n", "extra"}, `vigild: unexpected argument "extra" (vigild takes options only)`},
		{[]string{"--dont-fork=maybe"}, `vigild: invalid argument "maybe" for "-n, --dont-fork"`},
		{[]string{"-n", "--dump-dir="}, "vigild: --dump-dir must name a directory"},
		{[]string{"-t", "--metrics", "9650"}, `vigild: --metrics "9650": address 9650: missing port in address`},
		{[]string{"-n", "--metrics-keepalived-names"}, "vigild: --metrics-keepalived-names needs --metrics"},
		{[]string{"-n", "-P", "-C"}, "vigild: -P (--vrrp) and -C (--check) exclude each other"},
	} {
		var out, errOut bytes.Buffer
		code := run(tc.args, &out, &errOut)
		first, rest, _ := strings.Cut(errOut.String(), "\n")
		if code != 2 || !strings.HasPrefix(first, tc.want) || !strings.HasPrefix(rest, "Usage: vigild") || out.Len() != 0 {
			t.Errorf("vigild %v: exit %d, stdout %q, stderr:\n%s\nwant exit 2, %q then the usage", tc.args, code, out.String(), errOut.String(), tc.want)
		}
	}
}

// TestHelp: --help and -h print the usage with every option to stdout and
// exit 0.
func TestHelp(t *testing.T) {
	for _, arg := range []string{"--help", "-h"} {
		var out, errOut bytes.Buffer
		code := run([]string{arg}, &out, &errOut)
		if code != 0 || errOut.Len() != 0 {
			t.Errorf("vigild %s: exit %d, stderr %q", arg, code, errOut.String())
		}
		for _, want := range []string{"Usage: vigild", "-f, --use-file", "-n, --dont-fork", "-t, --config-test", "-v, --version", "--control", "--metrics",
			"-P, --vrrp", "-C, --check", "-I, --dont-release-ipvs"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("vigild %s: usage lacks %q:\n%s", arg, want, out.String())
			}
		}
	}
}

// TestVersion: --version and keepalived's -v print one line with the
// build's version and exit 0, whatever else is on the command line.
func TestVersion(t *testing.T) {
	want := buildinfo.String("vigild") + "\n"
	if !strings.HasPrefix(want, "vigild ") || strings.Contains(want, "dev ") {
		t.Fatalf("version line %q", want)
	}
	for _, args := range [][]string{{"--version"}, {"-v"}, {"-v", "-f", "/nonexistent.conf"}} {
		var out, errOut bytes.Buffer
		if code := run(args, &out, &errOut); code != 0 || out.String() != want || errOut.Len() != 0 {
			t.Errorf("vigild %v: exit %d, stdout %q, stderr %q; want 0, %q", args, code, out.String(), errOut.String(), want)
		}
	}
}

// vigildDaemon runs the real command in daemon mode (no -n) with args and
// returns its exit status and output. The child it starts is the test
// binary again (VIGILD_AS_MAIN=1 is inherited).
func vigildDaemon(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0], args...)
	cmd.Env = append(os.Environ(), "VIGILD_AS_MAIN=1")
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-done:
		case <-time.After(2 * time.Minute):
			cmd.Process.Kill()
		}
	}()
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &ee):
		return ee.ExitCode(), string(out)
	}
	t.Fatalf("vigild %v: %v\n%s", args, err, out)
	return -1, ""
}

// TestDaemonModeStartFailure: without -n, a vigild that cannot start must
// not return 0 with nothing running: the parent waits for the child and
// prints its error, and the exit status is the child's (keepalived's 4 for
// a configuration that cannot be loaded). It used to return 0 before the
// child had even read the file.
func TestDaemonModeStartFailure(t *testing.T) {
	dir := t.TempDir()
	pid := filepath.Join(dir, "vigild.pid")
	bad := filepath.Join(dir, "bad.conf")
	if err := os.WriteFile(bad, []byte("vrrp_instance VI_1 {\n    interface lo\n    priority 100\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.conf")
	for _, tc := range []struct {
		name string
		file string
		code int
		want []string
	}{
		{"missing file", missing, 4, []string{missing, "no such file or directory", "vigild: failed to start (exit status 4)"}},
		{"bad file", bad, 4, []string{bad + ":1:1: virtual_router_id", "vigild: failed to start (exit status 4)"}},
	} {
		code, out := vigildDaemon(t, "-l", "-f", tc.file, "-p", pid, "--control", "")
		if code != tc.code {
			t.Errorf("%s: exit %d, want %d\n%s", tc.name, code, tc.code, out)
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: output lacks %q:\n%s", tc.name, w, out)
			}
		}
	}
}

// TestDaemonModePIDFileHeld: a second vigild whose pid file is held fails
// in daemon mode with the reason and exit status 1.
func TestDaemonModePIDFileHeld(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "keepalived.conf")
	// A configuration that loads needs an interface that is not loopback;
	// the pid file is taken before any socket is opened, so nothing is
	// sent on it.
	ifname := ""
	ifs, _ := net.Interfaces()
	for _, ifi := range ifs {
		if ifi.Flags&net.FlagLoopback == 0 {
			ifname = ifi.Name
			break
		}
	}
	if ifname == "" {
		t.Fatalf("no interface but loopback in this namespace: %v", ifs)
	}
	text := fmt.Sprintf("vrrp_instance VI_1 {\n    interface %s\n    virtual_router_id 51\n    priority 100\n    virtual_ipaddress {\n        192.0.2.254/24\n    }\n}\n", ifname)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	pid := filepath.Join(dir, "vigild.pid")
	held, err := safefile.CreatePIDFile(pid, os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	code, out := vigildDaemon(t, "-l", "-f", conf, "-p", pid, "--control", "")
	if code != 1 || !strings.Contains(out, "Another vigild holds the pid file") || !strings.Contains(out, strconv.Itoa(os.Getpid())) {
		t.Errorf("exit %d, want 1 naming the holder %d:\n%s", code, os.Getpid(), out)
	}
}

// TestDaemonModeReady: in a namespace, daemon-mode vigild returns 0 once
// its child runs, and the child goes on running VRRP on its own: it holds
// the pid file and answers on the control socket.
func TestDaemonModeReady(t *testing.T) {
	testnet.NeedRoot(t, "ip")
	l := newLab(t)
	dir := t.TempDir()
	envOut := filepath.Join(dir, "script-env")
	script := testnet.WriteScript(t, dir, "master.sh", "env > "+envOut+".tmp; mv "+envOut+".tmp "+envOut)
	path := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(path, []byte(conf("    script_user root\n", 150, "    notify_master \""+script+"\"\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	pidPath := filepath.Join(dir, "vigild.pid")
	v := &vigild{Host: l.R1, Dir: dir, Conf: path, Control: filepath.Join(dir, "ctl.sock")}
	cmd := l.R1.Command(t.Context(), vigildCommand[0],
		append(vigildCommand[1:], "-l", "-i", "r1", "-f", path, "-p", pidPath, "--control", v.Control)...)
	out, err := cmd.CombinedOutput()
	// Whatever happened, stop the child the pid file names.
	t.Cleanup(func() {
		b, _ := os.ReadFile(pidPath)
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 1 {
			return
		}
		syscall.Kill(pid, syscall.SIGTERM)
		testnet.Eventually(t, 30*time.Second, func() bool { return syscall.Kill(pid, 0) != nil }, "daemon-mode vigild %d stops", pid)
	})
	if err != nil {
		t.Fatalf("daemon-mode vigild: %v\n%s", err, out)
	}
	b, err := os.ReadFile(pidPath)
	if err != nil {
		t.Fatalf("no pid file after the parent returned: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || syscall.Kill(pid, 0) != nil {
		t.Fatalf("pid file %q does not name a running process", b)
	}
	if in := v.Instance(t, "VI_1"); in.Name != "VI_1" {
		t.Errorf("status %+v", in)
	}
	waitAddr(t, l.R1, "eth0", vip4, true, 30*time.Second)
	// The child's markers from its parent are not passed on to scripts.
	var env []byte
	testnet.Eventually(t, 30*time.Second, func() bool {
		env, _ = os.ReadFile(envOut)
		return len(env) > 0
	}, "notify_master ran")
	for _, k := range []string{"VIGILD_CHILD=", "VIGILD_READY_FD="} {
		if strings.Contains("\n"+string(env), "\n"+k) {
			t.Errorf("the notify script inherited %s:\n%s", k, env)
		}
	}
}

// TestConfigTestReportsCheckers: -t reports, with file:line, a checker
// that the health checkers refuse although the parser took it, and the
// exit status says the configuration runs with complaints.
func TestConfigTestReportsCheckers(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "keepalived.conf")
	text := "virtual_server 192.0.2.1 80 {\n lb_algo rr\n lb_kind NAT\n protocol TCP\n real_server 198.51.100.1 80 {\n" +
		"  HTTP_GET {\n   connect_timeout 1\n   url {\n    path /\n    regex \"(a)\\1\"\n   }\n  }\n }\n}\n"
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	code := run([]string{"-t", "-f", conf}, &out, &errOut)
	if want := conf + ":6:3: HTTP_GET: url /: regex"; code != 5 || !strings.Contains(errOut.String(), want) {
		t.Fatalf("exit %d, stderr:\n%s\nwant exit 5 and %q", code, errOut.String(), want)
	}
}
