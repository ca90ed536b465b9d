package geo

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/paulmach/orb"
	orbgeo "github.com/paulmach/orb/geo"
)

func TestParseValid(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{`{"type":"Point","coordinates":[-62.25,-3.48]}`, `{"coordinates":[-62.25,-3.48],"type":"Point"}`},
		{`{"coordinates":[1.50, 2e1, 30.0],"type":"Point"}`, `{"coordinates":[1.5,20,30],"type":"Point"}`},
		{`{"type":"Point","coordinates":[180,-90]}`, `{"coordinates":[180,-90],"type":"Point"}`},
		{`{"type":"LineString","coordinates":[[0,0],[1,1]]}`, `{"coordinates":[[0,0],[1,1]],"type":"LineString"}`},
		{`{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}`, `{"coordinates":[[[0,0],[1,0],[1,1],[0,0]]],"type":"Polygon"}`},
		{`{"type":"MultiPoint","coordinates":[[0,0]]}`, `{"coordinates":[[0,0]],"type":"MultiPoint"}`},
		{`{"type":"MultiLineString","coordinates":[[[0,0],[1,1]],[[2,2],[3,3,4]]]}`, `{"coordinates":[[[0,0],[1,1]],[[2,2],[3,3,4]]],"type":"MultiLineString"}`},
		{`{"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,0]]],[[[5,5],[6,5],[6,6],[5,5]]]]}`, `{"coordinates":[[[[0,0],[1,0],[1,1],[0,0]]],[[[5,5],[6,5],[6,6],[5,5]]]],"type":"MultiPolygon"}`},
	} {
		g, err := Parse([]byte(tc.in))
		if err != nil {
			t.Errorf("Parse(%s): %v", tc.in, err)
			continue
		}
		b, _ := g.MarshalJSON()
		if string(b) != tc.want {
			t.Errorf("Parse(%s) = %s, want %s", tc.in, b, tc.want)
		}
		// Canonical form is stable.
		again, err := Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		if b2, _ := again.MarshalJSON(); string(b2) != string(b) {
			t.Errorf("re-encoding %s gave %s", b, b2)
		}
	}
}

func TestParseInvalid(t *testing.T) {
	for _, tc := range []struct {
		in, why string
	}{
		{`{"type":"Point","coordinates":[181,0]}`, "longitude 181 is outside"},
		{`{"type":"Point","coordinates":[-180.5,0]}`, "longitude -180.5 is outside"},
		{`{"type":"Point","coordinates":[0,90.0001]}`, "latitude 90.0001 is outside"},
		{`{"type":"Point","coordinates":[0]}`, "2 or 3 numbers"},
		{`{"type":"Point","coordinates":[0,1,2,3]}`, "2 or 3 numbers"},
		{`{"type":"Point","coordinates":["0",1]}`, "not a number"},
		{`{"type":"Point","coordinates":[1e999,1]}`, "not finite numbers"},
		{`{"type":"Point","coordinates":[NaN,1]}`, "not a GeoJSON geometry object"},
		{`{"type":"Point"}`, `no "coordinates"`},
		{`{"coordinates":[0,0]}`, `no "type"`},
		{`{"type":"Circle","coordinates":[0,0]}`, "not a geometry type"},
		{`{"type":"GeometryCollection","geometries":[]}`, `no "coordinates"`},
		{`{"type":"LineString","coordinates":[[0,0]]}`, "at least 2 positions"},
		{`{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1]]]}`, "not closed"},
		{`{"type":"Polygon","coordinates":[[[0,0],[1,0],[0,0]]]}`, "at least 4 positions"},
		{`{"type":"Polygon","coordinates":[]}`, "is empty"},
		{`{"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,0]]],[[[0,0],[1,0],[1,1],[2,2]]]]}`, "coordinates[1][0]: ring is not closed"},
		{`[0,0]`, "not a GeoJSON geometry object"},
		{`{"type":"Point","coordinates":[0,0]`, "not a GeoJSON geometry object"},
	} {
		_, err := Parse([]byte(tc.in))
		if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.why) {
			t.Errorf("Parse(%s) = %v, want an ErrInvalid mentioning %q", tc.in, err, tc.why)
		}
	}
}

func TestNewPoint(t *testing.T) {
	alt := 12.5
	g, err := NewPoint(-62.2481, -3.4846, &alt)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := g.MarshalJSON(); string(b) != `{"coordinates":[-62.2481,-3.4846,12.5],"type":"Point"}` {
		t.Fatalf("got %s", b)
	}
	if p := g.Orb().(orb.Point); p != (orb.Point{-62.2481, -3.4846}) {
		t.Fatalf("orb %v", p)
	}
	for _, bad := range [][2]float64{{math.NaN(), 0}, {0, math.Inf(1)}, {200, 0}, {0, -91}} {
		if _, err := NewPoint(bad[0], bad[1], nil); !errors.Is(err, ErrInvalid) {
			t.Errorf("NewPoint(%v) = %v", bad, err)
		}
	}
}

func TestBBox(t *testing.T) {
	b, err := ParseBBox("170,-10,-170,10")
	if err != nil {
		t.Fatal(err)
	}
	if !b.Crosses() || len(b.Bounds()) != 2 {
		t.Fatal("an antimeridian box")
	}
	for _, tc := range []struct {
		p  orb.Point
		in bool
	}{{orb.Point{175, 0}, true}, {orb.Point{-175, 5}, true}, {orb.Point{180, 10}, true}, {orb.Point{0, 0}, false}, {orb.Point{175, 11}, false}} {
		if got := b.ContainsPoint(tc.p); got != tc.in {
			t.Errorf("%v in %v = %v", tc.p, b, got)
		}
	}
	for _, bad := range []string{"1,2,3", "a,0,1,1", "0,10,1,5", "-181,0,0,1", "0,-91,1,1"} {
		if _, err := ParseBBox(bad); err == nil {
			t.Errorf("ParseBBox(%q) accepted", bad)
		}
	}
}

func TestParseDistanceAndLatLon(t *testing.T) {
	for in, want := range map[string]float64{"500m": 500, "2km": 2000, "1.5 km": 1500, "300": 300, "0.25KM": 250, ".5km": 500} {
		if got, err := ParseDistance(in); err != nil || got != want {
			t.Errorf("ParseDistance(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "km", "-5m", "5 miles", "1e3m"} {
		if _, err := ParseDistance(bad); err == nil {
			t.Errorf("ParseDistance(%q) accepted", bad)
		}
	}
	if p, err := ParseLatLon("-3.48, -62.25"); err != nil || p != (orb.Point{-62.25, -3.48}) {
		t.Errorf("ParseLatLon = %v, %v", p, err)
	}
	for _, bad := range []string{"1", "91,0", "0,181", "a,b"} {
		if _, err := ParseLatLon(bad); err == nil {
			t.Errorf("ParseLatLon(%q) accepted", bad)
		}
	}
}

// TestDistanceMatchesOrb: our haversine equals orb/geo's, which uses the
// WGS84 equatorial radius where we use the mean one.
func TestDistanceMatchesOrb(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		a := orb.Point{rng.Float64()*360 - 180, rng.Float64()*180 - 90}
		b := orb.Point{rng.Float64()*360 - 180, rng.Float64()*180 - 90}
		got, want := DistanceMeters(a, b), orbgeo.DistanceHaversine(a, b)*earthRadius/orb.EarthRadius
		if math.Abs(got-want) > 1e-6*math.Max(1, want) {
			t.Fatalf("%v–%v: %v, orb says %v", a, b, got, want)
		}
	}
}

// TestCircleBBoxNeverMisses: the prefilter box of a circle holds every
// point within the radius, near the poles and across the antimeridian too.
func TestCircleBBoxNeverMisses(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	centers := []orb.Point{{179.9, 0}, {-179.95, 45}, {0, 89.9}, {10, -89.99}, {0, 0}}
	for range 200 {
		centers = append(centers, orb.Point{rng.Float64()*360 - 180, rng.Float64()*180 - 90})
	}
	checked := 0
	for _, c := range centers {
		for _, r := range []float64{50, 2000, 80000, 1500000} {
			circle := Circle{Center: c, Radius: r}
			box := circle.BBox()
			for range 300 {
				// Points near the circle's edge, inside and out.
				d := r * (0.5 + rng.Float64())
				p := destination(c, rng.Float64()*360, d)
				if circle.ContainsPoint(p) {
					checked++
					if !box.ContainsPoint(p) {
						t.Fatalf("circle %v r=%v: %v (at %.1f m) is inside but outside its box %+v", c, r, p, DistanceMeters(c, p), box)
					}
				}
			}
		}
	}
	if checked < 10000 {
		t.Fatalf("only %d inside points checked", checked)
	}
}

// destination is the point d metres from p at bearing deg (spherical).
func destination(p orb.Point, deg, d float64) orb.Point {
	lat1, lon1, b, a := rad(p[1]), rad(p[0]), rad(deg), d/earthRadius
	lat2 := math.Asin(math.Sin(lat1)*math.Cos(a) + math.Cos(lat1)*math.Sin(a)*math.Cos(b))
	lon2 := lon1 + math.Atan2(math.Sin(b)*math.Sin(a)*math.Cos(lat1), math.Cos(a)-math.Sin(lat1)*math.Sin(lat2))
	lon := math.Mod(lon2*180/math.Pi+540, 360) - 180
	return orb.Point{lon, lat2 * 180 / math.Pi}
}

// TestAreaWithHoles compares Area.ContainsPoint with an independent
// even-odd ray count over every ring (holes flip it back to outside).
func TestAreaWithHoles(t *testing.T) {
	g, err := Parse([]byte(`{"type":"MultiPolygon","coordinates":[
		[[[0,0],[10,0],[10,10],[0,10],[0,0]],[[2,2],[4,2],[4,4],[2,4],[2,2]],[[6,6],[8,6],[7,8],[6,6]]],
		[[[20,-5],[30,-5],[25,5],[20,-5]]]]}`))
	if err != nil {
		t.Fatal(err)
	}
	area, err := NewArea(g)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	mp := g.Orb().(orb.MultiPolygon)
	in := 0
	for range 200000 {
		p := orb.Point{rng.Float64()*40 - 5, rng.Float64()*20 - 7}
		want := false
		for _, poly := range mp {
			inside := false
			for _, ring := range poly {
				if evenOdd(ring, p) {
					inside = !inside
				}
			}
			want = want || inside
		}
		if got := area.ContainsPoint(p); got != want {
			t.Fatalf("%v: ContainsPoint %v, even-odd count says %v", p, got, want)
		}
		if want {
			in++
		}
	}
	if in < 10000 {
		t.Fatalf("only %d points inside: the test did not test much", in)
	}
	// Edges: the outer boundary and a hole's boundary count as inside.
	for _, p := range []orb.Point{{0, 5}, {10, 10}, {3, 2}, {25, 5}} {
		if !area.ContainsPoint(p) {
			t.Errorf("%v on an edge is not inside", p)
		}
	}
	if _, err := NewArea(mustParse(t, `{"type":"Point","coordinates":[0,0]}`)); err == nil {
		t.Error("a point accepted as an area")
	}
}

func evenOdd(r orb.Ring, p orb.Point) bool {
	in := false
	for i, j := 0, len(r)-1; i < len(r); j, i = i, i+1 {
		a, b := r[i], r[j]
		if (a[1] > p[1]) != (b[1] > p[1]) && p[0] < (b[0]-a[0])*(p[1]-a[1])/(b[1]-a[1])+a[0] {
			in = !in
		}
	}
	return in
}

func mustParse(t *testing.T, s string) Geometry {
	t.Helper()
	g, err := Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestGeoPackageBinary(t *testing.T) {
	for _, tc := range []struct {
		g     orb.Geometry
		point bool
	}{
		{orb.Point{-60.5, -3.25}, true},
		{orb.LineString{{1, 2}, {3, 4}}, false},
		{orb.Polygon{{{0, 0}, {1, 0}, {1, 1}, {0, 0}}}, false},
	} {
		b, err := GeoPackageBinary(tc.g)
		if err != nil {
			t.Fatal(err)
		}
		if string(b[:2]) != "GP" || b[3] != 0x03 || b[4] != 0xe6 || b[5] != 0x10 {
			t.Fatalf("%v: header % x", tc.g, b[:8])
		}
		p, ok := GeoPackagePoint(b)
		if ok != tc.point || ok && p != tc.g.(orb.Point) {
			t.Fatalf("%v: point %v %v", tc.g, p, ok)
		}
	}
	if _, ok := GeoPackagePoint([]byte("GP")); ok {
		t.Fatal("short input read as a point")
	}
}
