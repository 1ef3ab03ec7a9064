//go:build linux

package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// table renders the points as the Markdown tables of docs/performance.md.
func table(ps []point) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("Commit of the external cache into an empty table (ms):\n\n")
	w("| flows | kernel floor | vigil Committer | vigil Replicator.Commit | vigil / floor | conntrackd -c | floor in 64s, µs/flow |\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, p := range ps {
		w("| %d | %.1f | %.1f | %.1f | %.2f | %.1f | %.2f |\n", p.N, p.Floor, p.Committer, p.Commit, p.Commit/p.Floor, p.CtdCommit, p.Floor64)
	}
	for _, p := range ps {
		if p.CtdLost > 0 {
			w("\nconntrackd's receiver never got %d of the %d flows (its figures are for the flows it holds).\n", p.CtdLost, p.N)
		}
	}
	w("\nBulk resync to a peer whose external cache was flushed (ms):\n\n")
	w("| flows | datagrams (MB) | encoding only | link floor | vigil | conntrackd |\n| ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, p := range ps {
		w("| %d | %d (%.1f) | %s | %s | %s | %s |\n", p.N, p.Datagrams, float64(p.Bytes)/1e6, fmtMS(p.Encode), fmtMS(p.Link), fmtMS(p.Resync), fmtMS(p.CtdResync))
	}
	for _, p := range ps {
		if p.LinkLost > 0 {
			w("\nThe link floor's receiver missed up to %d of its datagrams in a trial at %d flows (that trial's figure is until the last that came).\n", p.LinkLost, p.N)
		}
	}
	for _, p := range ps {
		if p.Restart == 0 {
			continue
		}
		w("\nBulk resync to a restarted peer: a new receiver process, its caches empty and their memory fresh (ms, from its exec until it holds the flows; both ask at their start; conntrackd dumps its kernel's table at its start, vigil once the peer's table is in, which here walks the senders' flows in the host's one table: that walk alone in the fourth column). The floor: a new process that only keeps the bulk's datagrams in fresh memory, from its exec until its socket is open plus from the first send until it holds the last datagram:\n\n")
		w("| flows | vigil | conntrackd | the table walk | floor |\n| ---: | ---: | ---: | ---: | ---: |\n")
		w("| %d | %s | %s | %s | %s |\n", p.N, fmtMS(p.Restart), fmtMS(p.CtdRestart), fmtMS(p.RestartWalk), fmtMS(p.RestartFloor))
		if p.RestartFloorLost > 0 {
			w("\nThe restarted peer's floor missed up to %d of its datagrams in a trial (that trial's figure is until the last that came).\n", p.RestartFloorLost)
		}
	}
	w("\nCPU per replicated entry on the event path (µs; the flows added at this size). Where a sender's event socket overflowed meanwhile, its figure says how often: an overflow costs vigil a dump of the table and conntrackd a resync against it, which the CPU includes:\n\n")
	w("| flows | vigil sender | conntrackd sender | vigil receiver | conntrackd receiver |\n| ---: | ---: | ---: | ---: | ---: |\n")
	for _, p := range ps {
		w("| %d | %.2f%s | %.2f%s | %.2f | %.2f |\n", p.N, p.CPUSend, overflowed(p.Redumps, "dump"), p.CtdCPUSend, overflowed(p.CtdOverruns, "resync"), p.CPURecv, p.CtdCPURecv)
	}
	w("\nTakeover ready: the replicated flows in the kernel before the VIPs (ms): today's commit of the whole external cache, and the warm standby's (its commit of the dirty set and the flush):\n\n")
	w("| flows | vigil Replicator.Commit | conntrackd -c | warm standby | its dirty set (flows) |\n| ---: | ---: | ---: | ---: | ---: |\n")
	for _, p := range ps {
		w("| %d | %.1f | %.1f | %.2f | %.0f |\n", p.N, p.Commit, p.CtdCommit, p.WarmTakeover, p.WarmDirty)
	}
	w("\nThe backup's CPU per replicated entry (µs): vigil keeping an external cache only, vigil as a warm standby (also writing each flow into its kernel), conntrackd keeping an external cache, conntrackd with DisableExternalCache (writing each flow into its kernel instead), and the kernel's insert floor in datagrams of 64:\n\n")
	w("| flows | vigil receiver | vigil warm standby | conntrackd receiver | conntrackd DisableExternalCache | kernel floor in 64s |\n| ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, p := range ps {
		w("| %d | %.2f | %.2f | %.2f | %.2f | %.2f |\n", p.N, p.CPURecv, p.CPUWarm, p.CtdCPURecv, p.CtdCPUDirect, p.Floor64)
	}
	w("\nPeak RSS (VmHWM, MB) of the backups that write each flow into their kernel, once they hold the flows:\n\n")
	w("| flows | vigil warm standby | conntrackd DisableExternalCache |\n| ---: | ---: | ---: |\n")
	for _, p := range ps {
		w("| %d | %.1f | %.1f |\n", p.N, p.RSSWarm, p.CtdRSSDirect)
	}
	w("\nPeak RSS (VmHWM, MB) once the receiver holds the flows; in brackets the peak after this size's commits and bulks:\n\n")
	w("| flows | vigil sender | conntrackd sender | vigil receiver | conntrackd receiver |\n| ---: | ---: | ---: | ---: | ---: |\n")
	for _, p := range ps {
		w("| %d | %.1f (%.1f) | %.1f (%.1f) | %.1f (%.1f) | %.1f (%.1f) |\n", p.N, p.RSSSend, p.PeakSend, p.CtdRSSSend, p.CtdPeakSend,
			p.RSSRecv, p.PeakRecv, p.CtdRSSRecv, p.CtdPeakRecv)
	}
	return b.String()
}

type series struct {
	name  string
	color string
	ys    []float64
}

// charts returns the SVG charts of the points, by file name.
func charts(ps []point) map[string]string {
	xs := make([]float64, len(ps))
	col := func(f func(p point) float64) []float64 {
		out := make([]float64, len(ps))
		for i, p := range ps {
			out[i] = f(p)
		}
		return out
	}
	for i, p := range ps {
		xs[i] = float64(p.N)
	}
	return map[string]string{
		"ct-commit.svg": svgChart("Commit into the kernel", "ms", xs, []series{
			{"kernel floor", "#888888", col(func(p point) float64 { return p.Floor })},
			{"vigil", "#1f77b4", col(func(p point) float64 { return p.Commit })},
			{"conntrackd -c", "#d62728", col(func(p point) float64 { return p.CtdCommit })},
		}),
		"ct-resync.svg": svgChart("Bulk resync to a flushed peer", "ms", xs, []series{
			{"encoding only", "#bbbbbb", col(func(p point) float64 { return p.Encode })},
			{"link floor", "#888888", col(func(p point) float64 { return p.Link })},
			{"vigil", "#1f77b4", col(func(p point) float64 { return p.Resync })},
			{"conntrackd", "#d62728", col(func(p point) float64 { return p.CtdResync })},
		}),
		"ct-cpu.svg": svgChart("CPU per replicated entry (event path)", "µs", xs, sides(col, func(p point) [4]float64 {
			return [4]float64{p.CPUSend, p.CPURecv, p.CtdCPUSend, p.CtdCPURecv}
		})),
		"ct-rss.svg": svgChart("Peak RSS", "MB", xs, sides(col, func(p point) [4]float64 {
			return [4]float64{p.RSSSend, p.RSSRecv, p.CtdRSSSend, p.CtdRSSRecv}
		})),
	}
}

// sides returns the four series of a per-process figure: vigil's sender
// and receiver, conntrackd's sender and receiver, in that order in f's
// result.
func sides(col func(func(point) float64) []float64, f func(point) [4]float64) []series {
	names := [4]string{"vigil sender", "vigil receiver", "conntrackd sender", "conntrackd receiver"}
	colors := [4]string{"#1f77b4", "#aec7e8", "#d62728", "#ff9896"}
	out := make([]series, 4)
	for i := range out {
		out[i] = series{names[i], colors[i], col(func(p point) float64 { return f(p)[i] })}
	}
	return out
}

// svgChart draws series over xs on log-log axes, with a legend.
func svgChart(title, unit string, xs []float64, ss []series) string {
	const W, H, left, right, top, bottom = 640, 400, 70, 170, 40, 50
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range ss {
		for _, y := range s.ys {
			if y > 0 {
				lo, hi = math.Min(lo, y), math.Max(hi, y)
			}
		}
	}
	if math.IsInf(lo, 0) {
		lo, hi = 1, 10
	}
	ylo, yhi := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
	if yhi == ylo {
		yhi++
	}
	xlo, xhi := math.Log10(xs[0]), math.Log10(xs[len(xs)-1])
	if xhi == xlo {
		xlo, xhi = xlo-0.5, xhi+0.5
	}
	px := func(x float64) float64 { return left + (math.Log10(x)-xlo)/(xhi-xlo)*(W-left-right) }
	py := func(y float64) float64 { return H - bottom - (math.Log10(y)-ylo)/(yhi-ylo)*(H-top-bottom) }
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", W, H)
	w(`<rect width="100%%" height="100%%" fill="white"/>` + "\n")
	w(`<text x="%d" y="22" font-size="15">%s (%s, log scale)</text>`+"\n", left, title, unit)
	for e := ylo; e <= yhi; e++ {
		y := py(math.Pow(10, e))
		w(`<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#dddddd"/>`+"\n", left, W-right, y, y)
		w(`<text x="%d" y="%.1f" text-anchor="end">%g</text>`+"\n", left-6, y+4, math.Pow(10, e))
	}
	for _, x := range xs {
		X := px(x)
		w(`<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#dddddd"/>`+"\n", X, X, top, H-bottom)
		w(`<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", X, H-bottom+18, flowsLabel(x))
	}
	w(`<text x="%d" y="%d" text-anchor="middle">flows</text>`+"\n", (left+W-right)/2, H-12)
	for i, s := range ss {
		var pts []string
		for j, y := range s.ys {
			if y > 0 {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(xs[j]), py(y)))
			}
		}
		w(`<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", s.color, strings.Join(pts, " "))
		for _, pt := range pts {
			var X, Y float64
			fmt.Sscanf(pt, "%f,%f", &X, &Y)
			w(`<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", X, Y, s.color)
		}
		ly := top + 10 + 20*i
		w(`<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="2"/>`+"\n", W-right+10, W-right+30, ly, ly, s.color)
		w(`<text x="%d" y="%d">%s</text>`+"\n", W-right+35, ly+4, s.name)
	}
	w("</svg>\n")
	return b.String()
}

func flowsLabel(x float64) string {
	switch {
	case x >= 1e6 && math.Mod(x, 1e6) == 0:
		return fmt.Sprintf("%gM", x/1e6)
	case x >= 1e3:
		return fmt.Sprintf("%gk", x/1e3)
	}
	return fmt.Sprintf("%g", x)
}

// fmtMS formats a time in milliseconds with one decimal, or with three
// significant digits below 10 ms: a small run's encoding takes a few
// hundredths of a millisecond, which one decimal would print as 0.0.
func fmtMS(v float64) string {
	if v >= 10 {
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// overflowed notes n overflows of a sender's event socket, each costing
// it one what (nothing for none; -1: the sender did not tell).
func overflowed(n int, what string) string {
	switch {
	case n < 0:
		return " (overflows unknown)"
	case n == 0:
		return ""
	case n == 1:
		return " (1 " + what + ")"
	}
	return fmt.Sprintf(" (%d %ss)", n, what)
}
