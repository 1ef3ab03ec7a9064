//go:build linux

package main

import (
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// timeline is one takeover's points, each as a delay after the RFC
// deadline seen from the wire: the old master's last advert at the client
// plus the scenario's limit. The daemon's own points (own) come from
// vigild's "takeover timeline" debug line; keepalived shows none of them.
type timeline struct {
	own                    bool
	due, woke, ran         time.Duration // vigild: its timer's deadline, the timer's wake-up, the loop's run
	addStart, addDone, ann time.Duration // vigild: netlink add sent, acknowledged; first GARP round handed to the socket
	vip, garp              time.Duration // the netlink subscription's VIP, the capture's GARP
	advert                 time.Duration // the new master's first IPv4 advert in the capture; -1: none seen
	cpus                   lineCPUs      // vigild: where its loop and its kernel worker ran
}

// timelineRE matches vigild's debug line for one instance.
var timelineRE = regexp.MustCompile(`takeover timeline.*? due_unix_ns=(\d+) woke_us=(\S+) ran_us=(\S+) add_start_us=(\S+) add_done_us=(\S+) announced_us=(\S+)`)

// cpuRE matches the CPUs at the end of vigild's timeline line.
var cpuRE = regexp.MustCompile(` loop_cpu=(\d+) worker_cpu=(\d+)`)

// lineCPUs is what a timeline line says of its CPUs: whether it had both
// loop_cpu and worker_cpu (known), and whether the loop ran the machine
// and the kernel worker began the address addition on different ones
// (apart).
type lineCPUs struct{ apart, known bool }

// lastTimeline finds the last takeover timeline of instance name in out,
// logged after skip bytes of it, as (due, offsets in µs after due, its
// CPUs).
func lastTimeline(out string, skip int, name string) (due time.Time, us [5]time.Duration, cpus lineCPUs, ok bool) {
	if skip > len(out) {
		return due, us, cpus, false
	}
	tag := "(" + name + ") takeover timeline"
	for line := range strings.Lines(out[skip:]) {
		if !strings.Contains(line, tag) {
			continue
		}
		m := timelineRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		ns, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil {
			continue
		}
		var got [5]time.Duration
		good := true
		for i, s := range m[2:] {
			f, err := strconv.ParseFloat(s, 64)
			if err != nil {
				good = false
				break
			}
			got[i] = time.Duration(f * float64(time.Microsecond))
		}
		if good {
			due, us, ok = time.Unix(0, ns), got, true
			cpus = lineCPUs{}
			if c := cpuRE.FindStringSubmatch(line); c != nil {
				cpus = lineCPUs{apart: c[1] != c[2], known: true}
			}
		}
	}
	return due, us, cpus, ok
}

// printTimeline writes the medians of the takeover points per scenario,
// interval and implementation, in µs after the RFC deadline.
func printTimeline(out io.Writer, rows []failoverRow, scs []scenario, advs []time.Duration) {
	fmt.Fprintln(out, "TIMELINE (IPv4 instance): median µs after the RFC deadline (old master's last advert at the client + limit).")
	fmt.Fprintln(out, "  vigild's own points from its -D \"takeover timeline\" line: due = its timer's deadline (from its receive stamp),")
	fmt.Fprintln(out, "  woke = the timerfd read, ran = the loop ran the machine, add>/add< = netlink address add sent / acknowledged,")
	fmt.Fprintln(out, "  sent = first GARP round handed to the socket; VIP = netlink subscription in r2, GARP and adv = the client's")
	fmt.Fprintln(out, "  capture of the first GARP and of the new master's first advert; apart = takeovers whose loop ran the machine")
	fmt.Fprintln(out, "  and whose kernel worker began the address addition on different CPUs (the line's loop_cpu, worker_cpu).")
	fmt.Fprintln(out, "  keepalived exposes none of its own points: VIP and GARP only.")
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tadvert_s\timpl\tn\tdue\twoke\tran\tadd>\tadd<\tsent\tVIP\tGARP\tadv\tGARP-due\tapart\t")
	for _, adv := range advs {
		for _, s := range scs {
			for _, r := range rows {
				if r.sc != s || r.adv != adv {
					continue
				}
				var tls []timeline
				for _, x := range r.res {
					if x.tl != nil {
						tls = append(tls, *x.tl)
					}
				}
				if len(tls) == 0 {
					continue
				}
				col := func(f func(timeline) time.Duration) string {
					var ds []time.Duration
					for _, t := range tls {
						ds = append(ds, f(t))
					}
					m, _, _ := summary(ds)
					return fmt.Sprintf("%.0f", float64(m)/float64(time.Microsecond))
				}
				own := func(f func(timeline) time.Duration) string {
					if !tls[0].own {
						return "-"
					}
					return col(f)
				}
				apart, known := 0, 0
				for _, t := range tls {
					if t.cpus.known {
						known++
						if t.cpus.apart {
							apart++
						}
					}
				}
				cpus := "-"
				if known > 0 {
					cpus = fmt.Sprintf("%d/%d", apart, known)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", s, secs(adv), r.impl, len(tls),
					own(func(t timeline) time.Duration { return t.due }),
					own(func(t timeline) time.Duration { return t.woke }),
					own(func(t timeline) time.Duration { return t.ran }),
					own(func(t timeline) time.Duration { return t.addStart }),
					own(func(t timeline) time.Duration { return t.addDone }),
					own(func(t timeline) time.Duration { return t.ann }),
					col(func(t timeline) time.Duration { return t.vip }),
					col(func(t timeline) time.Duration { return t.garp }),
					col(func(t timeline) time.Duration { return t.advert }),
					own(func(t timeline) time.Duration { return t.garp - t.due }),
					cpus)
			}
		}
	}
	tw.Flush()
	fmt.Fprintln(out)
}
