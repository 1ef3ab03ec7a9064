package testnet_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/testnet"
)

func TestStandaloneClose(t *testing.T) {
	testnet.NeedRoot(t)
	var log bytes.Buffer
	s := testnet.NewStandalone("demo", &log)
	lab := testnet.New(s)
	sw := lab.Switch("sw")
	h := lab.Host("a")
	sw.Attach(h, "eth0").AddAddr(s, "192.0.2.1/24")
	if h.Iface("eth0") == nil || h.Iface("nope") != nil {
		t.Error("Host.Iface lookup wrong")
	}
	p := h.Start(s, "sleep", "1000")
	if left, _ := testnet.Leftovers(lab.Prefix()); len(left) != 2 {
		t.Fatalf("before Close: %v", left)
	}
	s.Close()
	s.Close() // idempotent
	if left, err := testnet.Leftovers(lab.Prefix()); err != nil || len(left) != 0 {
		t.Errorf("after Close: namespaces %v left (%v)", left, err)
	}
	if !p.Exited() {
		t.Error("process still running after Close")
	}
	if s.Failed() {
		t.Errorf("Standalone failed:\n%s", log.String())
	}
	if s.Context().Err() == nil {
		t.Error("Context not cancelled by Close")
	}
}

// TestStandaloneCloseWaits checks that a Close called while another
// goroutine's Close runs the cleanups returns only once they have run (a
// program's failing main goroutine must not exit while a signal's Close
// still tears its lab down). It needs no root.
func TestStandaloneCloseWaits(t *testing.T) {
	var log bytes.Buffer
	s := testnet.NewStandalone("wait", &log)
	started := make(chan struct{})
	var finished atomic.Bool
	s.Cleanup(func() {
		close(started)
		time.Sleep(100 * time.Millisecond)
		finished.Store(true)
	})
	go s.Close()
	<-started
	s.Close()
	if !finished.Load() {
		t.Error("the second Close returned before the first one's cleanups had run")
	}
	s.Close() // and later calls return at once
}

// TestStandaloneFatalCleansUp runs itself as a child process that builds a
// lab and calls Fatalf: the child must exit 1 with the message, and leave no
// namespace behind.
func TestStandaloneFatalCleansUp(t *testing.T) {
	if os.Getenv("TESTNET_STANDALONE_CHILD") == "1" {
		s := testnet.NewStandalone("child", os.Stdout)
		lab := testnet.New(s)
		h := lab.Host("a")
		h.Start(s, "sleep", "1000")
		s.Logf("prefix=%s", lab.Prefix())
		s.Fatalf("boom")
		return
	}
	testnet.NeedRoot(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestStandaloneFatalCleansUp$", "-test.count=1")
	cmd.Env = append(os.Environ(), "TESTNET_STANDALONE_CHILD=1")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), "boom") {
		t.Fatalf("child: %v (want exit status 1 with boom)\n%s", err, out)
	}
	m := regexp.MustCompile(`prefix=(vg[0-9a-f]{6})`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("child printed no prefix:\n%s", out)
	}
	if left, err := testnet.Leftovers(m[1]); err != nil || len(left) != 0 {
		t.Errorf("after the child's Fatalf: namespaces %v left (%v)", left, err)
	}
}

// BenchmarkTwoHostLab measures building and tearing down a switch with two
// hosts, each with an IPv4 and an IPv6 address.
func BenchmarkTwoHostLab(b *testing.B) {
	testnet.NeedRoot(b)
	for b.Loop() {
		s := testnet.NewStandalone("bench", nil)
		lab := testnet.New(s)
		sw := lab.Switch("sw")
		for i, name := range []string{"a", "b"} {
			e := sw.Attach(lab.Host(name), "eth0")
			e.AddAddr(s, []string{"192.0.2.1/24", "192.0.2.2/24"}[i])
			e.AddAddr(s, []string{"2001:db8::1/64", "2001:db8::2/64"}[i])
		}
		s.Close()
		if s.Failed() {
			b.Fatal("lab teardown failed")
		}
	}
}
