package query

import (
	"fmt"
	"time"

	"github.com/fieldsync/fieldsync/geo"
	"github.com/fieldsync/fieldsync/observations/record"
	"github.com/paulmach/orb"
)

// Filter is a conjunction of conditions; zero fields do not filter.
type Filter struct {
	BBox    *geo.BBox
	Near    *geo.Circle
	Within  *geo.Area
	Since   time.Time // created at or after
	Until   time.Time // created before
	Tags    map[string]record.Tag
	Deleted bool // include deleted observations
}

// OnlyDeleted reports whether the filter tests nothing but the deleted
// flag (so a store that filters deleted records itself need not decode
// the others). Keep it in step with the fields above.
func (f *Filter) OnlyDeleted() bool {
	return f.BBox == nil && f.Near == nil && f.Within == nil && f.Since.IsZero() && f.Until.IsZero() && len(f.Tags) == 0
}

// ParseTime reads an RFC 3339 time or a date (YYYY-MM-DD, midnight UTC).
func ParseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("time %q: want a date (2026-03-01) or an RFC 3339 time (2026-03-01T08:00:00Z)", s)
}

// Match reports whether the (current version of an) observation passes.
func (f *Filter) Match(o *record.Observation) bool {
	if o.Deleted && !f.Deleted {
		return false
	}
	if !f.Since.IsZero() || !f.Until.IsZero() {
		t, err := time.Parse(time.RFC3339Nano, o.Created)
		if err != nil {
			return false
		}
		if !f.Since.IsZero() && t.Before(f.Since) || !f.Until.IsZero() && !t.Before(f.Until) {
			return false
		}
	}
	for k, want := range f.Tags {
		got, ok := o.Tags[k]
		if !ok || !sameTag(got, want) {
			return false
		}
	}
	if f.BBox == nil && f.Near == nil && f.Within == nil {
		return true
	}
	if o.Geometry == nil || o.Geometry.IsZero() {
		return false
	}
	pts := vertices(o.Geometry.Orb())
	if f.BBox != nil && !anyPoint(pts, f.BBox.ContainsPoint) {
		return false
	}
	if f.Near != nil && !anyPoint(pts, f.Near.ContainsPoint) {
		return false
	}
	if f.Within != nil && !allPoints(pts, f.Within.ContainsPoint) {
		return false
	}
	return true
}

// RejectsPoint reports whether an observation whose geometry is the point
// p fails the place filters, whatever else it holds: a store can then skip
// decoding it. (false: Match decides.)
func (f *Filter) RejectsPoint(p orb.Point) bool {
	return f.BBox != nil && !f.BBox.ContainsPoint(p) ||
		f.Near != nil && !f.Near.ContainsPoint(p) ||
		f.Within != nil && !f.Within.ContainsPoint(p)
}

// sameTag: equal values (a number matches the same number however it
// was written).
func sameTag(a, b record.Tag) bool {
	x, _ := a.MarshalJSON()
	y, _ := b.MarshalJSON()
	return string(x) == string(y)
}

func anyPoint(pts []orb.Point, in func(orb.Point) bool) bool {
	for _, p := range pts {
		if in(p) {
			return true
		}
	}
	return false
}

func allPoints(pts []orb.Point, in func(orb.Point) bool) bool {
	for _, p := range pts {
		if !in(p) {
			return false
		}
	}
	return len(pts) > 0
}

// vertices lists every position of a geometry.
func vertices(g orb.Geometry) []orb.Point {
	switch g := g.(type) {
	case orb.Point:
		return []orb.Point{g}
	case orb.MultiPoint:
		return g
	case orb.LineString:
		return g
	case orb.MultiLineString:
		var out []orb.Point
		for _, l := range g {
			out = append(out, l...)
		}
		return out
	case orb.Polygon:
		var out []orb.Point
		for _, r := range g {
			out = append(out, r...)
		}
		return out
	case orb.MultiPolygon:
		var out []orb.Point
		for _, p := range g {
			for _, r := range p {
				out = append(out, r...)
			}
		}
		return out
	}
	return nil
}
