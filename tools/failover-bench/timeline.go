//go:build linux

package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/vigil-ha/vigil/internal/daemon"
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
	na                     time.Duration // the capture's first unsolicited NA
	advert                 time.Duration // the new master's first IPv4 advert in the capture; -1: none seen
	cpus                   lineCPUs      // vigild: where its loop and its kernel worker ran
}

// lineCPUs is what a timeline line says of its CPUs: whether it had both
// loop_cpu and worker_cpu (known), and whether the loop ran the machine
// and the kernel worker began the address addition on different ones
// (apart).
type lineCPUs struct{ apart, known bool }

// lastTimeline finds the last complete takeover timeline of instance name
// in out, logged after skip bytes of it, as (due, offsets after due, its
// CPUs).
func lastTimeline(out string, skip int, name string) (due time.Time, us [5]time.Duration, cpus lineCPUs, ok bool) {
	if skip > len(out) {
		return due, us, cpus, false
	}
	for _, tl := range daemon.ParseLoggedTakeovers(out[skip:]) {
		if tl.Instance != name || !tl.Complete {
			continue
		}
		due, us, ok = tl.Due, [5]time.Duration{tl.Woke, tl.Ran, tl.AddStart, tl.AddDone, tl.Announced}, true
		cpus = lineCPUs{apart: tl.LoopCPU != tl.WorkerCPU, known: tl.CPUsKnown}
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
	fmt.Fprintln(out, "  and whose kernel worker began the address addition on different CPUs (the line's loop_cpu, worker_cpu);")
	fmt.Fprintln(out, "  NA-GARP = the client's first unsolicited NA after its first GARP, both implementations (the IPv6 instance's")
	fmt.Fprintln(out, "  takeover behind the IPv4 one's). keepalived exposes none of its own points: VIP, GARP and NA-GARP only.")
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tadvert_s\timpl\tn\tdue\twoke\tran\tadd>\tadd<\tsent\tVIP\tGARP\tadv\tGARP-due\tNA-GARP\tapart\t")
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
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", s, secs(adv), r.impl, len(tls),
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
					col(func(t timeline) time.Duration { return t.na - t.garp }),
					cpus)
			}
		}
	}
	tw.Flush()
	fmt.Fprintln(out)
}
