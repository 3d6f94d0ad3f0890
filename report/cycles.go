package report

// The isolation checker's anomalies drawn as the small graph of their
// cycle: the transactions on a circle, each dependency an arrow coloured by
// its kind, the reason for it in the arrow's tooltip. Inline SVG built from
// escaped text, so the page stays self-contained.

import (
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"strings"

	"github.com/gauntlet-dev/gauntlet/checkers/isolation"
	"github.com/gauntlet-dev/gauntlet/harness"
)

// cycleGraphs maps an isolation result's anomalies (by their index in
// Result.Anomalies) to the drawings of their cycles; id makes the drawings'
// element ids unique in the page.
func cycleGraphs(c harness.Result, id int) map[int]template.HTML {
	if c.Checker != "isolation" || len(c.Details) == 0 {
		return nil
	}
	var d isolation.Details
	if json.Unmarshal(c.Details, &d) != nil {
		return nil
	}
	out := map[int]template.HTML{}
	for _, cy := range d.Cycles {
		if cy.AnomalyIndex >= 0 && len(cy.Txns) >= 2 && len(cy.Edges) == len(cy.Txns) {
			out[cy.AnomalyIndex] = cycleSVG(cy, fmt.Sprintf("c%d-%d", id, cy.AnomalyIndex))
		}
	}
	return out
}

// edgeStyle is how each kind of dependency is drawn.
var edgeStyle = map[string]struct{ color, dash, name string }{
	"ww":       {"#2563eb", "", "write-write: a later version of a key"},
	"wr":       {"#16a34a", "", "write-read: read what the other wrote"},
	"rw":       {"#dc2626", "6 4", "read-write: read a version before the other's write"},
	"process":  {"#7c3aed", "2 3", "process order"},
	"realtime": {"#ea580c", "2 3", "real time: completed before the other began"},
}

var edgeOrder = []string{"ww", "wr", "rw", "process", "realtime"}

// cycleSVG draws one cycle.
func cycleSVG(cy isolation.Cycle, id string) template.HTML {
	n := len(cy.Txns)
	const nodeR = 20.0
	radius := math.Max(70, 26*float64(n))
	if n == 2 {
		radius = 80
	}
	pad := 46.0
	size := 2*(radius+pad) + 0
	cx, cy0 := size/2, size/2
	pos := make([][2]float64, n)
	for i := range pos {
		a := -math.Pi/2 + 2*math.Pi*float64(i)/float64(n)
		if n == 2 {
			a = math.Pi * float64(i) // side by side
		}
		pos[i] = [2]float64{cx + radius*math.Cos(a), cy0 + radius*math.Sin(a)}
		if n == 2 {
			pos[i][0] = cx - radius + 2*radius*float64(i)
			pos[i][1] = cy0
		}
	}
	height := size
	if n == 2 {
		height = 2 * (pad + 36)
		for i := range pos {
			pos[i][1] = height / 2
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="cycle-graph" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %.0f %.0f" width="%.0f" height="%.0f" role="img" aria-label="%s">`,
		size, height, size, height, template.HTMLEscapeString(cy.Anomaly+" cycle of "+fmt.Sprint(n)+" transactions"))
	b.WriteString(`<defs>`)
	for _, k := range edgeOrder {
		fmt.Fprintf(&b, `<marker id="%s-%s" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="%s"/></marker>`, id, k, edgeStyle[k].color)
	}
	b.WriteString(`</defs>`)
	for _, e := range cy.Edges {
		if e.From < 0 || e.From >= n || e.To < 0 || e.To >= n {
			continue
		}
		st, ok := edgeStyle[e.Kind]
		if !ok {
			st = edgeStyle["ww"]
		}
		p, q := pos[e.From], pos[e.To]
		dx, dy := q[0]-p[0], q[1]-p[1]
		l := math.Hypot(dx, dy)
		ux, uy := dx/l, dy/l
		// Bulge to the left of the direction of travel, so that two arrows
		// between one pair part ways.
		bend := 0.28 * l
		if n > 2 {
			bend = 0.18 * l
		}
		mx, my := (p[0]+q[0])/2-uy*bend, (p[1]+q[1])/2+ux*bend
		// Start and end on the nodes' rims, toward the control point.
		sx, sy := towards(p, mx, my, nodeR)
		ex, ey := towards(q, mx, my, nodeR+3)
		dash := ""
		if st.dash != "" {
			dash = fmt.Sprintf(` stroke-dasharray="%s"`, st.dash)
		}
		title := template.HTMLEscapeString(fmt.Sprintf("%s → %s (%s): %s", cy.Txns[e.From].Name, cy.Txns[e.To].Name, e.Kind, e.Reason))
		if e.Also != "" {
			title += template.HTMLEscapeString(" (also " + e.Also + ")")
		}
		fmt.Fprintf(&b, `<g class="edge e-%s"><title>%s</title><path d="M%.1f,%.1f Q%.1f,%.1f %.1f,%.1f" fill="none" stroke="%s" stroke-width="2.2"%s marker-end="url(#%s-%s)"/>`,
			template.HTMLEscapeString(e.Kind), title, sx, sy, mx, my, ex, ey, st.color, dash, id, template.HTMLEscapeString(kindOr(e.Kind)))
		// The label at the curve's middle (a quadratic's point at t=1/2).
		lx, ly := (sx+2*mx+ex)/4, (sy+2*my+ey)/4
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" dominant-baseline="middle" class="edge-label" fill="%s" stroke="#fff" stroke-width="4" paint-order="stroke">%s</text></g>`,
			lx, ly, st.color, template.HTMLEscapeString(e.Kind))
	}
	for i, t := range cy.Txns {
		p := pos[i]
		when := fmt.Sprintf("%.2f s", float64(t.Invoke)/1e9)
		if t.Complete > 0 {
			when += fmt.Sprintf(" to %.2f s", float64(t.Complete)/1e9)
		}
		title := template.HTMLEscapeString(fmt.Sprintf("%s = op %d (process %d, %s, %s): %s", t.Name, t.Index, t.Process, t.Type, when, t.Mops))
		fill := "#f8fafc"
		if t.Type == "info" {
			fill = "#fef9c3"
		}
		fmt.Fprintf(&b, `<a href="#op-%d" class="cycle-node"><title>%s</title><circle cx="%.1f" cy="%.1f" r="%.0f" fill="%s" stroke="#334155" stroke-width="1.5"/><text x="%.1f" y="%.1f" text-anchor="middle" dominant-baseline="central" class="node-label">%s</text></a>`,
			t.Index, title, p[0], p[1], nodeR, fill, p[0], p[1], template.HTMLEscapeString(t.Name))
	}
	b.WriteString(`</svg>`)
	// A legend of the kinds this cycle uses, and its transactions.
	used := map[string]bool{}
	for _, e := range cy.Edges {
		used[e.Kind] = true
	}
	b.WriteString(`<figcaption>`)
	for _, k := range edgeOrder {
		if used[k] {
			fmt.Fprintf(&b, `<span class="legend"><svg width="26" height="10" aria-hidden="true"><line x1="1" y1="5" x2="25" y2="5" stroke="%s" stroke-width="2.2"%s/></svg> %s</span>`,
				edgeStyle[k].color, dashAttr(edgeStyle[k].dash), template.HTMLEscapeString(k+": "+edgeStyle[k].name))
		}
	}
	b.WriteString(`<ol class="cycle-txns">`)
	for _, t := range cy.Txns {
		fmt.Fprintf(&b, `<li><a href="#op-%d">%s</a> <span class="muted">op %d, process %d, %s</span> <code>%s</code></li>`,
			t.Index, template.HTMLEscapeString(t.Name), t.Index, t.Process, template.HTMLEscapeString(t.Type), template.HTMLEscapeString(t.Mops))
	}
	b.WriteString(`</ol></figcaption>`)
	return template.HTML(b.String())
}

func kindOr(k string) string {
	if _, ok := edgeStyle[k]; ok {
		return k
	}
	return "ww"
}

func dashAttr(d string) string {
	if d == "" {
		return ""
	}
	return fmt.Sprintf(` stroke-dasharray="%s"`, d)
}

// towards is the point at distance r from node p toward (x, y).
func towards(p [2]float64, x, y, r float64) (float64, float64) {
	dx, dy := x-p[0], y-p[1]
	l := math.Hypot(dx, dy)
	if l == 0 {
		return p[0], p[1]
	}
	return p[0] + dx/l*r, p[1] + dy/l*r
}
