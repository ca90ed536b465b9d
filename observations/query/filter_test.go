package query

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/fieldsync/fieldsync/geo"
	"github.com/fieldsync/fieldsync/observations/record"
	"github.com/paulmach/orb"
)

func obsAt(t testing.TB, geometry string, created string, tags map[string]record.Tag) *record.Observation {
	g, err := geo.Parse([]byte(geometry))
	if err != nil {
		t.Fatal(err)
	}
	return &record.Observation{Type: "observation", Schema: 1, ID: "x", Created: created, Updated: created, Geometry: &g, Tags: tags}
}

func TestMatch(t *testing.T) {
	box, _ := geo.ParseBBox("170,-10,-170,10")
	area, _ := geo.NewArea(mustGeo(t, `{"type":"Polygon","coordinates":[[[0,0],[10,0],[10,10],[0,10],[0,0]],[[4,4],[6,4],[6,6],[4,6],[4,4]]]}`))
	circle := geo.Circle{Center: orb.Point{0, 0}, Radius: 200000} // 200 km
	since, _ := ParseTime("2026-03-01")
	until, _ := ParseTime("2026-04-01T00:00:00Z")
	cat := map[string]record.Tag{"category": record.String("mining"), "n": record.Number(3)}
	for i, tc := range []struct {
		f    Filter
		o    *record.Observation
		want bool
	}{
		{Filter{BBox: &box}, obsAt(t, `{"type":"Point","coordinates":[179,0]}`, "2026-03-02T00:00:00Z", nil), true},
		{Filter{BBox: &box}, obsAt(t, `{"type":"Point","coordinates":[0,0]}`, "2026-03-02T00:00:00Z", nil), false},
		{Filter{BBox: &box}, obsAt(t, `{"type":"LineString","coordinates":[[0,0],[-175,1]]}`, "2026-03-02T00:00:00Z", nil), true}, // a vertex inside
		{Filter{Near: &circle}, obsAt(t, `{"type":"Point","coordinates":[1,1]}`, "2026-03-02T00:00:00Z", nil), true},              // 157 km
		{Filter{Near: &circle}, obsAt(t, `{"type":"Point","coordinates":[1.5,1.5]}`, "2026-03-02T00:00:00Z", nil), false},         // 236 km
		{Filter{Within: &area}, obsAt(t, `{"type":"Point","coordinates":[2,2]}`, "2026-03-02T00:00:00Z", nil), true},
		{Filter{Within: &area}, obsAt(t, `{"type":"Point","coordinates":[5,5]}`, "2026-03-02T00:00:00Z", nil), false},               // in the hole
		{Filter{Within: &area}, obsAt(t, `{"type":"LineString","coordinates":[[1,1],[11,1]]}`, "2026-03-02T00:00:00Z", nil), false}, // half out
		{Filter{Since: since, Until: until}, obsAt(t, `{"type":"Point","coordinates":[0,0]}`, "2026-03-31T23:59:59Z", nil), true},
		{Filter{Since: since, Until: until}, obsAt(t, `{"type":"Point","coordinates":[0,0]}`, "2026-04-01T00:00:00Z", nil), false},
		{Filter{Since: since}, obsAt(t, `{"type":"Point","coordinates":[0,0]}`, "2026-02-28T23:59:59Z", nil), false},
		{Filter{Tags: map[string]record.Tag{"category": record.String("mining"), "n": record.Number(3)}}, obsAt(t, `{"type":"Point","coordinates":[0,0]}`, "2026-03-02T00:00:00Z", cat), true},
		{Filter{Tags: map[string]record.Tag{"n": record.String("3")}}, obsAt(t, `{"type":"Point","coordinates":[0,0]}`, "2026-03-02T00:00:00Z", cat), false},
		{Filter{}, func() *record.Observation {
			o := obsAt(t, `{"type":"Point","coordinates":[0,0]}`, "2026-03-02T00:00:00Z", nil)
			o.Deleted = true
			return o
		}(), false},
	} {
		if got := tc.f.Match(tc.o); got != tc.want {
			t.Errorf("case %d: Match = %v, want %v", i, got, tc.want)
		}
	}
}

// TestNearMatchesReference: Match with a circle agrees with an independent
// spherical-law-of-cosines distance on random points.
func TestNearMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for range 2000 {
		c := orb.Point{rng.Float64()*360 - 180, rng.Float64()*170 - 85}
		r := 1000 + rng.Float64()*500000
		f := Filter{Near: &geo.Circle{Center: c, Radius: r}}
		p := orb.Point{c[0] + rng.NormFloat64()*3, math.Max(-89, math.Min(89, c[1]+rng.NormFloat64()*3))}
		if p[0] > 180 {
			p[0] -= 360
		}
		if p[0] < -180 {
			p[0] += 360
		}
		o := obsAt(t, fmt.Sprintf(`{"type":"Point","coordinates":[%v,%v]}`, p[0], p[1]), "2026-03-02T00:00:00Z", nil)
		d := cosineDistance(c, p)
		if math.Abs(d-r) < 1 { // too close to the edge to judge
			continue
		}
		if got := f.Match(o); got != (d <= r) {
			t.Fatalf("%v from %v: %f m, radius %f m: Match %v", p, c, d, r, got)
		}
	}
}

func cosineDistance(a, b orb.Point) float64 {
	la, lb := a[1]*math.Pi/180, b[1]*math.Pi/180
	dl := (b[0] - a[0]) * math.Pi / 180
	c := math.Sin(la)*math.Sin(lb) + math.Cos(la)*math.Cos(lb)*math.Cos(dl)
	return 6371008.8 * math.Acos(math.Max(-1, math.Min(1, c)))
}

func mustGeo(t *testing.T, s string) geo.Geometry {
	g, err := geo.Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// OnlyDeleted is false as soon as any other field is set: a store that
// skips decoding on it must never skip a condition. (reflect walks the
// fields, so a field added later is caught.)
func TestOnlyDeletedCoversEveryField(t *testing.T) {
	box := geo.BBox{}
	area := geo.Area{}
	circle := geo.Circle{}
	set := map[string]func(f *Filter){
		"BBox":    func(f *Filter) { f.BBox = &box },
		"Near":    func(f *Filter) { f.Near = &circle },
		"Within":  func(f *Filter) { f.Within = &area },
		"Since":   func(f *Filter) { f.Since = f.Since.AddDate(2026, 0, 0) },
		"Until":   func(f *Filter) { f.Until = f.Until.AddDate(2026, 0, 0) },
		"Tags":    func(f *Filter) { f.Tags = map[string]record.Tag{"a": record.Bool(true)} },
		"Deleted": func(f *Filter) { f.Deleted = true },
	}
	typ := reflect.TypeOf(Filter{})
	for i := range typ.NumField() {
		name := typ.Field(i).Name
		fn, ok := set[name]
		if !ok {
			t.Fatalf("field %s is new: teach OnlyDeleted and this test about it", name)
		}
		f := &Filter{}
		fn(f)
		if got, want := f.OnlyDeleted(), name == "Deleted"; got != want {
			t.Errorf("%s set: OnlyDeleted = %v", name, got)
		}
	}
}
