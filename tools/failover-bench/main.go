//go:build linux

package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/vigil-ha/vigil/internal/memtrim"
	"github.com/vigil-ha/vigil/testnet"
)

// floorSleep is the sleep of each FLOOR sample.
const floorSleep = 2 * time.Millisecond

// options are the command's flags.
type options struct {
	trials    int
	intervals []time.Duration
	impls     []string // "vigild", "keepalived"
	scenarios []scenario
	window    time.Duration
	load      bool
	loadFloor bool
	floor     int           // wake-up samples of the FLOOR table; 0: none
	scale     []int         // instance counts of the SCALE curve; none: no curve
	scaleWin  time.Duration // measurement window of each SCALE point
	svg       string        // where to write the SCALE curve as SVG; "": nowhere
	vigild    string        // prebuilt binary; "" builds one
	global    []string      // more global_defs lines for both implementations
}

func main() {
	t := testnet.NewStandalone("failover-bench", os.Stderr)
	defer t.Close()
	t.CloseOnSignal()
	o, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		t.Close()
		os.Exit(2)
	}
	if err := bench(t, o, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "failover-bench: %v\n", err)
		t.Close()
		os.Exit(1)
	}
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("failover-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.trials, "n", 5, "trials per scenario, interval and implementation")
	intervals := fs.String("intervals", "1,0.1,0.01", "advert_int values in seconds, comma-separated")
	impls := fs.String("impl", "both", "implementations: vigild, keepalived or both")
	scs := fs.String("scenarios", "cut,kill+cut,sigterm,busy+cut", "failover scenarios, comma-separated (\"none\": load run only)")
	fs.DurationVar(&o.window, "window", 10*time.Second, "CPU measurement window of the 50-instance load run")
	fs.BoolVar(&o.load, "load", true, "run the 50-instance CPU and memory measurement")
	fs.BoolVar(&o.loadFloor, "load-floor", true, "add the bare Go sender and receiver and the C ones to the load table (its floors)")
	fs.IntVar(&o.floor, "floor", 300, "wake-up samples of the FLOOR table (this machine's timer latency); 0: skip it")
	fs.StringVar(&o.vigild, "vigild", "", "vigild binary to use (default: go build ./cmd/vigild into a temporary directory)")
	scale := fs.String("scale", "1,16,64,128,255", "instance counts of the scale curve at advert_int 0.01 s, comma-separated (\"none\": skip it)")
	fs.DurationVar(&o.scaleWin, "scale-window", 3*time.Second, "measurement window of each scale point")
	fs.StringVar(&o.svg, "svg", "", "write the scale curve as SVG to this file (e.g. docs/perf/scale.svg)")
	global := fs.String("global", "", "more global_defs lines for both implementations, separated by ';' (e.g. \"vrrp_priority -10\")")
	quick := fs.Bool("quick", false, "smoke run: 1 trial, advert_int 0.1 s only, 3 s load window")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("failover-bench: unexpected arguments %q", fs.Args())
	}
	if *quick {
		o.trials = 1
		*intervals = "0.1"
		if !isSet(fs, "scale") {
			*scale = "1,4"
		}
		if !isSet(fs, "scale-window") {
			o.scaleWin = time.Second
		}
		if !isSet(fs, "window") {
			o.window = 3 * time.Second
		}
	}
	fail := func(format string, args ...any) (options, error) {
		err := fmt.Errorf("failover-bench: "+format, args...)
		fmt.Fprintln(stderr, err)
		return o, err
	}
	if o.trials < 1 {
		return fail("-n %d: want at least 1", o.trials)
	}
	for _, l := range strings.Split(*global, ";") {
		if l = strings.TrimSpace(l); l != "" {
			if strings.ContainsAny(l, "{}\n") {
				return fail("-global: %q: one keyword and its arguments per line, no blocks", l)
			}
			o.global = append(o.global, l)
		}
	}
	for _, s := range strings.Split(*intervals, ",") {
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		// advert_int is in centiseconds on the wire (RFC 5798 §5.2.7).
		if err != nil || f < 0.01 || f > 40.95 || f*100 != float64(int(f*100+0.5)) {
			return fail("-intervals: %q is not a VRRPv3 advert_int (0.01..40.95 s in centiseconds)", s)
		}
		o.intervals = append(o.intervals, time.Duration(int(f*100+0.5))*10*time.Millisecond)
	}
	switch *impls {
	case "both":
		o.impls = []string{"vigild", "keepalived"}
	case "vigild", "keepalived":
		o.impls = []string{*impls}
	default:
		return fail("-impl %q: want vigild, keepalived or both", *impls)
	}
	for _, s := range strings.Split(*scs, ",") {
		if *scs == "none" {
			break
		}
		sc := scenario(strings.TrimSpace(s))
		if !slices.Contains(scenarios, sc) {
			return fail("-scenarios: unknown %q (want cut, kill+cut, sigterm, busy+cut)", s)
		}
		o.scenarios = append(o.scenarios, sc)
	}
	for _, f := range strings.Split(*scale, ",") {
		if *scale == "none" {
			break
		}
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > maxLoadInstances {
			return fail("-scale: %q is not an instance count (1..%d)", f, maxLoadInstances)
		}
		o.scale = append(o.scale, n)
	}
	if o.scaleWin <= 0 {
		return fail("-scale-window %v: want > 0", o.scaleWin)
	}
	if o.floor < 0 {
		return fail("-floor %d: want 0 or more", o.floor)
	}
	if o.window <= 0 {
		return fail("-window %v: want > 0", o.window)
	}
	return o, nil
}

func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// bench runs everything on t (a testnet.Standalone in the command, the
// test's t in the smoke test), prints progress to logw and the tables to
// out.
func bench(t testing.TB, o options, out, logw io.Writer) error {
	var impls []impl
	for _, name := range o.impls {
		switch name {
		case "vigild":
			bin := o.vigild
			if bin == "" {
				fmt.Fprintln(logw, "building vigild ...")
				bin = buildVigild(t)
			}
			impls = append(impls, vigildImpl(bin))
		case "keepalived":
			if _, err := exec.LookPath("keepalived"); err != nil {
				return fmt.Errorf("keepalived is not installed (apt-get install keepalived): %w", err)
			}
			impls = append(impls, keepalivedImpl())
		}
	}
	for i := range impls {
		impls[i] = withGlobal(impls[i], o.global)
	}
	start := time.Now()
	var rows []failoverRow
	for _, adv := range o.intervals {
		if len(o.scenarios) == 0 {
			break
		}
		fmt.Fprintf(logw, "failover: advert_int %s s, %d trial(s) per scenario and implementation\n", secs(adv), o.trials)
		byImpl := runFailover(t, impls, adv, o.scenarios, o.trials, logw)
		for _, s := range o.scenarios {
			for _, im := range impls {
				fr := byImpl[im.name]
				rows = append(rows, failoverRow{sc: s, adv: adv, impl: im.name, n: o.trials, res: fr.res[s], errs: fr.errs[s]})
			}
		}
	}
	var loads []loadRow
	if o.load {
		loadImpls := impls
		if o.loadFloor {
			fmt.Fprintln(logw, "building the floors' bare programs (Go and C) ...")
			loadImpls = append(slices.Clip(impls), bareImpl(buildBare(t)), cFloorImpl(buildCFloor(t)))
		}
		for _, im := range loadImpls {
			fmt.Fprintf(logw, "load: %s, %d instances at advert_int %s s\n", im.name, loadInstances, secs(loadAdvert))
			r, err := runLoad(t, im, o.window, logw)
			loads = append(loads, loadRow{impl: im, res: r, err: err})
		}
	}
	var scale []scalePoint
	if len(o.scale) > 0 {
		scale = runScale(t, impls, o.scale, o.scaleWin, logw)
	}
	var floor []floorResult
	if o.floor > 0 {
		fmt.Fprintf(logw, "floor: %d wake-ups of each sleeper\n", o.floor)
		var err error
		if floor, err = measureFloor(o.floor, floorSleep); err != nil {
			return fmt.Errorf("floor: %w", err)
		}
	}
	fmt.Fprintf(logw, "done in %v\n", time.Since(start).Round(time.Second))
	if len(rows) > 0 {
		printFailover(out, rows, o.scenarios, o.intervals)
		printTimeline(out, rows, o.scenarios, o.intervals)
	}
	if o.load {
		printLoad(out, loads, o.window)
	}
	if len(scale) > 0 {
		printScale(out, scale, o.scaleWin)
		if o.svg != "" {
			note := fmt.Sprintf("failover-bench, %s, %d cores shared with other work: figures move with the machine's load", time.Now().UTC().Format("2006-01-02"), runtime.NumCPU())
			if err := writeScaleSVG(o.svg, scale, note); err != nil {
				return fmt.Errorf("scale: %w", err)
			}
			fmt.Fprintf(logw, "scale curve written to %s\n", o.svg)
		}
	}
	if len(floor) > 0 {
		printFloor(out, floor, floorSleep)
	}
	return nil
}

type failoverRow struct {
	sc   scenario
	adv  time.Duration
	impl string
	n    int
	res  []trialResult
	errs []error
}

type loadRow struct {
	impl impl
	res  loadResult
	err  error
}

// printFailover writes the failover table: per scenario and interval, one
// row per implementation and a ratio row when both ran.
func printFailover(out io.Writer, rows []failoverRow, scs []scenario, advs []time.Duration) {
	fmt.Fprintln(out, "FAILOVER: old master's last advert (client capture; sigterm: its priority-0 advert) to")
	fmt.Fprintln(out, "  (a) VIP on the backup (netlink), (b) first GARP, (c) first unsolicited NA (client capture); ms, median/min/max.")
	fmt.Fprintln(out, "  limit: RFC 5798 Master_Down_Interval = 3*advert + Skew_Time(priority 100); sigterm: Skew_Time.")
	fmt.Fprintln(out, "  d = median - limit; target: |d| <= 1 ms for (a), (b) and (c).")
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tadvert_s\timpl\tok/n\t(a) VIP med/min/max\t(b) GARP med/min/max\t(c) NA med/min/max\tlimit\td(a)\td(b)\td(c)\ttarget\t")
	for _, adv := range advs {
		for _, s := range scs {
			med := map[string][3]time.Duration{}
			for _, r := range rows {
				if r.sc != s || r.adv != adv {
					continue
				}
				limit := s.limit(adv)
				if len(r.res) == 0 {
					fmt.Fprintf(tw, "%s\t%s\t%s\t0/%d\t-\t-\t-\t%s\t-\t-\t-\tno data\t\n", s, secs(adv), r.impl, r.n, ms(limit))
					continue
				}
				var a, b, c []time.Duration
				for _, x := range r.res {
					a, b, c = append(a, x.vip), append(b, x.garp), append(c, x.na)
				}
				am, al, ah := summary(a)
				bm, bl, bh := summary(b)
				cm, cl, ch := summary(c)
				med[r.impl] = [3]time.Duration{am, bm, cm}
				verdict := "yes"
				for _, m := range []time.Duration{am, bm, cm} {
					if d := m - limit; d > time.Millisecond || d < -time.Millisecond {
						verdict = "no"
					}
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%s/%s/%s\t%s/%s/%s\t%s/%s/%s\t%s\t%s\t%s\t%s\t%s\t\n",
					s, secs(adv), r.impl, len(r.res), r.n,
					ms(am), ms(al), ms(ah), ms(bm), ms(bl), ms(bh), ms(cm), ms(cl), ms(ch),
					ms(limit), signed(am-limit), signed(bm-limit), signed(cm-limit), verdict)
			}
			v, ok1 := med["vigild"]
			k, ok2 := med["keepalived"]
			if ok1 && ok2 {
				fmt.Fprintf(tw, "%s\t%s\tvigild/keepalived\tratio\t%s\t%s\t%s\t\t\t\t\t\t\n",
					s, secs(adv), ratio(v[0], k[0]), ratio(v[1], k[1]), ratio(v[2], k[2]))
			}
		}
	}
	tw.Flush()
	var failed []string
	for _, r := range rows {
		for _, e := range r.errs {
			failed = append(failed, fmt.Sprintf("  %s %s adv %s: %v", r.impl, r.sc, secs(r.adv), firstLine(e.Error())))
		}
	}
	if len(failed) > 0 {
		fmt.Fprintf(out, "failed trials (%d):\n%s\n", len(failed), strings.Join(failed, "\n"))
	}
	fmt.Fprintln(out)
}

// printLoad writes the 50-instance table.
func printLoad(out io.Writer, rows []loadRow, window time.Duration) {
	fmt.Fprintf(out, "LOAD: %d IPv4 instances (VRIDs 1..%d), advert_int %s s, masters on r1, backups on r2.\n", loadInstances, loadInstances, secs(loadAdvert))
	fmt.Fprintf(out, "  CPU = time on CPU of every thread (/proc/PID/task/*/schedstat, ns) over a %v window / frames r1's eth0 sent, r2's received in it\n  (the interfaces' counters; no capture runs in this window); utime+stime (%d ms ticks) below for comparison;\n", window, 1000/userHZ)
	fmt.Fprintf(out, "  a second %v window runs tcpdump on r1's and r2's eth0: the CPU with it, and the adverts it saw against the counters.\n", window)
	fmt.Fprintf(out, "  memory = VmHWM / VmRSS (/proc/PID/status). keepalived: parent and VRRP child (-P) summed. This host's transparent huge pages: %s.\n", memtrim.HostHugePages())
	fmt.Fprintln(out, "  targets: CPU per advert sent and received <= half of keepalived's in the same run (\"-\" without a keepalived row); RSS <= 12 MB.")
	var ka *loadResult
	for i := range rows {
		if rows[i].impl.name == "keepalived" && rows[i].err == nil {
			ka = &rows[i].res
		}
	}
	half := func(per func(loadResult) time.Duration, x loadResult) string {
		switch {
		case ka == nil:
			return "-"
		case per(x) <= per(*ka)/2:
			return "yes"
		default:
			return "no"
		}
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "impl\tprocs\tsent/recv\tsent us/advert\ttarget\trecv us/advert\ttarget\tr1 HWM/RSS MB\tr2 HWM/RSS MB\ttarget\t")
	for _, r := range rows {
		if r.err != nil {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t-\t-\t-\t-\tno data\t\n", r.impl.name)
			continue
		}
		x := r.res
		ok := func(b bool) string {
			if b {
				return "yes"
			}
			return "no"
		}
		fmt.Fprintf(tw, "%s\t%d+%d\t%d/%d\t%s\t%s\t%s\t%s\t%s/%s\t%s/%s\t%s\t\n",
			r.impl.name, x.procs1, x.procs2, x.sent, x.recv,
			us(x.perSent()), half(loadResult.perSent, x),
			us(x.perRecv()), half(loadResult.perRecv, x),
			mb(x.hwm1), mb(x.rss1), mb(x.hwm2), mb(x.rss2),
			ok(max(x.rss1, x.rss2, x.hwm1, x.hwm2) <= 12<<20))
	}
	tw.Flush()
	for _, r := range rows {
		if r.err != nil {
			fmt.Fprintf(out, "%s load run failed: %v\n", r.impl.name, r.err)
		} else if r.res.sent > 0 {
			fmt.Fprintf(out, "  %s: r2 RSS = %s MB anonymous (heap, stacks) + %s MB file-backed (program, libraries)\n",
				r.impl.name, mb(r.res.anon2), mb(r.res.file2))
			fmt.Fprintf(out, "  %s: CPU r1 %v, r2 %v in %v; utime+stime r1 %v, r2 %v (one tick = %.1f us/advert)\n", r.impl.name,
				r.res.cpuSent.Round(time.Millisecond), r.res.cpuRecv.Round(time.Millisecond), r.res.window.Round(time.Millisecond),
				r.res.tickSent, r.res.tickRecv,
				float64(time.Second/userHZ)/float64(time.Microsecond)/float64(r.res.sent))
			fmt.Fprintf(out, "  %s: with captures: sent %s, recv %s us/advert; r1 sent %d frames, its capture saw %d adverts; r2 received %d, its capture %d\n",
				r.impl.name, us(r.res.perSentCaptured()), us(r.res.perRecvCaptured()),
				r.res.capFramesSent, r.res.capSent, r.res.capFramesRecv, r.res.capRecv)
		}
	}
	fmt.Fprintln(out)
}

func signed(d time.Duration) string {
	s := ms(d)
	if d >= 0 {
		s = "+" + s
	}
	return s
}

func ratio(a, b time.Duration) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.3f", float64(a)/float64(b))
}

func us(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Microsecond)) }

func mb(b int64) string { return fmt.Sprintf("%.1f", float64(b)/(1<<20)) }

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
