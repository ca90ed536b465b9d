package export

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkt"
)

// Writer takes records one at a time; Close finishes the file.
type Writer interface {
	Write(r *Record) error
	Close() error
}

// geoJSONWriter streams one FeatureCollection.
type geoJSONWriter struct {
	w *bufio.Writer
	n int
}

// NewGeoJSON writes an RFC 7946 FeatureCollection to w.
func NewGeoJSON(w io.Writer) Writer {
	g := &geoJSONWriter{w: bufio.NewWriterSize(w, 1<<16)}
	g.w.WriteString(`{"type":"FeatureCollection","features":[`)
	return g
}

func (g *geoJSONWriter) Write(r *Record) error {
	f, err := Feature(r)
	if err != nil {
		return err
	}
	if g.n > 0 {
		g.w.WriteByte(',')
	}
	g.w.WriteByte('\n')
	g.n++
	_, err = g.w.Write(f)
	return err
}

func (g *geoJSONWriter) Close() error {
	g.w.WriteString("\n]}\n")
	return g.w.Flush()
}

// csvWriter writes one row per record.
type csvWriter struct {
	w      *csv.Writer
	tags   []string
	row    []string
	header bool
}

// CSV's own columns, before the tags. A tag with one of these names gets
// the column "tag:NAME".
var csvFixed = []string{"id", "lat", "lon", "wkt", "created", "updated", "author", "device", "version", "attachments"}

// NewCSV writes records as CSV: the observation id, lat/lon for points,
// WKT for every geometry, fieldsync's fields, then one column per tag
// name in tags (arrays as JSON).
func NewCSV(w io.Writer, tags []string) Writer {
	c := &csvWriter{w: csv.NewWriter(w), tags: tags}
	return c
}

// CSVHeader is the header NewCSV writes for these tag names.
func CSVHeader(tags []string) []string {
	fixed := map[string]bool{}
	for _, f := range csvFixed {
		fixed[f] = true
	}
	h := append([]string(nil), csvFixed...)
	for _, t := range tags {
		if fixed[t] {
			t = "tag:" + t
		}
		h = append(h, t)
	}
	return h
}

func (c *csvWriter) Write(r *Record) error {
	if !c.header {
		c.header = true
		if err := c.w.Write(CSVHeader(c.tags)); err != nil {
			return err
		}
	}
	o := r.Obs
	c.row = c.row[:0]
	var lat, lon, geom string
	if o.Geometry != nil && !o.Geometry.IsZero() {
		g := o.Geometry.Orb()
		if p, ok := g.(orb.Point); ok {
			lat, lon = strconv.FormatFloat(p[1], 'f', -1, 64), strconv.FormatFloat(p[0], 'f', -1, 64)
		}
		geom = string(wkt.Marshal(g))
	}
	names := make([]string, 0, len(o.Attachments))
	for _, a := range o.Attachments {
		names = append(names, a.Name)
	}
	core, _, _ := strings.Cut(string(r.Version), "@")
	c.row = append(c.row, o.ID, lat, lon, geom, o.Created, o.Updated, r.Author, core, string(r.Version), strings.Join(names, ";"))
	for _, k := range c.tags {
		t, ok := o.Tags[k]
		if !ok {
			c.row = append(c.row, "")
			continue
		}
		switch v := t.Value().(type) {
		case string:
			c.row = append(c.row, v)
		case float64:
			c.row = append(c.row, strconv.FormatFloat(v, 'f', -1, 64))
		case bool:
			c.row = append(c.row, strconv.FormatBool(v))
		default:
			b, err := json.Marshal(v)
			if err != nil {
				return fmt.Errorf("observation %s: tag %q: %w", o.ID, k, err)
			}
			c.row = append(c.row, string(b))
		}
	}
	return c.w.Write(c.row)
}

func (c *csvWriter) Close() error {
	if !c.header {
		c.header = true
		c.w.Write(CSVHeader(c.tags))
	}
	c.w.Flush()
	return c.w.Error()
}
