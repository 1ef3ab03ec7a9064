// Command demo is the program behind scripts/demo, README's first command:
// two vigild routers and a client on harness.RouterPair, in namespaces
// named vigildemo-*, documentation addresses only. It shows the election,
// the client reaching the IPv4 and the IPv6 virtual address on the master
// (its neighbour table holds r1's MAC), then cuts r1's link while the
// client pings both, times the takeover against RFC 5798's
// Master_Down_Interval from a capture at the client, shows the client's
// neighbour entries moving to r2's MAC, and brings r1 back. It checks each
// of those claims and exits 1 when one fails, removing everything.
//
//	demo -work DIR [-conf etc/router-pair.conf] [-keep]   run it
//	demo -work DIR -clean                                 remove a kept lab
//
// scripts/demo builds vigild, vigilctl and this program into DIR (a fresh
// directory only root can write) and runs it there. Everything the lab
// needs lives in DIR, its temporary directories included; -keep leaves the
// lab and DIR up, -clean removes the vigildemo-* namespaces, their
// processes, and DIR.
//
// Concurrency: one goroutine drives the lab; the client's pings run as
// processes alongside.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/testnet"
	"github.com/vigil-ha/vigil/testnet/harness"
)

// prefix names the demo's namespaces (vigildemo-sw, -r1, -r2, -cl).
const prefix = "vigildemo"

func main() {
	work := flag.String("work", "", "the demo's directory: vigild and vigilctl are there, and everything it creates")
	confPath := flag.String("conf", "etc/router-pair.conf", "keepalived.conf run on both routers (config ids rtr1 and rtr2)")
	keep := flag.Bool("keep", false, "leave the lab up and print commands to try")
	clean := flag.Bool("clean", false, "remove a lab left up with -keep, and the work directory")
	flag.Parse()
	if *work == "" || !filepath.IsAbs(*work) || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: demo -work /absolute/dir [-conf FILE] [-keep | -clean]")
		os.Exit(2)
	}
	t := testnet.NewStandalone("demo", os.Stderr)
	if *clean {
		testnet.RemoveLeftovers(t, prefix)
		if err := os.RemoveAll(*work); err != nil {
			t.Fatalf("demo: %v", err)
		}
		t.Close()
		if t.Failed() {
			os.Exit(1)
		}
		return
	}
	// Temporary directories (vigild's configuration, socket and log)
	// inside the work directory, so -clean finds what -keep left.
	if err := os.Setenv("TMPDIR", *work); err != nil {
		t.Fatalf("demo: %v", err)
	}
	t.CloseOnSignal()
	testnet.RemoveLeftovers(t, prefix)
	d := &demo{t: t, work: *work, confPath: *confPath, out: os.Stdout}
	d.run()
	if t.Failed() {
		t.Close()
		os.Exit(1)
	}
	if *keep {
		d.hints()
		return // no Close: the lab stays up
	}
	d.saveLogs()
	t.Close()
	fmt.Fprintf(d.out, "lab removed; logs and capture kept in %s (scripts/demo --clean removes them)\n", d.work)
}

type demo struct {
	t        *testnet.Standalone
	work     string
	confPath string
	out      io.Writer

	l      *harness.RouterPair
	v1, v2 *harness.Vigild
	pcap   string // the failover capture, once taken
}

func (d *demo) say(format string, args ...any) { fmt.Fprintf(d.out, format+"\n", args...) }
func (d *demo) step(format string, args ...any) {
	fmt.Fprintf(d.out, "\n== "+format+"\n", args...)
}

// fail reports a claim that did not hold and ends the demo (Fatalf runs
// the cleanups).
func (d *demo) fail(format string, args ...any) { d.t.Fatalf("scripts/demo: "+format, args...) }

func (d *demo) run() {
	t := d.t
	conf, err := os.ReadFile(d.confPath)
	if err != nil {
		d.fail("%v", err)
	}
	adv, prio2 := d.timers()

	d.step("lab: switch %[1]s-sw, routers %[1]s-r1 and %[1]s-r2, client %[1]s-cl (%s, %s)", prefix, harness.Net4, harness.Net6)
	d.l = harness.NewNamedRouterPair(t, prefix)
	l := d.l
	d.say("   r1 %s %s MAC %s", harness.R1v4, harness.R1v6, l.If1.MAC())
	d.say("   r2 %s %s MAC %s", harness.R2v4, harness.R2v6, l.If2.MAC())
	d.say("   client %s %s MAC %s", harness.ClientV4, harness.ClientV6, l.IfClient.MAC())

	// r2 starts once r1 is master: two routers started in the same
	// instant can both find the link silent for a Master_Down_Interval,
	// both become master for a moment and both announce the VIPs, and the
	// client then keeps whichever announcement came last, possibly the
	// one of the router that stepped down, until its neighbour entry times
	// out.
	d.step("starting vigild on r1 (priority 150), then on r2 (priority 100), with %s", d.confPath)
	vigild := harness.Command{filepath.Join(d.work, "vigild")}
	d.v1 = harness.StartVigild(t, l.R1, vigild, string(conf), "-i", "rtr1", "--dump-dir", filepath.Join(d.work, "r1.dump"))
	d.waitVIPs(l.R1, true)
	for _, in := range []string{"VI_1", "VI_6"} {
		d.v1.WaitState(t, in, "MASTER")
	}
	d.v2 = harness.StartVigild(t, l.R2, vigild, string(conf), "-i", "rtr2", "--dump-dir", filepath.Join(d.work, "r2.dump"))
	for _, in := range []string{"VI_1", "VI_6"} {
		d.v2.WaitState(t, in, "BACKUP")
	}
	d.say("")
	d.vigilctl(d.v1, 0)
	d.vigilctl(d.v2, 2)

	d.step("the client reaches both virtual addresses on r1: its neighbour entries hold r1's MAC")
	d.pingTwice(harness.VIP4)
	d.pingTwice(harness.VIP6)
	d.neigh(harness.VIP4, "r1")
	d.neigh(harness.VIP6, "r1")

	d.failover(adv, prio2)

	d.step("the client now reaches both virtual addresses on r2: its neighbour entries moved to r2's MAC")
	d.neigh(harness.VIP4, "r2")
	d.neigh(harness.VIP6, "r2")
	d.pingTwice(harness.VIP4)
	d.pingTwice(harness.VIP6)

	d.step("r1's link is back: it preempts (priority 150 > 100)")
	l.If1.Restore(t)
	d.waitVIPs(l.R1, true)
	d.waitVIPs(l.R2, false)
	d.neigh(harness.VIP4, "r1")
	d.neigh(harness.VIP6, "r1")
	time.Sleep(300 * time.Millisecond)
	d.vigilctl(d.v1, 2)
	d.vigilctl(d.v2, 2)
}

// timers reads r2's advert interval and priority from the configuration:
// the inputs of RFC 5798 §6.1's Master_Down_Interval.
func (d *demo) timers() (adv time.Duration, prio int) {
	cfg, _, err := config.Load(d.confPath, config.Options{ConfigID: "rtr2"})
	if err != nil {
		d.fail("%v", err)
	}
	for _, in := range cfg.Instances {
		if in.Name == "VI_1" {
			return in.AdvertInterval, in.Priority
		}
	}
	d.fail("%s has no instance VI_1 for rtr2", d.confPath)
	return 0, 0
}

// waitVIPs waits until h holds both VIPs (or neither).
func (d *demo) waitVIPs(h *testnet.Host, want bool) {
	d.t.Helper()
	for _, vip := range []string{harness.VIP4, harness.VIP6} {
		testnet.Eventually(d.t, harness.Settle, func() bool { return hasAddr(h, vip) == want },
			"scripts/demo: %s on %s: want present=%v", vip, h.Name(), want)
	}
}

func hasAddr(h *testnet.Host, addr string) bool {
	has, _ := h.HasAddr(context.Background(), "eth0", addr)
	return has
}

// vigilctl shows vigilctl's status table for v, without its first skip
// lines.
func (d *demo) vigilctl(v *harness.Vigild, skip int) {
	out, err := exec.Command(filepath.Join(d.work, "vigilctl"), "-s", v.Control, "status").CombinedOutput()
	if err != nil {
		d.fail("vigilctl status on %s: %v\n%s", v.Host.Name(), err, out)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	for _, line := range lines[min(skip, len(lines)):] {
		d.say("   %s", line)
	}
}

var pingSummary = regexp.MustCompile(`(?m)^.*packets transmitted.*$`)

func (d *demo) pingTwice(vip string) {
	out, err := d.l.Client.Command(context.Background(), "ping", "-c", "2", "-i", "0.2", "-W", "1", vip).CombinedOutput()
	d.say("   ping %s: %s", vip, pingSummary.Find(out))
	if err != nil {
		d.fail("the client does not reach %s: %v", vip, err)
	}
}

// neigh checks that the client's neighbour entry for vip holds who's MAC
// (a gratuitous ARP or unsolicited NA updates it within a moment).
func (d *demo) neigh(vip, who string) {
	l := d.l
	macs := map[string]string{l.If1.MAC().String(): "r1", l.If2.MAC().String(): "r2"}
	var mac, state, owner string
	for range 30 {
		out, _ := l.Client.Command(context.Background(), "ip", "neigh", "show", vip, "dev", "eth0").Output()
		f := strings.Fields(string(out))
		mac, state = "none", ""
		for i := range f {
			if f[i] == "lladdr" && i+1 < len(f) {
				mac = f[i+1]
			}
		}
		if len(f) > 0 {
			state = f[len(f)-1]
		}
		if owner = macs[mac]; owner == who {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if owner == "" {
		owner = "nobody's"
	}
	d.say("   client -> %-16s lladdr %s = %s MAC (%s)", vip, mac, owner, state)
	if owner != who {
		d.fail("the client reaches %s at %s MAC, not %s's", vip, owner, who)
	}
}

// failover cuts r1's link while the client pings both VIPs every 50 ms,
// and times the takeover on one clock: the kernel's timestamps in the
// client's capture, vigild's log, and time.Now around the cut (all
// CLOCK_REALTIME).
func (d *demo) failover(adv time.Duration, prio2 int) {
	t, l := d.t, d.l
	d.step("failover: cutting r1's link (switch port down) while the client pings both every 50 ms")
	capture := l.Client.Capture(t, "eth0", "arp or ip proto 112 or ip6 proto 112 or (icmp6 and ip6[40] == 136)")
	var pings []*exec.Cmd
	var outs []*strings.Builder
	for _, vip := range []string{harness.VIP4, harness.VIP6} {
		var b strings.Builder
		c := l.Client.Command(t.Context(), "ping", "-i", "0.05", "-c", "100", "-W", "1", vip)
		c.Stdout, c.Stderr = &b, &b
		if err := c.Start(); err != nil {
			d.fail("ping %s: %v", vip, err)
		}
		pings, outs = append(pings, c), append(outs, &b)
	}
	time.Sleep(time.Second)
	cut := time.Now()
	l.If1.Cut(t)
	cutDone := time.Now()
	d.waitVIPs(l.R2, true)
	for _, p := range pings {
		_ = p.Wait() // lost replies make ping exit 1: the summary says how many
	}
	time.Sleep(200 * time.Millisecond)
	pkts := capture.Stop(t)
	d.pcap = capture.Path()
	for i, vip := range []string{harness.VIP4, harness.VIP6} {
		d.say("   ping %s every 50 ms: %s", vip, pingSummary.FindString(outs[i].String()))
	}
	d.say("   r2's log:")
	masterLines := masterEntries(d.v2.Output())
	for _, e := range masterLines[max(0, len(masterLines)-2):] {
		d.say("      %s", e.line)
	}

	m1, m2 := l.If1.MAC(), l.If2.MAC()
	vip4, vip6 := netip.MustParseAddr(harness.VIP4), netip.MustParseAddr(harness.VIP6)
	var last4, last6, adv4, adv6, garp, na time.Time
	for _, p := range pkts {
		f := harness.Classify(p)
		switch {
		case f.Kind == harness.FrameAdvert && f.From(m1) && !f.V6:
			last4 = f.At
		case f.Kind == harness.FrameAdvert && f.From(m1) && f.V6:
			last6 = f.At
		case !f.From(m2) || !f.At.After(cut):
		case f.Kind == harness.FrameAdvert && !f.V6 && adv4.IsZero():
			adv4 = f.At
		case f.Kind == harness.FrameAdvert && f.V6 && adv6.IsZero():
			adv6 = f.At
		case f.Kind == harness.FrameGARP && f.Addr == vip4 && garp.IsZero():
			garp = f.At
		case f.Kind == harness.FrameNA && f.Addr == vip6 && na.IsZero():
			na = f.At
		}
	}
	var log4, log6 time.Time
	for _, e := range masterLines {
		switch e.instance {
		case "VI_1":
			log4 = e.at
		case "VI_6":
			log6 = e.at
		}
	}

	missing := false
	ms := func(a, b time.Time, digits int) string {
		if a.IsZero() || b.IsZero() {
			missing = true
			return "not seen"
		}
		return fmt.Sprintf("%+.*f ms", digits, float64(a.Sub(b))/1e6)
	}
	row := func(a, b, c, e string) { d.say("   %-46s %-11s %-11s %s", a, b, c, e) }
	mdi := harness.MasterDown(prio2, adv)
	msf := func(x time.Duration) string { return fmt.Sprintf("%.1f", float64(x)/1e6) }
	d.step("takeover time; one clock (vigild's log, the client's capture, the clock around the cut), 0 = the cut")
	row("", "VI_1 (IPv4)", "VI_6 (IPv6)", "measured by")
	row("the cut: r1's switch port down", ms(cutDone, cut, 1), "", "the clock before and after it")
	row("r1's last advert", ms(last4, cut, 1), ms(last6, cut, 1), "client's capture")
	row("r2: \"Entering MASTER STATE\"", ms(log4, cut, 0), ms(log6, cut, 0), "r2's log (1 ms steps)")
	row("r2's first advert", ms(adv4, cut, 1), ms(adv6, cut, 1), "client's capture")
	row("r2's gratuitous ARP / unsolicited NA", ms(garp, cut, 1), ms(na, cut, 1), "client's capture")
	d.say("   RFC 5798 limit: r2 takes over when it has heard no advert for Master_Down_Interval")
	d.say("     = 3 x advert_int + Skew_Time = 3 x %s ms + (256 - %d) x %s ms / 256 = %s ms", msf(adv), prio2, msf(adv), msf(mdi))
	unsigned := func(s string) string { return strings.TrimPrefix(s, "+") }
	row("r1's last advert -> r2's first advert", unsigned(ms(adv4, last4, 1)), unsigned(ms(adv6, last6, 1)),
		"(limit "+msf(mdi)+" ms + r2's reaction)")
	row("r1's last advert -> client told (GARP / NA)", unsigned(ms(garp, last4, 1)), unsigned(ms(na, last6, 1)), "client's capture")
	d.say("   (r1's last advert may precede the cut by up to advert_int, so from the cut the takeover")
	d.say("   takes between %s and %s ms, plus r2's reaction)", msf(mdi-adv), msf(mdi))
	if missing {
		d.fail("the takeover table misses a measurement (capture %s)", d.pcap)
	}
}

// masterEntry is one "Entering MASTER STATE" line of vigild's log.
type masterEntry struct {
	line, instance string
	at             time.Time
}

var masterLine = regexp.MustCompile(`^time=(\S+) .*msg="\((\S+)\) Entering MASTER STATE"`)

// masterEntries finds the "Entering MASTER STATE" lines in a vigild log
// (log/slog's text format: time=RFC 3339 with milliseconds).
func masterEntries(log string) []masterEntry {
	var es []masterEntry
	sc := bufio.NewScanner(strings.NewReader(log))
	for sc.Scan() {
		m := masterLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, m[1])
		if err != nil {
			continue
		}
		es = append(es, masterEntry{line: sc.Text(), instance: m[2], at: at})
	}
	return es
}

// saveLogs copies the routers' logs and the failover capture into the
// work directory before the lab (and its temporary directories) go.
func (d *demo) saveLogs() {
	files := map[string]string{"r1.log": d.v1.LogPath(), "r2.log": d.v2.LogPath()}
	if d.pcap != "" {
		files["failover.pcap"] = d.pcap
	}
	for name, from := range files {
		if err := copyNew(from, filepath.Join(d.work, name)); err != nil {
			d.t.Errorf("demo: keeping %s: %v", name, err)
		}
	}
}

// copyNew copies from into a file to that must not exist yet (and is not
// followed if it is a link).
func copyNew(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	return errors.Join(err, out.Close())
}

// hints prints what to try on the lab -keep leaves up.
func (d *demo) hints() {
	l := d.l
	port := l.If1.Peer().Name()
	d.step("the lab stays up; try (as root):")
	for _, c := range [][2]string{
		{fmt.Sprintf("%s/vigilctl -s %s status", d.work, d.v1.Control), ""},
		{fmt.Sprintf("%s/vigilctl -s %s status --json", d.work, d.v2.Control), ""},
		{fmt.Sprintf("ip netns exec %s ping -c 3 %s", l.Client.Name(), harness.VIP4), ""},
		{fmt.Sprintf("ip netns exec %s ping -c 3 %s", l.Client.Name(), harness.VIP6), ""},
		{fmt.Sprintf("ip -n %s addr show dev eth0", l.R1.Name()), "# the master holds " + harness.VIP4 + " and " + harness.VIP6},
		{fmt.Sprintf("ip -n %s neigh show dev eth0", l.Client.Name()), "# the MAC the client sends to"},
		{fmt.Sprintf("ip -n %s link set %s down", l.SW.Name(), port), "# cut r1 again (up: bring it back)"},
		{fmt.Sprintf("tail -f %s %s", d.v1.LogPath(), d.v2.LogPath()), ""},
		{"scripts/demo --clean", "# stop vigild, remove the namespaces and " + d.work},
	} {
		if c[1] == "" {
			d.say("   %s", c[0])
		} else {
			d.say("   %-44s %s", c[0], c[1])
		}
	}
}
