package export

import (
	"bytes"
	"fmt"
	"html"
	"sort"
	"strconv"
	"strings"

	"github.com/paulmach/orb"
)

// reportBuilder collects what report.html shows: who exported the bundle,
// what was selected, the devices whose logs it holds, a table of the
// observations (authors, original authors, tags, photos, missing photos),
// and a map drawn from the coordinates (SVG, no tiles: nothing is
// fetched). Every byte of it follows from the manifest and the signed
// blocks, so Verify regenerates it and compares.
type reportBuilder struct {
	head    reportHead
	rows    []reportRow
	bound   orb.Bound
	bounded bool
	total   int
}

// reportHead is what the report states before the observations.
type reportHead struct {
	project, created           string
	exporterName, exporterKey  string
	exporterDevice, exporterOf string // the exporter's device record: its name and log
	selection                  []string
	logs                       []reportLog
}

type reportLog struct {
	name, identity, core string
	length               uint64
	versions             int
}

type reportRow struct {
	id, created, author, original, tags string
	versions                            int
	forked, deleted                     bool
	center                              orb.Point
	hasGeom                             bool
	files                               []reportFile
}

type reportFile struct {
	name, file string // file "" when missing
	image      bool
}

// reportRows bounds what report.html lists and draws: the bundle's
// observations.geojson holds them all.
const reportRows = 10000

func (rb *reportBuilder) add(r *Record, files []string) {
	o := r.Obs
	rb.total++
	if len(rb.rows) >= reportRows {
		return
	}
	row := reportRow{id: o.ID, created: o.Created, author: r.Author, original: r.OriginalAuthor, versions: r.Versions, forked: r.Forked, deleted: o.Deleted}
	for i, a := range o.Attachments {
		row.files = append(row.files, reportFile{name: a.Name, file: files[i], image: isImage(a)})
	}
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

func (rb *reportBuilder) html(missing []MissingAttachment) []byte {
	var b bytes.Buffer
	e := html.EscapeString
	h := &rb.head
	fmt.Fprintf(&b, `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Evidence: %s</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px;vertical-align:top;font-size:13px}img{max-width:120px;max-height:90px}svg{border:1px solid #999;background:#f4f8f4}.missing{color:#b00;font-weight:bold}.warn{border:3px solid #b00;padding:1em}</style>
</head><body>
<h1>Evidence bundle: %d observation(s)</h1>
<p>Exported by <b>%s</b>, identity key <code>%s</code>: the device whose signed record is block 0 of log <code>%s</code> in this bundle (named %s there).</p>
<p>Project name and export time as stated by the exporter (no observer signs them): %s, %s.</p>
`, e(h.project), rb.total, e(h.exporterName), e(h.exporterKey), e(h.exporterOf), e(strconv.Quote(h.exporterDevice)), e(strconv.Quote(h.project)), e(h.created))
	if len(missing) > 0 {
		fmt.Fprintf(&b, "<div class=\"warn\"><h2 class=\"missing\">%d photo(s) or file(s) are MISSING from this bundle</h2>\n<p>The exporter did not have them. Their signed records name them (with their SHA-256), so nothing else can take their place, but they cannot be seen here.</p>\n<ul>\n", len(missing))
		for _, m := range missing {
			fmt.Fprintf(&b, "<li class=\"missing\">observation <code>%s</code>: %s (%s, %d bytes, SHA-256 <code>%s</code>)</li>\n", e(m.Observation), e(m.Name), e(m.Type), m.Size, m.SHA256)
		}
		b.WriteString("</ul></div>\n")
	}
	b.WriteString("<h2>What was selected</h2>\n<ul>\n")
	for _, s := range h.selection {
		fmt.Fprintf(&b, "<li>%s</li>\n", e(s))
	}
	b.WriteString(`</ul>
<p>The bundle holds the complete signed logs of the devices below, up to the lengths shown. <code>fieldsync verify</code> runs the selection again over every record in them: these are exactly the observations that match, each in its current version, none left out. A device whose log is not in the bundle is not covered.</p>
<p>Everything on this page is regenerated from the signed records by <code>fieldsync verify</code> and compared byte for byte, except the project name and the export time, stated by the exporter. VERIFY.md says how to redo every check with other tools.</p>
`)
	b.WriteString("<h2>Devices (signed logs)</h2>\n<table><tr><th>name</th><th>identity key</th><th>log</th><th>blocks</th><th>observation versions</th></tr>\n")
	for _, l := range h.logs {
		fmt.Fprintf(&b, "<tr><td>%s</td><td><code>%s</code></td><td><code>%s</code></td><td>%d</td><td>%d</td></tr>\n", e(l.name), e(l.identity), e(l.core), l.length, l.versions)
	}
	b.WriteString("</table>\n<h2>Map</h2>\n")
	b.WriteString(rb.svg())
	b.WriteString("<h2>Observations</h2>\n<table><tr><th>#</th><th>id</th><th>created</th><th>author (current version)</th><th>first written by</th><th>versions</th><th>place (lat, lon)</th><th>tags</th><th>photos</th></tr>\n")
	for i, r := range rb.rows {
		place := ""
		if r.hasGeom {
			place = fmt.Sprintf("%.5f, %.5f", r.center[1], r.center[0])
		}
		note := ""
		if r.deleted {
			note += " <b>DELETED</b>"
		}
		if r.forked {
			note += " (edited concurrently: more than one current version)"
		}
		fmt.Fprintf(&b, "<tr><td>%d</td><td><code>%s</code>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%d</td><td>%s</td><td>%s</td><td>", i+1, e(r.id), note, e(r.created), e(r.author), e(r.original), r.versions, place, e(r.tags))
		for _, f := range r.files {
			switch {
			case f.file == "":
				fmt.Fprintf(&b, `<span class="missing">MISSING: %s</span> `, e(f.name))
			case f.image:
				fmt.Fprintf(&b, `<a href="%s"><img src="%s" alt="%s"></a> `, e(f.file), e(f.file), e(f.name))
			default:
				fmt.Fprintf(&b, `<a href="%s">%s</a> `, e(f.file), e(f.name))
			}
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
