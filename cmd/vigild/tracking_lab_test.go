package main

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/notify/notifytest"
	"github.com/vigil-ha/vigil/testnet"
	"github.com/vigil-ha/vigil/testnet/harness"
)

// Helpers for the tracking, FAULT, sync-group and notify tests
// (tracking_test.go). Names start with trk so that they do not collide
// with the rest of the package's lab.

// trkGlobal renders global_defs: scripts and notify scripts run as root in
// the lab (keepalived would otherwise look for keepalived_script), with
// script security on (so that neither daemon logs a security violation),
// plus extra lines.
func trkGlobal(extra string) string {
	return fmt.Sprintf(`global_defs {
    router_id trk
    script_user root
    enable_script_security
    vrrp_garp_master_delay 1
    vrrp_garp_master_repeat 1
%s
}
`, extra)
}

// trkInst is one VRRPv3 vrrp_instance of a tracking test.
type trkInst struct {
	Name  string
	Iface string
	VRID  int
	Prio  int
	Adv   string // advert_int; "0.1" when empty
	VIP   string // CIDR
	Extra string // further lines inside the block
}

func (i trkInst) String() string {
	adv := i.Adv
	if adv == "" {
		adv = "0.1"
	}
	return fmt.Sprintf(`vrrp_instance %s {
    state BACKUP
    interface %s
    virtual_router_id %d
    priority %d
    advert_int %s
    version 3
%s
    virtual_ipaddress {
        %s
    }
}
`, i.Name, i.Iface, i.VRID, i.Prio, adv, i.Extra, i.VIP)
}

// trkScript renders a vrrp_script block.
func trkScript(name, cmd string, interval, timeout, weight int) string {
	return fmt.Sprintf(`vrrp_script %s {
    script "%s"
    interval %d
    timeout %d
    weight %d
    rise 1
    fall 1
}
`, name, cmd, interval, timeout, weight)
}

// flagFile is a file the test creates and removes; the vrrp_script
// "test -f FILE" succeeds exactly while it exists.
type flagFile string

// newFlag returns a flag in a fresh directory, present.
func newFlag(t *testing.T, name string) flagFile {
	t.Helper()
	f := flagFile(filepath.Join(t.TempDir(), name))
	f.set(t, true)
	return f
}

func (f flagFile) set(t *testing.T, present bool) {
	t.Helper()
	var err error
	if present {
		err = os.WriteFile(string(f), []byte("ok\n"), 0o644)
	} else {
		err = os.Remove(string(f))
	}
	if err != nil {
		t.Fatalf("flag %s: %v", f, err)
	}
}

// script is the vrrp_script command that checks the flag.
func (f flagFile) script() string { return "/usr/bin/test -f " + string(f) }

// holding names the hosts (among hs) that hold addr on dev.
func holding(t *testing.T, addr, dev string, hs ...*testnet.Host) []string {
	t.Helper()
	var out []string
	for _, h := range hs {
		if hasAddr(t, h, dev, addr) {
			out = append(out, h.Name())
		}
	}
	return out
}

// vipPlace says where one VIP must be: on host Want (its interface Dev)
// and on none of the others.
type vipPlace struct {
	Addr, Dev string
	Want      *testnet.Host
}

// placed reports "" when every VIP sits only where it should among hosts,
// else what is wrong.
func placed(t *testing.T, places []vipPlace, hosts ...*testnet.Host) string {
	t.Helper()
	var wrong []string
	for _, p := range places {
		got := holding(t, p.Addr, p.Dev, hosts...)
		if len(got) != 1 || got[0] != p.Want.Name() {
			wrong = append(wrong, fmt.Sprintf("%s held by %v, want only %s", p.Addr, got, p.Want.Name()))
		}
	}
	return strings.Join(wrong, "; ")
}

// waitPlaced waits until the VIPs are where places says, then samples
// that again (samples times, 150 ms apart): once settled there must be no
// split (a VIP on the wrong router, or on both).
func waitPlaced(t *testing.T, samples int, places []vipPlace, hosts ...*testnet.Host) {
	t.Helper()
	var last string
	testnet.Eventually(t, settle, func() bool { last = placed(t, places, hosts...); return last == "" },
		"VIPs not settled: %s", harness.Lazy(func() string { return last }))
	for i := range samples {
		time.Sleep(150 * time.Millisecond)
		if bad := placed(t, places, hosts...); bad != "" {
			t.Fatalf("split after settling (sample %d): %s", i, bad)
		}
	}
}

// advertTimes returns the capture times of the VRRP (IPv4, protocol 112)
// adverts for vrid sent from src with a non-zero priority, in order.
func advertTimes(pkts []testnet.Packet, src netip.Addr, vrid uint8) []time.Time {
	var out []time.Time
	for _, p := range pkts {
		f := p.Data
		if len(f) < 14+20+8 || binary.BigEndian.Uint16(f[12:14]) != 0x0800 {
			continue
		}
		ip := f[14:]
		ihl := int(ip[0]&0x0f) * 4
		if ip[9] != 112 || len(ip) < ihl+8 {
			continue
		}
		if a, _ := netip.AddrFromSlice(ip[12:16]); a != src {
			continue
		}
		vr := ip[ihl:]
		if vr[1] != vrid || vr[2] == 0 {
			continue
		}
		out = append(out, p.Time)
	}
	return out
}

// processesWithCmdline counts the live processes whose command line
// (arguments joined by spaces) is exactly cmdline. Zombies are not
// counted: they are dead, only not yet reaped.
func processesWithCmdline(cmdline string) int {
	ents, _ := os.ReadDir("/proc")
	n := 0
	for _, e := range ents {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(b) == 0 {
			continue
		}
		if strings.ReplaceAll(strings.TrimRight(string(b), "\x00"), "\x00", " ") != cmdline {
			continue
		}
		st, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		if i := strings.LastIndexByte(string(st), ')'); i > 0 && i+2 < len(st) && st[i+2] == 'Z' {
			continue
		}
		n++
	}
	return n
}

// secureRecorder is a notifytest.Recorder whose script passes script
// security (it sits in a root-owned directory no one else can write, so
// both vigild and keepalived run it as root); its logs go to a separate
// directory. The recorder's log format is notifytest's, so its Calls and
// WaitCalls work.
func secureRecorder(t *testing.T) *notifytest.Recorder {
	t.Helper()
	bin, logs := filepath.Join(t.TempDir(), "bin"), filepath.Join(t.TempDir(), "logs")
	for _, d := range []string{bin, logs} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Dir(d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(bin, "rec")
	// One printf of the whole line to an O_APPEND file: lines never
	// interleave. Arguments are separated by ASCII US, as notifytest's.
	script := `#!/bin/sh
line=""
for a in "$@"; do line="$line$a$(printf '\037')"; done
printf '%s\n' "$line" >> "` + logs + `/$1.log"
`
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o755); err != nil {
		t.Fatal(err)
	}
	return &notifytest.Recorder{Path: p, Dir: logs}
}
