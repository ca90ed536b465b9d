package geo

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
)

// BBox is a lon/lat box, west, south, east, north. West greater than east
// means the box crosses the antimeridian (e.g. 170,-10,-170,10).
type BBox struct{ W, S, E, N float64 }

// ParseBBox reads "W,S,E,N" in degrees.
func ParseBBox(s string) (BBox, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 4 {
		return BBox{}, fmt.Errorf("bounding box %q: want W,S,E,N (four numbers in degrees)", s)
	}
	var v [4]float64
	for i, p := range parts {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return BBox{}, fmt.Errorf("bounding box %q: %q is not a number", s, p)
		}
		v[i] = f
	}
	b := BBox{v[0], v[1], v[2], v[3]}
	switch {
	case b.W < -180 || b.W > 180 || b.E < -180 || b.E > 180:
		return BBox{}, fmt.Errorf("bounding box %q: longitudes must be in [-180, 180]", s)
	case b.S < -90 || b.N > 90 || b.S > b.N:
		return BBox{}, fmt.Errorf("bounding box %q: latitudes must be in [-90, 90] with south ≤ north", s)
	}
	return b, nil
}

// Crosses reports whether the box crosses the antimeridian.
func (b BBox) Crosses() bool { return b.W > b.E }

// Bounds are the one or two planar boxes that make up b (two when it
// crosses the antimeridian), for an R*Tree prefilter.
func (b BBox) Bounds() []orb.Bound {
	if !b.Crosses() {
		return []orb.Bound{{Min: orb.Point{b.W, b.S}, Max: orb.Point{b.E, b.N}}}
	}
	return []orb.Bound{
		{Min: orb.Point{b.W, b.S}, Max: orb.Point{180, b.N}},
		{Min: orb.Point{-180, b.S}, Max: orb.Point{b.E, b.N}},
	}
}

// ContainsPoint reports whether p (lon, lat) is inside b, edges included.
func (b BBox) ContainsPoint(p orb.Point) bool {
	if p[1] < b.S || p[1] > b.N {
		return false
	}
	if b.Crosses() {
		return p[0] >= b.W || p[0] <= b.E
	}
	return p[0] >= b.W && p[0] <= b.E
}

// Intersects reports whether a geometry's bound overlaps b.
func (b BBox) Intersects(bound orb.Bound) bool {
	for _, x := range b.Bounds() {
		if x.Intersects(bound) {
			return true
		}
	}
	return false
}

// earthRadius is the mean Earth radius in metres (as orb/geo uses).
const earthRadius = 6371008.8

// DistanceMeters is the great-circle (haversine) distance between two
// lon/lat points, in metres.
func DistanceMeters(a, b orb.Point) float64 {
	lat1, lat2 := rad(a[1]), rad(b[1])
	dlat, dlon := lat2-lat1, rad(b[0]-a[0])
	h := math.Sin(dlat/2)*math.Sin(dlat/2) + math.Cos(lat1)*math.Cos(lat2)*math.Sin(dlon/2)*math.Sin(dlon/2)
	return 2 * earthRadius * math.Asin(math.Min(1, math.Sqrt(h)))
}

func rad(d float64) float64 { return d * math.Pi / 180 }

// Circle is the set of points within Radius metres of Center.
type Circle struct {
	Center orb.Point
	Radius float64
}

// BBox is a box that contains the whole circle, for a prefilter: it may
// cross the antimeridian, and near a pole it spans every longitude.
func (c Circle) BBox() BBox {
	dlat := c.Radius / earthRadius * 180 / math.Pi
	s, n := math.Max(-90, c.Center[1]-dlat), math.Min(90, c.Center[1]+dlat)
	// The widest longitude span is at the latitude farthest from the equator.
	maxLat := math.Max(math.Abs(s), math.Abs(n))
	if maxLat >= 89.999 || c.Radius >= math.Pi*earthRadius/2 {
		return BBox{-180, s, 180, n}
	}
	dlon := c.Radius / (earthRadius * math.Cos(rad(maxLat))) * 180 / math.Pi
	if dlon >= 180 {
		return BBox{-180, s, 180, n}
	}
	w, e := c.Center[0]-dlon, c.Center[0]+dlon
	if w < -180 {
		w += 360
	}
	if e > 180 {
		e -= 360
	}
	return BBox{w, s, e, n}
}

// ContainsPoint reports whether p is within the radius (edge included).
func (c Circle) ContainsPoint(p orb.Point) bool { return DistanceMeters(c.Center, p) <= c.Radius }

// ParseDistance reads a distance such as "500m", "2km", "1.5 km" or "300"
// (metres) and returns metres.
func ParseDistance(s string) (float64, error) {
	m := distanceRe.FindStringSubmatch(strings.TrimSpace(strings.ToLower(s)))
	if m == nil {
		return 0, fmt.Errorf("distance %q: want a number of metres or kilometres, e.g. 500m or 2km", s)
	}
	f, err := strconv.ParseFloat(m[1], 64)
	if err != nil || math.IsInf(f, 0) || f < 0 {
		return 0, fmt.Errorf("distance %q: not a non-negative number", s)
	}
	if m[2] == "km" {
		f *= 1000
	}
	return f, nil
}

var distanceRe = regexp.MustCompile(`^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*(m|km)?$`)

// ParseLatLon reads "LAT,LON" in degrees (the order people say them).
func ParseLatLon(s string) (orb.Point, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 2 {
		return orb.Point{}, fmt.Errorf("position %q: want LAT,LON in degrees", s)
	}
	lat, err1 := strconv.ParseFloat(strings.TrimSpace(parts[0]), 64)
	lon, err2 := strconv.ParseFloat(strings.TrimSpace(parts[1]), 64)
	switch {
	case err1 != nil || err2 != nil || math.IsNaN(lat) || math.IsNaN(lon):
		return orb.Point{}, fmt.Errorf("position %q: want LAT,LON in degrees", s)
	case lat < -90 || lat > 90:
		return orb.Point{}, fmt.Errorf("position %q: latitude %g is outside [-90, 90]", s, lat)
	case lon < -180 || lon > 180:
		return orb.Point{}, fmt.Errorf("position %q: longitude %g is outside [-180, 180]", s, lon)
	}
	return orb.Point{lon, lat}, nil
}

// Area is a polygon or multipolygon to select within (holes excluded).
type Area struct {
	g     orb.Geometry
	bound orb.Bound
}

// NewArea makes an Area of a Polygon or MultiPolygon geometry.
func NewArea(g Geometry) (Area, error) {
	switch g.Orb().(type) {
	case orb.Polygon, orb.MultiPolygon:
		return Area{g: g.Orb(), bound: g.Bound()}, nil
	}
	return Area{}, fmt.Errorf("an area must be a Polygon or MultiPolygon, not a %s", g.Type())
}

// Bound is the area's bounding box, for a prefilter.
func (a Area) Bound() orb.Bound { return a.bound }

// ContainsPoint reports whether p lies inside the area (not in a hole).
// Points on an edge count as inside.
func (a Area) ContainsPoint(p orb.Point) bool {
	if !a.bound.Contains(p) {
		return false
	}
	switch g := a.g.(type) {
	case orb.Polygon:
		return polygonContains(g, p)
	case orb.MultiPolygon:
		for _, poly := range g {
			if polygonContains(poly, p) {
				return true
			}
		}
	}
	return false
}

// polygonContains: inside the outer ring (or on it) and not strictly
// inside a hole.
func polygonContains(poly orb.Polygon, p orb.Point) bool {
	if len(poly) == 0 || !ringContains(poly[0], p) {
		return false
	}
	for _, hole := range poly[1:] {
		if planar.RingContains(hole, p) && !onRing(hole, p) {
			return false
		}
	}
	return true
}

// ringContains: inside or on the ring.
func ringContains(r orb.Ring, p orb.Point) bool { return planar.RingContains(r, p) }

// onRing reports whether p lies on one of r's edges.
func onRing(r orb.Ring, p orb.Point) bool {
	for i := 1; i < len(r); i++ {
		a, b := r[i-1], r[i]
		if p[0] < math.Min(a[0], b[0]) || p[0] > math.Max(a[0], b[0]) || p[1] < math.Min(a[1], b[1]) || p[1] > math.Max(a[1], b[1]) {
			continue
		}
		if (b[0]-a[0])*(p[1]-a[1])-(b[1]-a[1])*(p[0]-a[0]) == 0 {
			return true
		}
	}
	return false
}

// ParseArea reads an area from GeoJSON: a Polygon or MultiPolygon
// geometry, a Feature holding one, or a FeatureCollection of exactly one
// such Feature.
func ParseArea(b []byte) (Area, error) {
	var probe struct {
		Type     string            `json:"type"`
		Geometry json.RawMessage   `json:"geometry"`
		Features []json.RawMessage `json:"features"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return Area{}, fmt.Errorf("not GeoJSON: %v", err)
	}
	switch probe.Type {
	case "FeatureCollection":
		if len(probe.Features) != 1 {
			return Area{}, fmt.Errorf("a FeatureCollection of %d features: give one area", len(probe.Features))
		}
		var f struct {
			Geometry json.RawMessage `json:"geometry"`
		}
		json.Unmarshal(probe.Features[0], &f)
		b = f.Geometry
	case "Feature":
		b = probe.Geometry
	}
	g, err := Parse(b)
	if err != nil {
		return Area{}, err
	}
	return NewArea(g)
}
