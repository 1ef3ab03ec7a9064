package conntracksync

import (
	"crypto/rand"
	"encoding/hex"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/testnet"
)

// A tiny namespace helper, private to this package's tests, until package
// testnet lands: one network namespace per call, removed in t.Cleanup.

// needRoot is testnet.NeedRoot with ip always required.
func needRoot(t testing.TB, bins ...string) {
	t.Helper()
	testnet.NeedRoot(t, append([]string{"ip"}, bins...)...)
}

func testPrefix(t testing.TB) string {
	t.Helper()
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "cs" + hex.EncodeToString(b[:])
}

type testNS struct {
	name string
}

func (n testNS) path() string { return "/run/netns/" + n.name }

func newTestNS(t testing.TB, prefix, name string) testNS {
	t.Helper()
	ns := testNS{name: prefix + "-" + name}
	if out, err := exec.Command("ip", "netns", "add", ns.name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", ns.name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", ns.name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", ns.name, err, out)
		}
	})
	ns.exec(t, "ip", "link", "set", "lo", "up")
	return ns
}

func (n testNS) cmd(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", n.name, name}, args...)...)
}

func (n testNS) exec(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := n.cmd(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %s %s: %v: %s", n.name, name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func eventually(t testing.TB, timeout time.Duration, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v: "+format, append([]any{timeout}, args...)...)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// lazy formats as fn() at the time it is printed.
type lazy func() string

func (l lazy) String() string { return l() }
