package testnet_test

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/testnet"
	"github.com/vigil-ha/vigil/testnet/harness"
)

// scripts/demo runs etc/router-pair.conf on harness.RouterPair (through
// tools/demo); these tests hold the two together and run the demo for real.

// demoVars are the demo lab's addresses, by the names the tests use.
func demoVars(t *testing.T) map[string]string {
	t.Helper()
	return map[string]string{
		"NET4": harness.Net4, "NET6": harness.Net6,
		"R1_4": harness.R1v4, "R1_6": harness.R1v6,
		"R2_4": harness.R2v4, "R2_6": harness.R2v6,
		"CL_4": harness.ClientV4, "CL_6": harness.ClientV6,
		"VIP4": harness.VIP4, "VIP6": harness.VIP6,
	}
}

// TestDemoConfVIPsInLab: every virtual address of etc/router-pair.conf, as
// rtr1 and as rtr2, lies in the demo lab's prefix of its family and is none
// of the lab hosts' own addresses (a "VIP" that is a router's own address
// answers pings whoever is master); the two the demo pings are among them;
// rtr1 outranks rtr2 everywhere (the demo cuts rtr1 and expects rtr2 to
// take over, then rtr1 to preempt); README names the same prefixes and VIPs.
func TestDemoConfVIPsInLab(t *testing.T) {
	v := demoVars(t)
	net4, err4 := netip.ParsePrefix(v["NET4"])
	net6, err6 := netip.ParsePrefix(v["NET6"])
	if err := errors.Join(err4, err6); err != nil {
		t.Fatal(err)
	}
	hosts := map[netip.Addr]string{}
	for _, k := range []string{"R1_4", "R1_6", "R2_4", "R2_6", "CL_4", "CL_6"} {
		hosts[netip.MustParseAddr(v[k])] = k
	}
	prio := map[string]map[string]int{}
	for _, id := range []string{"rtr1", "rtr2"} {
		cfg, complaints, err := config.Load("../etc/router-pair.conf", config.Options{ConfigID: id})
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		for _, c := range complaints {
			if c.Severity != config.Notice {
				t.Errorf("%s: %v", id, c)
			}
		}
		if len(cfg.Instances) == 0 {
			t.Fatalf("%s: no vrrp_instance", id)
		}
		prio[id] = map[string]int{}
		var vips []netip.Addr
		for _, in := range cfg.Instances {
			prio[id][in.Name] = in.Priority
			for _, a := range slices.Concat(in.VIPs, in.ExcludedVIPs) {
				ip := a.Prefix.Addr()
				vips = append(vips, ip)
				lab := net4
				if ip.Is6() {
					lab = net6
				}
				if !lab.Contains(ip) || a.Prefix.Bits() != lab.Bits() {
					t.Errorf("%s: %s: VIP %s is not in the demo lab's %s", id, in.Name, a.Prefix, lab)
				}
				if h, ok := hosts[ip]; ok {
					t.Errorf("%s: %s: VIP %s is a lab host's own address (%s of harness.RouterPair)", id, in.Name, ip, h)
				}
			}
		}
		for _, k := range []string{"VIP4", "VIP6"} {
			if !slices.Contains(vips, netip.MustParseAddr(v[k])) {
				t.Errorf("%s: the demo's %s %s is not a VIP of etc/router-pair.conf (%v)", id, k, v[k], vips)
			}
		}
	}
	for name, p1 := range prio["rtr1"] {
		if p2 := prio["rtr2"][name]; p1 <= p2 {
			t.Errorf("%s: rtr1's priority %d does not outrank rtr2's %d", name, p1, p2)
		}
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"NET4", "NET6", "VIP4", "VIP6"} {
		if !strings.Contains(string(readme), v[k]) {
			t.Errorf("README.md does not mention the demo's %s %s", k, v[k])
		}
	}
}

// oldDemoDir is the work folder older versions of scripts/demo used. /tmp is
// everyone's: a local user who makes this folder first decides what root
// writes through (and runs from) it.
const oldDemoDir = "/tmp/vigildemo"

// TestDemoRun runs `scripts/demo` as README tells a new user to, then
// `scripts/demo --clean`. The demo checks its own claims and exits non-zero
// when one fails (the client's neighbour entries for the IPv4 and the IPv6
// VIP holding r1's MAC, then r2's after the cut, then r1's again); the test
// checks that it got through every step, printed its takeover table, and
// left nothing behind.
//
// The attack: before the run, nobody owns oldDemoDir and has symlinks in it
// named like the demo's log files, pointing at a root file. The demo must
// not write through them (it did: its logs went to oldDemoDir/r1.log and
// r2.log with a plain shell redirection, truncating the root file).
//
// It uses the demo's fixed names (namespaces vigildemo-*, /run/vigildemo):
// a lab left up with --keep on this machine is removed.
func TestDemoRun(t *testing.T) {
	testnet.NeedRoot(t, "ip", "ping", "tcpdump", "sysctl", "go")
	if _, err := os.Lstat(oldDemoDir); err == nil {
		t.Fatalf("%s exists (left by an older scripts/demo?): remove it, this test plants its own", oldDemoDir)
	}
	victim := filepath.Join(t.TempDir(), "root-file")
	const precious = "root's data\n"
	if err := os.WriteFile(victim, []byte(precious), 0o600); err != nil {
		t.Fatal(err)
	}
	planted := []string{"r1.log", "r2.log", "ping.log", "r1.pid", "r2.pid"}
	script := "mkdir -m 0755 " + oldDemoDir
	for _, n := range planted {
		script += " && ln -s " + victim + " " + oldDemoDir + "/" + n
	}
	t.Cleanup(func() { os.RemoveAll(oldDemoDir) })
	if out, err := testnet.AsNobody(t, "sh", "-c", script); err != nil {
		t.Fatalf("planting %s as nobody: %v: %s", oldDemoDir, err, out)
	}
	run := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, "../scripts/demo", args...).CombinedOutput()
		t.Logf("scripts/demo %s:\n%s", strings.Join(args, " "), out)
		return string(out), err
	}
	t.Cleanup(func() { run("--clean") })

	out, err := run()
	if err != nil {
		t.Errorf("scripts/demo: %v", err)
	}
	if b, err := os.ReadFile(victim); err != nil || string(b) != precious {
		t.Errorf("the root file behind nobody's symlinks in %s was written: %q, %v", oldDemoDir, b, err)
	}
	if ents, err := os.ReadDir(oldDemoDir); err == nil {
		for _, e := range ents {
			if !slices.Contains(planted, e.Name()) {
				t.Errorf("scripts/demo wrote %s into nobody's %s", e.Name(), oldDemoDir)
			}
		}
	}
	v := demoVars(t)
	for _, want := range []string{
		"ping " + v["VIP4"] + ": 2 packets transmitted, 2 received",
		"ping " + v["VIP6"] + ": 2 packets transmitted, 2 received",
		"r2's gratuitous ARP / unsolicited NA", "Master_Down_Interval",
		"r1's link is back",
		"lab removed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scripts/demo's output lacks %q", want)
		}
	}
	for _, vip := range []string{v["VIP4"], v["VIP6"]} {
		// before the cut, after it, after r1 is back
		want := `(?s)client -> ` + regexp.QuoteMeta(vip) + ` +lladdr \S+ = r1 MAC.*` +
			`client -> ` + regexp.QuoteMeta(vip) + ` +lladdr \S+ = r2 MAC.*` +
			`client -> ` + regexp.QuoteMeta(vip) + ` +lladdr \S+ = r1 MAC`
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("scripts/demo's output does not show the client's neighbour entry for %s at r1's, r2's, then r1's MAC", vip)
		}
	}
	if strings.Contains(out, "not seen") {
		t.Errorf("scripts/demo's takeover table misses a measurement (\"not seen\")")
	}
	nsLeft := func() []string {
		b, err := exec.Command("ip", "netns", "list").Output()
		if err != nil {
			t.Fatal(err)
		}
		var left []string
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "vigildemo-") {
				left = append(left, l)
			}
		}
		return left
	}
	if left := nsLeft(); len(left) > 0 {
		t.Errorf("namespaces left after a run without --keep: %v", left)
	}
	if _, err := run("--clean"); err != nil {
		t.Errorf("scripts/demo --clean: %v", err)
	}
	if _, err := os.Lstat("/run/vigildemo"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("/run/vigildemo after --clean: %v", err)
	}
}
