package geo

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/paulmach/orb"
)

// ErrInvalid is wrapped by every validation error.
var ErrInvalid = errors.New("invalid geometry")

// Geometry is a validated RFC 7946 geometry: its canonical GeoJSON (with
// any altitudes) and its planar form (lon, lat) for spatial tests.
type Geometry struct {
	typ  string
	json []byte
	g    orb.Geometry
}

// The geometry types fieldsync accepts (GeometryCollection is not one).
const (
	TypePoint           = "Point"
	TypeLineString      = "LineString"
	TypePolygon         = "Polygon"
	TypeMultiPoint      = "MultiPoint"
	TypeMultiLineString = "MultiLineString"
	TypeMultiPolygon    = "MultiPolygon"
)

// invalid makes a validation error naming where in the geometry it is.
func invalid(path, format string, args ...any) error {
	if path != "" {
		path += ": "
	}
	return fmt.Errorf("%s%s: %w", path, fmt.Sprintf(format, args...), ErrInvalid)
}

// Parse reads and validates a GeoJSON geometry object.
func Parse(b []byte) (Geometry, error) {
	var raw struct {
		Type        *string         `json:"type"`
		Coordinates json.RawMessage `json:"coordinates"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(b), &raw); err != nil {
		return Geometry{}, invalid("", "not a GeoJSON geometry object: %v", err)
	}
	if raw.Type == nil {
		return Geometry{}, invalid("", `no "type"`)
	}
	if len(raw.Coordinates) == 0 || string(raw.Coordinates) == "null" {
		return Geometry{}, invalid("", `no "coordinates"`)
	}
	var coords any
	if err := json.Unmarshal(raw.Coordinates, &coords); err != nil {
		return Geometry{}, invalid("coordinates", "not finite numbers in arrays: %v", err)
	}
	return buildGeometry(*raw.Type, coords)
}

// NewPoint makes a Point; alt may be nil.
func NewPoint(lon, lat float64, alt *float64) (Geometry, error) {
	pos := []any{lon, lat}
	if alt != nil {
		pos = append(pos, *alt)
	}
	for _, v := range []float64{lon, lat} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return Geometry{}, invalid("coordinates", "not a finite number")
		}
	}
	if alt != nil && (math.IsNaN(*alt) || math.IsInf(*alt, 0)) {
		return Geometry{}, invalid("coordinates[2]", "altitude is not a finite number")
	}
	return buildGeometry(TypePoint, pos)
}

func buildGeometry(typ string, coords any) (Geometry, error) {
	var (
		g   orb.Geometry
		err error
		enc []byte
	)
	switch typ {
	case TypePoint:
		var p orb.Point
		p, enc, err = position(coords, "coordinates")
		g = p
	case TypeMultiPoint:
		var mp orb.MultiPoint
		mp, enc, err = positions(coords, "coordinates", 1)
		g = mp
	case TypeLineString:
		var ls orb.MultiPoint
		ls, enc, err = positions(coords, "coordinates", 2)
		g = orb.LineString(ls)
	case TypeMultiLineString:
		var mls orb.MultiLineString
		mls, enc, err = nested(coords, "coordinates", func(v any, path string) (orb.LineString, []byte, error) {
			ls, e, err := positions(v, path, 2)
			return orb.LineString(ls), e, err
		})
		g = mls
	case TypePolygon:
		var poly orb.Polygon
		poly, enc, err = polygon(coords, "coordinates")
		g = poly
	case TypeMultiPolygon:
		var mp orb.MultiPolygon
		mp, enc, err = nested(coords, "coordinates", polygon)
		g = mp
	default:
		return Geometry{}, invalid("type", "%q is not a geometry type fieldsync accepts (Point, LineString, Polygon, MultiPoint, MultiLineString, MultiPolygon)", typ)
	}
	if err != nil {
		return Geometry{}, err
	}
	out := append([]byte(`{"coordinates":`), enc...)
	out = append(out, `,"type":`...)
	out = strconv.AppendQuote(out, typ)
	out = append(out, '}')
	return Geometry{typ: typ, json: out, g: g}, nil
}

// position validates one [lon, lat(, alt)] position.
func position(v any, path string) (orb.Point, []byte, error) {
	arr, ok := v.([]any)
	if !ok {
		return orb.Point{}, nil, invalid(path, "a position must be an array of numbers")
	}
	if len(arr) < 2 || len(arr) > 3 {
		return orb.Point{}, nil, invalid(path, "a position has 2 or 3 numbers (longitude, latitude, altitude), not %d", len(arr))
	}
	var nums [3]float64
	enc := []byte{'['}
	for i, x := range arr {
		f, ok := x.(float64)
		if !ok {
			return orb.Point{}, nil, invalid(fmt.Sprintf("%s[%d]", path, i), "not a number")
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return orb.Point{}, nil, invalid(fmt.Sprintf("%s[%d]", path, i), "%s is not a finite number", formatFloat(f))
		}
		nums[i] = f
		if i > 0 {
			enc = append(enc, ',')
		}
		enc = append(enc, formatFloat(f)...)
	}
	enc = append(enc, ']')
	if lon := nums[0]; lon < -180 || lon > 180 {
		return orb.Point{}, nil, invalid(path+"[0]", "longitude %s is outside [-180, 180]", formatFloat(lon))
	}
	if lat := nums[1]; lat < -90 || lat > 90 {
		return orb.Point{}, nil, invalid(path+"[1]", "latitude %s is outside [-90, 90]", formatFloat(lat))
	}
	return orb.Point{nums[0], nums[1]}, enc, nil
}

// positions validates an array of at least min positions.
func positions(v any, path string, min int) (orb.MultiPoint, []byte, error) {
	arr, ok := v.([]any)
	if !ok {
		return nil, nil, invalid(path, "must be an array of positions")
	}
	if len(arr) < min {
		return nil, nil, invalid(path, "needs at least %d positions, has %d", min, len(arr))
	}
	pts := make(orb.MultiPoint, 0, len(arr))
	enc := []byte{'['}
	for i, x := range arr {
		p, e, err := position(x, fmt.Sprintf("%s[%d]", path, i))
		if err != nil {
			return nil, nil, err
		}
		if i > 0 {
			enc = append(enc, ',')
		}
		enc = append(enc, e...)
		pts = append(pts, p)
	}
	return pts, append(enc, ']'), nil
}

// polygon validates rings: each closed, with at least 4 positions.
func polygon(v any, path string) (orb.Polygon, []byte, error) {
	return nested(v, path, func(x any, p string) (orb.Ring, []byte, error) {
		pts, enc, err := positions(x, p, 4)
		if err != nil {
			return nil, nil, err
		}
		if pts[0] != pts[len(pts)-1] {
			return nil, nil, invalid(p, "ring is not closed (its last position must repeat the first)")
		}
		return orb.Ring(pts), enc, nil
	})
}

// nested validates a non-empty array of parts.
func nested[T any](v any, path string, part func(any, string) (T, []byte, error)) ([]T, []byte, error) {
	arr, ok := v.([]any)
	if !ok {
		return nil, nil, invalid(path, "must be an array")
	}
	if len(arr) == 0 {
		return nil, nil, invalid(path, "is empty")
	}
	out := make([]T, 0, len(arr))
	enc := []byte{'['}
	for i, x := range arr {
		t, e, err := part(x, fmt.Sprintf("%s[%d]", path, i))
		if err != nil {
			return nil, nil, err
		}
		if i > 0 {
			enc = append(enc, ',')
		}
		enc = append(enc, e...)
		out = append(out, t)
	}
	return out, append(enc, ']'), nil
}

// formatFloat writes the shortest decimal that reads back as f.
func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// Type is the GeoJSON type.
func (g Geometry) Type() string { return g.typ }

// IsZero reports whether g was never set.
func (g Geometry) IsZero() bool { return g.typ == "" }

// Orb is the planar (lon, lat) geometry, without altitudes.
func (g Geometry) Orb() orb.Geometry { return g.g }

// Bound is the geometry's bounding box in lon/lat.
func (g Geometry) Bound() orb.Bound { return g.g.Bound() }

// MarshalJSON is the canonical GeoJSON: keys sorted, numbers in their
// shortest form, altitudes kept.
func (g Geometry) MarshalJSON() ([]byte, error) {
	if g.IsZero() {
		return []byte("null"), nil
	}
	return append([]byte(nil), g.json...), nil
}

// UnmarshalJSON parses and validates.
func (g *Geometry) UnmarshalJSON(b []byte) error {
	v, err := Parse(b)
	if err != nil {
		return err
	}
	*g = v
	return nil
}
