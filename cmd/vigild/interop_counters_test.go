package main

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/vigil-ha/vigil/testnet"
)

// kaCounters are the counters of one instance in keepalived's SIGUSR2
// dump that vigil exports under the same meaning.
type kaCounters struct {
	BecomeMaster, ReleaseMaster, PriZeroRcvd, PriZeroSent uint64
}

// keepalivedStats asks keepalived (started with TMPDIR=dir) for its
// counters with SIGUSR2 and parses the keepalived.stats it writes there.
func keepalivedStats(t *testing.T, k *testnet.Proc, dir string, instances ...string) map[string]kaCounters {
	t.Helper()
	path := filepath.Join(dir, "keepalived.stats")
	os.Remove(path)
	if err := k.Signal(syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	var got map[string]kaCounters
	testnet.Eventually(t, settle, func() bool {
		b, err := os.ReadFile(path)
		if err != nil {
			return false
		}
		got = parseKeepalivedStats(string(b))
		for _, in := range instances {
			if _, ok := got[in]; !ok {
				return false
			}
		}
		return true
	}, "keepalived writes %s", path)
	return got
}

// parseKeepalivedStats reads keepalived 2.2.7's keepalived.stats: per
// "VRRP Instance: NAME" block, "Became master", "Released master" and
// the "Priority Zero" section's "Received" and "Sent". An instance
// appears once its block is complete (its last line read).
func parseKeepalivedStats(text string) map[string]kaCounters {
	out := map[string]kaCounters{}
	var name, section string
	var c kaCounters
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		key, val, _ := strings.Cut(strings.TrimSpace(line), ":")
		val = strings.TrimSpace(val)
		n, _ := strconv.ParseUint(val, 10, 64)
		switch {
		case strings.HasPrefix(line, "VRRP Instance: "):
			name, section, c = val, "", kaCounters{}
		case !strings.HasPrefix(line, "    "):
			section = key
			switch key {
			case "Became master":
				c.BecomeMaster = n
			case "Released master":
				c.ReleaseMaster = n
			}
		case section == "Priority Zero" && key == "Received":
			c.PriZeroRcvd = n
		case section == "Priority Zero" && key == "Sent":
			c.PriZeroSent = n
			out[name] = c
		}
	}
	return out
}

// TestInteropCountersLikeKeepalived: keepalived 2.2.7 and vigild play the
// same part in turn, each the backup of the other at the higher priority:
// the master stops (sending priority 0), the backup takes over, the
// master comes back and preempts. The backup's counters that vigil
// exports under keepalived's names (become_master, release_master,
// pri_zero_rcvd, pri_zero_sent) read the same from keepalived's SIGUSR2
// dump and from vigild's status, for IPv4 and IPv6.
func TestInteropCountersLikeKeepalived(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir) // where keepalived writes keepalived.stats
	l := newLab(t)
	instances := []string{"VI_1", "VI_6"}

	// keepalived as the backup.
	v1 := startVigild(t, l.R1, conf("", 150, ""), "-i", "r1")
	waitAddr(t, l.R1, "eth0", vip4, true, settle)
	k := l.R2.Keepalived(t, conf("", 100, ""), "-P")
	k.WaitOutput(t, "(VI_6) Entering BACKUP STATE", settle)
	v1.Stop()
	v1.Wait(settle)
	waitAddr(t, l.R2, "eth0", vip4, true, settle)
	waitAddr(t, l.R2, "eth0", vip6, true, settle)
	v1 = startVigild(t, l.R1, conf("", 150, ""), "-i", "r1")
	waitAddr(t, l.R2, "eth0", vip4, false, settle)
	waitAddr(t, l.R2, "eth0", vip6, false, settle)
	ka := keepalivedStats(t, k, dir, instances...)
	k.Kill()
	v1.Stop()
	v1.Wait(settle)
	waitAddr(t, l.R1, "eth0", vip4, false, settle)

	// vigild as the backup.
	k = l.R1.Keepalived(t, conf("", 150, ""), "-P")
	waitAddr(t, l.R1, "eth0", vip4, true, settle)
	v2 := startVigild(t, l.R2, conf("", 100, ""), "-i", "r2")
	v2.WaitState(t, "VI_6", "BACKUP")
	v2.WaitState(t, "VI_1", "BACKUP")
	k.Signal(syscall.SIGTERM)
	k.Wait(settle)
	waitAddr(t, l.R2, "eth0", vip4, true, settle)
	waitAddr(t, l.R2, "eth0", vip6, true, settle)
	l.R1.Keepalived(t, conf("", 150, ""), "-P")
	waitAddr(t, l.R2, "eth0", vip4, false, settle)
	waitAddr(t, l.R2, "eth0", vip6, false, settle)
	for _, name := range instances {
		in := v2.WaitState(t, name, "BACKUP")
		got := kaCounters{in.BecomeMaster, in.ReleaseMaster, in.PriorityZeroReceived, in.PriorityZeroSent}
		want := ka[name]
		if want != (kaCounters{BecomeMaster: 1, ReleaseMaster: 1, PriZeroRcvd: 1}) {
			t.Errorf("%s: keepalived counted %+v: the scenario did not run as planned", name, want)
		}
		if got != want {
			t.Errorf("%s: vigild counted %+v, keepalived %+v in the same part", name, got, want)
		}
	}
}
