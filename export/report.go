package export

import (
	"bytes"
	"fmt"
	"html"
	"sort"
	"strings"

	"github.com/paulmach/orb"
)

// reportBuilder collects what report.html shows: a table of observations
// with their authors and tags, a map drawn from the coordinates (SVG, no
// tiles: nothing is fetched), and thumbnails of the photos (relative
// links into media/).
type reportBuilder struct {
	project string
	rows    []reportRow
	devices map[string][2]string // data core → name, identity
	bound   orb.Bound
	bounded bool
	total   int
}

type reportRow struct {
	id, created, author, tags string
	center                    orb.Point
	hasGeom                   bool
	thumbs                    []string
}

func newReport(project string) *reportBuilder {
	return &reportBuilder{project: project, devices: map[string][2]string{}}
}

func (rb *reportBuilder) device(name, identity, core string) {
	rb.devices[core] = [2]string{name, identity}
}

// reportRows bounds what report.html lists and draws: the bundle's
// observations.geojson holds them all.
const reportRows = 10000

func (rb *reportBuilder) add(r *Record, thumbs []string) {
	o := r.Obs
	rb.total++
	if len(rb.rows) >= reportRows {
		return
	}
	row := reportRow{id: o.ID, created: o.Created, author: r.Author, thumbs: thumbs}
	var tags []string
	for k, t := range o.Tags {
		b, _ := t.MarshalJSON()
		tags = append(tags, k+"="+strings.Trim(string(b), `"`))
	}
	sort.Strings(tags)
	row.tags = strings.Join(tags, ", ")
	if o.Geometry != nil && !o.Geometry.IsZero() {
		bd := o.Geometry.Bound()
		row.center, row.hasGeom = bd.Center(), true
		if !rb.bounded {
			rb.bound, rb.bounded = bd, true
		} else {
			rb.bound = rb.bound.Union(bd)
		}
	}
	rb.rows = append(rb.rows, row)
}

func (rb *reportBuilder) html() []byte {
	var b bytes.Buffer
	e := html.EscapeString
	fmt.Fprintf(&b, `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Evidence: %s</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px;vertical-align:top;font-size:13px}img{max-width:120px;max-height:90px}svg{border:1px solid #999;background:#f4f8f4}</style>
</head><body>
<h1>Evidence bundle: %s</h1>
<p>%d observation(s). Every one is a block signed by its author's device, with the proof to its signed log in <code>proofs/</code>. Check this bundle with <code>fieldsync verify</code> or by hand as <code>VERIFY.md</code> explains.</p>
`, e(rb.project), e(rb.project), rb.total)
	b.WriteString("<h2>Map</h2>\n")
	b.WriteString(rb.svg())
	b.WriteString("<h2>Devices</h2>\n<table><tr><th>name</th><th>identity key</th><th>data core</th></tr>\n")
	for _, core := range sortedKeys(rb.devices) {
		d := rb.devices[core]
		fmt.Fprintf(&b, "<tr><td>%s</td><td><code>%s</code></td><td><code>%s</code></td></tr>\n", e(d[0]), e(d[1]), e(core))
	}
	b.WriteString("</table>\n<h2>Observations</h2>\n<table><tr><th>#</th><th>id</th><th>created</th><th>author</th><th>place (lat, lon)</th><th>tags</th><th>photos</th></tr>\n")
	for i, r := range rb.rows {
		place := ""
		if r.hasGeom {
			place = fmt.Sprintf("%.5f, %.5f", r.center[1], r.center[0])
		}
		fmt.Fprintf(&b, "<tr><td>%d</td><td><code>%s</code></td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>", i+1, e(r.id), e(r.created), e(r.author), place, e(r.tags))
		for _, t := range r.thumbs {
			fmt.Fprintf(&b, `<a href="%s"><img src="%s" alt="photo"></a> `, e(t), e(t))
		}
		b.WriteString("</td></tr>\n")
	}
	b.WriteString("</table>\n")
	if rb.total > len(rb.rows) {
		fmt.Fprintf(&b, "<p>… and %d more observation(s): all of them are in observations.geojson.</p>\n", rb.total-len(rb.rows))
	}
	b.WriteString("</body></html>\n")
	return b.Bytes()
}

// svg draws every observation as a numbered dot on a plain
// longitude/latitude grid.
func (rb *reportBuilder) svg() string {
	if !rb.bounded {
		return "<p>(no geometry)</p>\n"
	}
	const w, h, pad = 800.0, 500.0, 20.0
	bd := rb.bound
	dx, dy := max(bd.Max[0]-bd.Min[0], 1e-6), max(bd.Max[1]-bd.Min[1], 1e-6)
	scale := min((w-2*pad)/dx, (h-2*pad)/dy)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f">`+"\n", w, h, w, h)
	fmt.Fprintf(&b, `<text x="4" y="14" font-size="11">lon %.4f to %.4f, lat %.4f to %.4f</text>`+"\n", bd.Min[0], bd.Max[0], bd.Min[1], bd.Max[1])
	for i, r := range rb.rows {
		if !r.hasGeom {
			continue
		}
		x := pad + (r.center[0]-bd.Min[0])*scale
		y := h - pad - (r.center[1]-bd.Min[1])*scale
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="4" fill="#c0392b"><title>#%d %s</title></circle>`+"\n", x, y, i+1, html.EscapeString(r.id))
	}
	b.WriteString("</svg>\n")
	return b.String()
}
