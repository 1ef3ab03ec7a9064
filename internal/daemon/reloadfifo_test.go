package daemon

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// readFIFO returns what is waiting in the FIFO at path, without blocking.
func readFIFO(t *testing.T, path string) string {
	t.Helper()
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	b := make([]byte, 4096)
	n, err := syscall.Read(fd, b)
	if err != nil && err != syscall.EAGAIN {
		t.Fatal(err)
	}
	return string(b[:max(n, 0)])
}

// TestLoopReloadNotifyFIFO: a reload that moves notify_fifo to another
// path keeps the master running (no transition, VIP kept); the old FIFO,
// which vigild created, is gone, and the next notification (the master
// stepping down for a better router) is written to the new one.
func TestLoopReloadNotifyFIFO(t *testing.T) {
	dir := t.TempDir()
	one, two := filepath.Join(dir, "one.fifo"), filepath.Join(dir, "two.fifo")
	conf := func(path string) string {
		return "global_defs {\n    notify_fifo " + path + "\n}\n" + prio(pairConf, "150")
	}
	synctest.Test(t, func(t *testing.T) {
		wire := vrrptest.NewWire(vrrptest.WireOptions{})
		a := startNode(t, wire, "192.0.2.1", "fe80::1", conf(one))
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if a.state("VI_1") != "MASTER" {
			t.Fatalf("set-up: %s", a.state("VI_1"))
		}
		if got := readFIFO(t, one); !strings.Contains(got, `INSTANCE "VI_1" MASTER 150`) {
			t.Fatalf("first FIFO: %q", got)
		}
		transitions := a.inst("VI_1").Transitions
		changes := a.kernel.Changes()
		reloadNode(t, a, conf(two))
		if st := a.inst("VI_1"); st.State != "MASTER" || st.Transitions != transitions || a.kernel.Changes() != changes {
			t.Fatalf("reload moved the master: %s, %d transitions (was %d), %d kernel changes (was %d)",
				st.State, st.Transitions, transitions, a.kernel.Changes(), changes)
		}
		if _, err := os.Stat(one); !os.IsNotExist(err) {
			t.Errorf("old FIFO still there: %v", err)
		}
		peer := newScriptedPeer(wire, "192.0.2.9", 200, time.Second)
		peer.advertAt(t, time.Now(), 0)
		if got := readFIFO(t, two); !strings.Contains(got, `INSTANCE "VI_1" BACKUP 150`) {
			t.Fatalf("new FIFO: %q", got)
		}
	})
}
