package ftfw

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/testnet"
)

// needBinaries skips (or fails under CI=true) when a binary the test runs is missing.
func needBinaries(t testing.TB, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			msg := fmt.Sprintf("ftfw: SKIPPING: %s is not installed (this test runs Debian's conntrack-tools 1.4.7 in namespaces)", n)
			if os.Getenv("CI") == "true" {
				t.Fatal(msg + " (CI=true: not skipping)")
			}
			t.Skip(msg)
		}
	}
}

// pair is two namespaces joined by a veth: fw1 198.51.100.1 eth0 — eth0 198.51.100.2 fw2.
type pair struct {
	lab      *testnet.Lab
	fw1, fw2 *testnet.Host
	if1, if2 *testnet.Iface
}

const (
	fw1Addr = "198.51.100.1"
	fw2Addr = "198.51.100.2"
)

func newPair(t testing.TB) *pair {
	t.Helper()
	lab := testnet.New(t)
	p := &pair{lab: lab, fw1: lab.Host("fw1"), fw2: lab.Host("fw2")}
	p.if1, p.if2 = lab.Wire(p.fw1, "eth0", p.fw2, "eth0")
	p.if1.AddAddr(t, fw1Addr+"/24")
	p.if2.AddAddr(t, fw2Addr+"/24")
	return p
}

// ctd is one conntrackd 1.4.7 with its own config, lock file, socket and log under a
// temporary directory.
type ctd struct {
	host *testnet.Host
	dir  string
	conf string
	proc *testnet.Proc
}

// conntrackdConf is an FTFW-over-UDP configuration. The scheduler clause is invalid on
// purpose (RR with priority 0): conntrackd then keeps SCHED_OTHER instead of its
// default SCHED_RR 99, which would starve everything else on a small machine.
func conntrackdConf(dir, local, peer, extraSync string) string {
	return fmt.Sprintf(`Sync {
	Mode FTFW {
		ResendQueueSize 131072
		ACKWindowSize 300
%s
	}
	UDP {
		IPv4_address %s
		IPv4_Destination_Address %s
		Port 3780
		Interface eth0
		SndSocketBuffer 1249280
		RcvSocketBuffer 1249280
		Checksum on
	}
}
General {
	Systemd off
	HashSize 16384
	HashLimit 262144
	LogFile %s/conntrackd.log
	Syslog off
	LockFile %s/conntrackd.lock
	UNIX {
		Path %s/conntrackd.ctl
	}
	NetlinkBufferSize 8388608
	NetlinkBufferSizeMaxGrowth 16777216
	NetlinkOverrunResync 1
	Scheduler {
		Type RR
		Priority 0
	}
	Filter From Userspace {
		Address Ignore {
			IPv4_address 127.0.0.1
			IPv4_address 198.51.100.1
			IPv4_address 198.51.100.2
		}
	}
}
`, extraSync, local, peer, dir, dir, dir)
}

// startConntrackd runs conntrackd in h and waits until its unix socket answers.
func startConntrackd(t testing.TB, h *testnet.Host, local, peer, extraSync string) *ctd {
	t.Helper()
	dir, err := os.MkdirTemp(t.TempDir(), "ctd")
	if err != nil {
		t.Fatal(err)
	}
	c := &ctd{host: h, dir: dir, conf: filepath.Join(dir, "conntrackd.conf")}
	if err := os.WriteFile(c.conf, []byte(conntrackdConf(dir, local, peer, extraSync)), 0o644); err != nil {
		t.Fatal(err)
	}
	c.proc = h.Start(t, "conntrackd", "-C", c.conf)
	testnet.Eventually(t, 10*time.Second, func() bool {
		return h.Command(t.Context(), "conntrackd", "-C", c.conf, "-s").Run() == nil
	}, "conntrackd in %s did not answer on its unix socket; log:\n%s", h.Name(), c.log())
	return c
}

func (c *ctd) log() string {
	b, _ := os.ReadFile(filepath.Join(c.dir, "conntrackd.log"))
	return string(b) + c.proc.Output()
}

// client runs a conntrackd client command (-e, -i, -n, -c, ...) against c.
func (c *ctd) client(t testing.TB, args ...string) string {
	t.Helper()
	return c.host.Exec(t, "conntrackd", append([]string{"-C", c.conf}, args...)...)
}
