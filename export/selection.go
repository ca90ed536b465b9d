package export

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/fieldsync/fieldsync/geo"
	"github.com/fieldsync/fieldsync/observations/query"
	"github.com/fieldsync/fieldsync/observations/record"
	"github.com/paulmach/orb"
)

// Selection is what an evidence bundle selected, recorded as data so that
// Verify can run the same filter again over the signed logs: every field
// is one condition, all of them must hold, an absent one does not filter.
// It is the whole of the filter: no file on the exporter's laptop is
// named, the polygon of Within is in it.
type Selection struct {
	BBox    *[4]float64           `json:"bbox,omitempty"`   // west, south, east, north (degrees)
	Near    *Near                 `json:"near,omitempty"`   // within Radius metres of a point
	Within  *geo.Geometry         `json:"within,omitempty"` // a Polygon or MultiPolygon (GeoJSON)
	Since   string                `json:"since,omitempty"`  // created at or after (RFC 3339, UTC)
	Until   string                `json:"until,omitempty"`  // created before
	Tags    map[string]record.Tag `json:"tags,omitempty"`   // tags that must be equal
	Deleted bool                  `json:"deleted,omitempty"`
}

// Near is a circle: a point (latitude, longitude in degrees) and a radius
// in metres (great-circle distance, mean Earth radius 6371008.8 m).
type Near struct {
	Lat    float64 `json:"lat"`
	Lon    float64 `json:"lon"`
	Radius float64 `json:"radius"`
}

// Filter is the query the selection describes. It fails on a selection
// that no filter can be made of (out-of-range numbers, a Within that is
// not a polygon, times that are not RFC 3339).
func (s *Selection) Filter() (*query.Filter, error) {
	f := &query.Filter{Deleted: s.Deleted}
	if s.BBox != nil {
		b := s.BBox
		bb, err := geo.ParseBBox(fmt.Sprintf("%v,%v,%v,%v", numStr(b[0]), numStr(b[1]), numStr(b[2]), numStr(b[3])))
		if err != nil {
			return nil, fmt.Errorf("selection: %v", err)
		}
		f.BBox = &bb
	}
	if n := s.Near; n != nil {
		if !finite(n.Lat, n.Lon, n.Radius) || n.Lat < -90 || n.Lat > 90 || n.Lon < -180 || n.Lon > 180 || n.Radius < 0 {
			return nil, fmt.Errorf("selection: near %v,%v radius %v is out of range", n.Lat, n.Lon, n.Radius)
		}
		f.Near = &geo.Circle{Center: orb.Point{n.Lon, n.Lat}, Radius: n.Radius}
	}
	if s.Within != nil {
		a, err := geo.NewArea(*s.Within)
		if err != nil {
			return nil, fmt.Errorf("selection: within: %v", err)
		}
		f.Within = &a
	}
	var err error
	if s.Since != "" {
		if f.Since, err = selectionTime(s.Since); err != nil {
			return nil, err
		}
	}
	if s.Until != "" {
		if f.Until, err = selectionTime(s.Until); err != nil {
			return nil, err
		}
	}
	if len(s.Tags) > 0 {
		f.Tags = s.Tags
	}
	return f, nil
}

// CanonicalTime is how a selection records a time: RFC 3339 in UTC.
func CanonicalTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func selectionTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || CanonicalTime(t) != s {
		return time.Time{}, fmt.Errorf("selection: time %q is not an RFC 3339 time in UTC", s)
	}
	return t, nil
}

func finite(fs ...float64) bool {
	for _, f := range fs {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return false
		}
	}
	return true
}

func numStr(f float64) string {
	b, _ := json.Marshal(f)
	return string(b)
}

// Describe is the selection in words, for the report.
func (s *Selection) Describe() []string {
	var out []string
	if b := s.BBox; b != nil {
		out = append(out, fmt.Sprintf("inside the box west %s, south %s, east %s, north %s (degrees)", numStr(b[0]), numStr(b[1]), numStr(b[2]), numStr(b[3])))
	}
	if n := s.Near; n != nil {
		out = append(out, fmt.Sprintf("within %s m of latitude %s, longitude %s", numStr(n.Radius), numStr(n.Lat), numStr(n.Lon)))
	}
	if s.Within != nil {
		g, _ := s.Within.MarshalJSON()
		out = append(out, "entirely inside the area "+string(g))
	}
	if s.Since != "" {
		out = append(out, "created at or after "+s.Since)
	}
	if s.Until != "" {
		out = append(out, "created before "+s.Until)
	}
	for _, k := range sortedKeys(s.Tags) {
		v, _ := s.Tags[k].MarshalJSON()
		out = append(out, fmt.Sprintf("tag %s = %s", k, v))
	}
	if s.Deleted {
		out = append(out, "deleted observations included")
	} else {
		out = append(out, "deleted observations left out")
	}
	return out
}

// SelectionOf records a filter as a selection. A filter with Within
// cannot be recorded this way (an area does not give back its polygon):
// build the Selection with the polygon instead.
func SelectionOf(f *query.Filter) (Selection, error) {
	s := Selection{Deleted: f.Deleted}
	if f.Within != nil {
		return s, fmt.Errorf("selection: an area filter must be recorded with its polygon")
	}
	if b := f.BBox; b != nil {
		s.BBox = &[4]float64{b.W, b.S, b.E, b.N}
	}
	if c := f.Near; c != nil {
		s.Near = &Near{Lat: c.Center[1], Lon: c.Center[0], Radius: c.Radius}
	}
	if !f.Since.IsZero() {
		s.Since = CanonicalTime(f.Since)
	}
	if !f.Until.IsZero() {
		s.Until = CanonicalTime(f.Until)
	}
	if len(f.Tags) > 0 {
		s.Tags = f.Tags
	}
	return s, nil
}
