//go:build linux

package main

import (
	"fmt"
	"html"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"text/tabwriter"
	"time"
)

// scaleAdvert is the advert interval of the scale curve.
const scaleAdvert = 10 * time.Millisecond

// scalePoint is one implementation at one instance count.
type scalePoint struct {
	impl string
	n    int
	res  loadResult
	err  error
}

// cpuPerSec is r1's (masters') and r2's (backups') CPU time per second of
// the window.
func (p scalePoint) cpuPerSec() (sent, recv time.Duration) {
	w := p.res.window.Seconds()
	if w <= 0 {
		return 0, 0
	}
	return time.Duration(float64(p.res.cpuSent) / w), time.Duration(float64(p.res.cpuRecv) / w)
}

// jitter is the median and the 99th percentile of |interval - advert_int|.
func (p scalePoint) jitter() (med, p99 time.Duration, ok bool) {
	if len(p.res.jitter) == 0 {
		return 0, 0, false
	}
	med, _, _ = summary(p.res.jitter)
	return med, percentile(p.res.jitter, 0.99), true
}

// runScale runs the load lab at each instance count for each
// implementation, the implementations in turn at each count.
func runScale(t testing.TB, ims []impl, sizes []int, window time.Duration, logw io.Writer) []scalePoint {
	var pts []scalePoint
	for _, n := range sizes {
		for _, im := range ims {
			fmt.Fprintf(logw, "scale: %s, %d instance(s) at advert_int %s s\n", im.name, n, secs(scaleAdvert))
			r, err := runLoadN(t, im, n, scaleAdvert, window, logw)
			pts = append(pts, scalePoint{impl: im.name, n: n, res: r, err: err})
		}
	}
	return pts
}

// pct is n as a percentage of of, "-" when of is 0.
func pct(n, of int) string {
	if of == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", 100*float64(n)/float64(of))
}

// printScale writes the scale table.
func printScale(out io.Writer, pts []scalePoint, window time.Duration) {
	fmt.Fprintf(out, "SCALE: n IPv4 instances at advert_int %s s, masters on r1, backups on r2, %v window each.\n", secs(scaleAdvert), window)
	fmt.Fprintln(out, "  CPU = time on CPU of every thread (/proc/PID/task/*/schedstat) per second of the window (ms/s), r1 (sends) and r2 (receives);")
	fmt.Fprintln(out, "  timer accuracy = |interval - advert_int| between one instance's adverts where they leave r1 (r1's capture), µs median / p99;")
	fmt.Fprintln(out, "  gaps = intervals over 1.5 advert_int (advert lost or late, or dropped by the capture), left out of the jitter.")
	fmt.Fprintln(out, "  captured = r1's adverts in r1's / r2's capture, % of the frames r1's / r2's eth0 counted in that window (below 100: the capture dropped frames).")
	fmt.Fprintln(out, "  r2 sent = adverts from the backups in the window: a backup that missed adverts took over (it should be 0).")
	fmt.Fprintln(out, "  keepalived: parent and VRRP child summed.")
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "n\timpl\tadverts/s at r2\tr1 CPU ms/s\tr2 CPU ms/s\tjitter med µs\tjitter p99 µs\tgaps\tcaptured %\tr2 sent\tr2 RSS MB\t")
	for _, p := range pts {
		if p.err != nil {
			fmt.Fprintf(tw, "%d\t%s\t-\t-\t-\t-\t-\t-\t-\t-\t-\t\n", p.n, p.impl)
			continue
		}
		s, r := p.cpuPerSec()
		med, p99, ok := p.jitter()
		js, jp := "-", "-"
		if ok {
			js, jp = fmt.Sprintf("%.0f", usf(med)), fmt.Sprintf("%.0f", usf(p99))
		}
		rate := float64(p.res.recv) / p.res.window.Seconds()
		captured := fmt.Sprintf("%s/%s", pct(p.res.capSent, p.res.capFramesSent), pct(p.res.capRecv, p.res.capFramesRecv))
		fmt.Fprintf(tw, "%d\t%s\t%.0f\t%.1f\t%.1f\t%s\t%s\t%d\t%s\t%d\t%s\t\n", p.n, p.impl, rate,
			float64(s)/float64(time.Millisecond), float64(r)/float64(time.Millisecond), js, jp, p.res.gaps, captured, p.res.backupSent, mb(p.res.rss2))
	}
	tw.Flush()
	for _, p := range pts {
		if p.err != nil {
			fmt.Fprintf(out, "  %s with %d instances failed: %v\n", p.impl, p.n, firstLine(p.err.Error()))
		}
	}
	fmt.Fprintln(out)
}

// series is one line of a chart: an implementation's y per instance count.
type series struct {
	name string
	xs   []int
	ys   []float64
}

// scaleSeries splits pts into one series per implementation of the value
// y, skipping failed points and those without a value.
func scaleSeries(pts []scalePoint, y func(scalePoint) (float64, bool)) []series {
	var out []series
	for _, p := range pts {
		if p.err != nil {
			continue
		}
		v, ok := y(p)
		if !ok {
			continue
		}
		i := slices.IndexFunc(out, func(s series) bool { return s.name == p.impl })
		if i < 0 {
			out = append(out, series{name: p.impl})
			i = len(out) - 1
		}
		out[i].xs = append(out[i].xs, p.n)
		out[i].ys = append(out[i].ys, v)
	}
	return out
}

// writeScaleSVG writes the scale curve as an SVG file: CPU per second of
// the masters and backups, and the p99 timer error, against the instance
// count, one line per implementation.
func writeScaleSVG(path string, pts []scalePoint, note string) error {
	cpu := func(recv bool) func(scalePoint) (float64, bool) {
		return func(p scalePoint) (float64, bool) {
			s, r := p.cpuPerSec()
			if recv {
				s = r
			}
			return float64(s) / float64(time.Millisecond), true
		}
	}
	p99 := func(p scalePoint) (float64, bool) {
		_, v, ok := p.jitter()
		return usf(v), ok
	}
	var b strings.Builder
	const w, h = 960, 330
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", w, h, w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", w, h)
	fmt.Fprintf(&b, `<text x="10" y="18" font-size="14">VRRP scale: n instances at advert_int %s s, vigild beside keepalived in one run</text>`+"\n", secs(scaleAdvert))
	fmt.Fprintf(&b, `<text x="10" y="%d" font-size="11" fill="#555">%s</text>`+"\n", h-8, html.EscapeString(note))
	panels := []struct {
		title string
		s     []series
	}{
		{"r1 (masters, sending) CPU ms/s", scaleSeries(pts, cpu(false))},
		{"r2 (backups, receiving) CPU ms/s", scaleSeries(pts, cpu(true))},
		{"timer error p99 µs (r2 capture)", scaleSeries(pts, p99)},
	}
	for i, p := range panels {
		chart(&b, 10+i*315, 30, 300, 265, p.title, p.s)
	}
	b.WriteString("</svg>\n")
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// colors of the implementations' lines, in the order they appear.
var colors = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd"}

// chart draws one panel at (x0, y0) of size w×h: axes from zero, the
// x axis linear in the instance count, a polyline with dots per series,
// and a legend.
func chart(b *strings.Builder, x0, y0, w, h int, title string, ss []series) {
	const left, right, top, bottom = 45, 10, 22, 30
	pw, ph := float64(w-left-right), float64(h-top-bottom)
	maxX, maxY := 1, 0.0
	for _, s := range ss {
		for i := range s.xs {
			maxX = max(maxX, s.xs[i])
			maxY = max(maxY, s.ys[i])
		}
	}
	if maxY <= 0 {
		maxY = 1
	}
	maxY *= 1.1
	px := func(x int) float64 { return float64(x0+left) + pw*float64(x)/float64(maxX) }
	py := func(y float64) float64 { return float64(y0+top) + ph*(1-y/maxY) }
	fmt.Fprintf(b, `<g><text x="%d" y="%d">%s</text>`+"\n", x0+left, y0+14, html.EscapeString(title))
	fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black"/>`+"\n", px(0), py(0), px(maxX), py(0))
	fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black"/>`+"\n", px(0), py(0), px(0), py(maxY))
	for i := 0; i <= 4; i++ {
		y := maxY * float64(i) / 4
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", px(0), py(y), px(maxX), py(y))
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n", px(0)-4, py(y)+4, tick(y))
		x := maxX * i / 4
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">%d</text>`+"\n", px(x), py(0)+14, x)
	}
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">instances</text>`+"\n", px(maxX/2), py(0)+27)
	for i, s := range ss {
		c := colors[i%len(colors)]
		var pts []string
		for j := range s.xs {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(s.xs[j]), py(s.ys[j])))
			fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", px(s.xs[j]), py(s.ys[j]), c)
		}
		fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", c, strings.Join(pts, " "))
		fmt.Fprintf(b, `<text x="%d" y="%d" fill="%s">%s</text>`+"\n", x0+left+10, y0+top+14+14*i, c, html.EscapeString(s.name))
	}
	b.WriteString("</g>\n")
}

// tick formats an axis value with as few digits as it needs.
func tick(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}
