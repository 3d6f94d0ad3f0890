package report

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"sort"
	"strings"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// Plots are written as SVG by hand rather than with gonum.org/v1/plot: we
// need fault periods as labelled lanes and shading, colours from the page's
// CSS (one legend for plots and timeline), data attributes so a click maps to
// test time, and pixel de-duplication so that 100,000 points stay a small
// document. gonum's SVG backend embeds fonts in every plot and offers none of
// these hooks.

const (
	plotW      = 1100.0
	plotLeft   = 70.0
	plotRight  = 24.0
	plotHeight = 210.0
	laneH      = 16.0
	titleH     = 24.0
	axisH      = 34.0
)

// frame is one plot: title, fault lanes, shading, time axis, then the data.
type frame struct {
	b          *strings.Builder
	x0, x1     float64 // plot area, px
	y0, y1     float64 // top, bottom of the data area, px
	tmax       float64 // s
	totalH     float64
	firstFault float64
}

func (f *frame) x(ns int64) float64 {
	return f.x0 + (f.x1-f.x0)*float64(ns)/1e9/f.tmax
}

func newFrame(id, title string, legend [][2]string, tmaxNS int64, faults []fault, violation *int64) *frame {
	pkgs := faultPkgs(faults)
	f := &frame{b: &strings.Builder{}, x0: plotLeft, x1: plotW - plotRight}
	f.tmax = math.Max(float64(tmaxNS)/1e9, 0.001)
	f.y0 = titleH + laneH*float64(len(pkgs)) + 6
	f.y1 = f.y0 + plotHeight
	f.totalH = f.y1 + axisH
	b := f.b
	fmt.Fprintf(b, `<svg id="%s" class="plot" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %.0f %.0f" width="%.0f" height="%.0f" data-x0="%.1f" data-x1="%.1f" data-tmax="%g" role="img" aria-label="%s">`,
		id, plotW, f.totalH, plotW, f.totalH, f.x0, f.x1, f.tmax, html.EscapeString(title))
	fmt.Fprintf(b, `<text class="ptitle" x="%.0f" y="16">%s</text>`, f.x0, html.EscapeString(title))
	lx := plotW - plotRight
	for i := len(legend) - 1; i >= 0; i-- {
		text := legend[i][0]
		w := 14 + 7*float64(len(text))
		lx -= w
		fmt.Fprintf(b, `<rect class="%s" x="%.0f" y="7" width="10" height="10"/><text class="legend" x="%.0f" y="16">%s</text>`,
			legend[i][1], lx, lx+13, html.EscapeString(text))
	}
	// Fault lanes: one row per package, a labelled bar per period, and the
	// same period shaded over the data so effects line up with causes.
	for lane, pkg := range pkgs {
		y := titleH + laneH*float64(lane)
		fmt.Fprintf(b, `<text class="lane" x="%.0f" y="%.0f" text-anchor="end">%s</text>`, f.x0-4, y+11, html.EscapeString(pkg))
		for _, ft := range faults {
			if ft.Pkg != pkg {
				continue
			}
			xa, xb := f.x(ft.Start), math.Max(f.x(ft.End), f.x(ft.Start)+2)
			color := faultColor(ft.Pkg)
			tip := fmt.Sprintf("%s from %s to %s%s", ft.Label(), secs(ft.Start), secs(ft.End), nodesSuffix(ft.Nodes))
			fmt.Fprintf(b, `<g class="fault"><title>%s</title><rect x="%.1f" y="%.0f" width="%.1f" height="%.0f" fill="%s"/><rect x="%.1f" y="%.0f" width="%.1f" height="%.0f" fill="%s" opacity="0.16"/>`,
				html.EscapeString(tip), xa, y+1, xb-xa, laneH-2, color, xa, f.y0, xb-xa, f.y1-f.y0, color)
			// Label only when it fits; the tooltip always has it all.
			if label := fitText(ft.Label(), xb-xa-4); label != "" {
				fmt.Fprintf(b, `<text class="flabel" x="%.1f" y="%.0f">%s</text>`, xa+2, y+11, html.EscapeString(label))
			}
			b.WriteString(`</g>`)
		}
	}
	fmt.Fprintf(b, `<rect class="frame" x="%.0f" y="%.0f" width="%.0f" height="%.0f"/>`, f.x0, f.y0, f.x1-f.x0, f.y1-f.y0)
	for _, t := range niceTicks(0, f.tmax, 10) {
		if t > f.tmax*1.0001 {
			break
		}
		x := f.x0 + (f.x1-f.x0)*t/f.tmax
		fmt.Fprintf(b, `<line class="grid" x1="%.1f" y1="%.0f" x2="%.1f" y2="%.0f"/><text class="tick" x="%.1f" y="%.0f" text-anchor="middle">%s</text>`,
			x, f.y0, x, f.y1, x, f.y1+14, trimFloat(t))
	}
	fmt.Fprintf(b, `<text class="axis" x="%.0f" y="%.0f" text-anchor="middle">test time (s)</text>`, (f.x0+f.x1)/2, f.y1+30)
	if violation != nil {
		x := f.x(*violation)
		fmt.Fprintf(b, `<g class="violation"><title>first violation at %s</title><line x1="%.1f" y1="%.0f" x2="%.1f" y2="%.0f"/><text x="%.1f" y="%.0f">first violation</text></g>`,
			secs(*violation), x, f.y0, x, f.y1, x+3, f.y0+12)
	}
	return f
}

func nodesSuffix(nodes string) string {
	if nodes == "" {
		return ""
	}
	return " (nodes " + nodes + ")"
}

// fitText shortens s to about w px of 7 px characters, or "" if nothing fits.
func fitText(s string, w float64) string {
	n := int(w / 6.5)
	r := []rune(s)
	switch {
	case n < 4:
		return ""
	case len(r) <= n:
		return s
	default:
		return string(r[:n-1]) + "…"
	}
}

// yAxis draws ticks for a linear or log axis; y maps a value to px.
func (f *frame) yAxis(label string, ticks []float64, y func(float64) float64) {
	for _, v := range ticks {
		py := y(v)
		fmt.Fprintf(f.b, `<line class="grid" x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f"/><text class="tick" x="%.0f" y="%.1f" text-anchor="end">%s</text>`,
			f.x0, py, f.x1, py, f.x0-5, py+4, trimFloat(v))
	}
	fmt.Fprintf(f.b, `<text class="axis" transform="translate(16 %.0f) rotate(-90)" text-anchor="middle">%s</text>`,
		(f.y0+f.y1)/2, html.EscapeString(label))
}

func (f *frame) html() template.HTML {
	f.b.WriteString(`</svg>`)
	return template.HTML(f.b.String()) // built from numbers and html.EscapeString'd text only
}

// logScale maps [lo, hi] (both > 0) to the data area.
func (f *frame) logScale(lo, hi float64) func(float64) float64 {
	llo, lhi := math.Log10(lo), math.Log10(hi)
	return func(v float64) float64 {
		v = math.Min(math.Max(v, lo), hi)
		return f.y1 - (f.y1-f.y0)*(math.Log10(v)-llo)/(lhi-llo)
	}
}

func (f *frame) linScale(hi float64) func(float64) float64 {
	return func(v float64) float64 { return f.y1 - (f.y1-f.y0)*v/hi }
}

func decades(lo, hi float64) (float64, float64, []float64) {
	lo = math.Pow(10, math.Floor(math.Log10(lo)))
	hi = math.Pow(10, math.Ceil(math.Log10(hi)))
	if hi <= lo {
		hi = lo * 10
	}
	var ticks []float64
	few := hi/lo <= 100 // one or two decades: label 2× and 5× too
	for v := lo; v <= hi*1.0001; v *= 10 {
		ticks = append(ticks, v)
		if few && v*10 <= hi*1.0001 {
			ticks = append(ticks, 2*v, 5*v)
		}
	}
	return lo, hi, ticks
}

// latencyRange is the span of ok/fail/info latencies in ms, clamped to a sane floor.
func latencyRange(all []op) (float64, float64) {
	lo, hi := math.Inf(1), 0.0
	for _, o := range all {
		if o.Outcome == outPending {
			continue
		}
		ms := math.Max(float64(o.Latency())/1e6, 0.01)
		lo, hi = math.Min(lo, ms), math.Max(hi, ms)
	}
	if hi == 0 {
		return 0.1, 1000
	}
	return lo, hi
}

var outcomeOrder = []string{outOK, outFail, outInfo}

// latencyPlot draws every completed op as a point at its invocation time:
// colour by outcome, shape by function. The points are a raster
// (latencyPoints): its size depends on the plot's pixels, not on the number
// of ops, so a million-op report carries the same small image as a
// thousand-op one; the frame, fault lanes and legends stay vector.
func latencyPlot(all []op, tmax int64, faults []fault, violation *int64) template.HTML {
	f := newFrame("plot-latency", latencyTitle, outcomeLegend(all), tmax, faults, violation)
	lo, hi, ticks := decades(latencyRange(all))
	y := f.logScale(lo, hi)
	f.yAxis("latency (ms)", ticks, y)
	if img := latencyPoints(all, f, y); img != "" {
		m := rasterMargin
		fmt.Fprintf(f.b, `<image class="points" x="%.0f" y="%.0f" width="%.0f" height="%.0f" preserveAspectRatio="none" href="data:image/png;base64,%s"/>`,
			f.x0-m, f.y0-m, f.x1-f.x0+2*m, f.y1-f.y0+2*m, img)
	}
	// Shape legend beside the title.
	x := f.x0 + 7*float64(len(latencyTitle)) + 16
	f.b.WriteString(`<g class="shape-legend">`)
	for s, name := range []string{"read", "write", "cas", "other"} {
		var m strings.Builder
		writeMarker(&m, s, x+3, 12)
		fmt.Fprintf(f.b, `<path d="%s"/>`, m.String())
		fmt.Fprintf(f.b, `<text class="legend" x="%.0f" y="16">%s</text>`, x+9, name)
		x += 20 + 7*float64(len(name))
	}
	f.b.WriteString(`</g>`)
	return f.html()
}

const latencyTitle = "Latency of every op (log scale)"

// shapeOf is the marker of an op type: the same in every report.
func shapeOf(f string) int {
	switch f {
	case harness.FRead:
		return 0
	case harness.FWrite:
		return 1
	case harness.FCAS:
		return 2
	}
	return 3
}

// outcomeLegend labels each colour with its count: drawing one point per
// pixel cell makes rare outcomes look as common as frequent ones, and the
// numbers say how many there really are.
func outcomeLegend(all []op) [][2]string {
	n := map[string]int{}
	for _, o := range all {
		n[o.Outcome]++
	}
	out := make([][2]string, len(outcomeOrder))
	for i, oc := range outcomeOrder {
		out[i] = [2]string{fmt.Sprintf("%s %s", oc, groupDigits(n[oc])), oc}
	}
	return out
}

// writeMarker appends one marker as a subpath (SVG path data).
func writeMarker(b *strings.Builder, shape int, x, y float64) {
	switch shape {
	case 0: // circle
		fmt.Fprintf(b, `M%.0f %.0fa2 2 0 1 0 4 0a2 2 0 1 0-4 0`, x-2, y)
	case 1: // square
		fmt.Fprintf(b, `M%.0f %.0fh4v4h-4z`, x-2, y-2)
	case 2: // triangle
		fmt.Fprintf(b, `M%.0f %.0fl2.6 4.5h-5.2z`, x, y-3)
	default: // diamond
		fmt.Fprintf(b, `M%.0f %.0fl3 3l-3 3l-3-3z`, x, y-3)
	}
}

// bins groups completed ops by the second in which they completed.
func bins(all []op, tmax int64, include func(op) bool) [][]op {
	n := int(tmax/1e9) + 1
	out := make([][]op, n)
	for _, o := range all {
		if o.Outcome == outPending || !include(o) {
			continue
		}
		i := min(int(o.End/1e9), n-1)
		out[i] = append(out[i], o)
	}
	return out
}

// quantilePlot draws p50/p95/p99/max latency of ok and fail ops per second
// (info ops are timeouts: they would only draw the timeout).
func quantilePlot(all []op, tmax int64, faults []fault, violation *int64) template.HTML {
	qs := []struct {
		name string
		q    float64
	}{{"p50", 0.5}, {"p95", 0.95}, {"p99", 0.99}, {"max", 1}}
	legend := make([][2]string, len(qs))
	for i, q := range qs {
		legend[i] = [2]string{q.name, "q-" + q.name}
	}
	f := newFrame("plot-quantiles", "Latency quantiles per second (ok and fail ops, log scale)", legend, tmax, faults, violation)
	lo, hi, ticks := decades(latencyRange(all))
	y := f.logScale(lo, hi)
	f.yAxis("latency (ms)", ticks, y)
	bs := bins(all, tmax, func(o op) bool { return o.Outcome != outInfo })
	lat := make([][]float64, len(bs))
	for i, b := range bs {
		l := make([]float64, len(b))
		for j, o := range b {
			l[j] = math.Max(float64(o.Latency())/1e6, 0.01)
		}
		sort.Float64s(l)
		lat[i] = l
	}
	for _, q := range qs {
		var pts []point
		for i, l := range lat {
			if len(l) == 0 {
				continue
			}
			v := l[max(0, min(int(math.Ceil(q.q*float64(len(l))))-1, len(l)-1))]
			pts = append(pts, point{f.x(min(int64(i)*1e9+5e8, tmax)), y(v)})
		}
		fmt.Fprintf(f.b, `<polyline class="line q-%s" points="%s"/>`, q.name, polyline(pts))
	}
	return f.html()
}

// throughputPlot draws completions per second by outcome.
func throughputPlot(all []op, tmax int64, faults []fault, violation *int64) template.HTML {
	f := newFrame("plot-throughput", "Throughput: completions per second by outcome", outcomeLegend(all), tmax, faults, violation)
	bs := bins(all, tmax, func(op) bool { return true })
	peak := 1.0
	perOutcome := map[string][]int{}
	for _, outcome := range outcomeOrder {
		c := make([]int, len(bs))
		for i, b := range bs {
			for _, o := range b {
				if o.Outcome == outcome {
					c[i]++
				}
			}
			peak = math.Max(peak, float64(c[i]))
		}
		perOutcome[outcome] = c
	}
	ticks := niceTicks(0, peak, 5)
	hi := math.Max(peak, ticks[len(ticks)-1])
	y := f.linScale(hi)
	f.yAxis("ops/s", ticks, y)
	for _, outcome := range outcomeOrder {
		pts := make([]point, 0, len(bs))
		for i, c := range perOutcome[outcome] {
			pts = append(pts, point{f.x(min(int64(i)*1e9+5e8, tmax)), y(float64(c))})
		}
		fmt.Fprintf(f.b, `<polyline class="line %s" points="%s"/>`, outcome, polyline(pts))
	}
	return f.html()
}

// point is a position on a plot, px.
type point struct{ x, y float64 }

// polyline is the points attribute of pts, decimated to what a screen
// can show: of the points that fall in one pixel column it keeps the
// lowest and the highest (in their time order), so an hour-long run's
// 3,600 per-second values draw as about 2,000 points and every spike stays.
func polyline(pts []point) string {
	var b strings.Builder
	emit := func(p point) {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%.1f,%.1f", p.x, p.y)
	}
	for i := 0; i < len(pts); {
		col := math.Floor(pts[i].x)
		lo, hi := i, i
		j := i + 1
		for ; j < len(pts) && math.Floor(pts[j].x) == col; j++ {
			if pts[j].y < pts[lo].y {
				lo = j
			}
			if pts[j].y > pts[hi].y {
				hi = j
			}
		}
		emit(pts[min(lo, hi)])
		if lo != hi {
			emit(pts[max(lo, hi)])
		}
		i = j
	}
	return b.String()
}

// niceTicks returns about n round values covering [lo, hi].
func niceTicks(lo, hi float64, n int) []float64 {
	if hi <= lo {
		hi = lo + 1
	}
	raw := (hi - lo) / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var out []float64
	for v := math.Ceil(lo/step) * step; v <= hi+step*1e-9; v += step {
		out = append(out, v)
	}
	if len(out) == 0 || out[len(out)-1] < hi {
		out = append(out, math.Ceil(hi/step)*step)
	}
	return out
}

func trimFloat(v float64) string {
	s := fmt.Sprintf("%.3f", v)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "-0" {
		return "0"
	}
	return s
}

// violationTime is when the first violation happened, if any.
func violationTime(res *harness.Results) *int64 {
	if res == nil {
		return nil
	}
	if res.FirstViolation != nil {
		return res.FirstViolation
	}
	if a := res.FirstAnomaly(); a != nil {
		t := a.Time
		return &t
	}
	return nil
}
