package geo

import (
	"encoding/binary"
	"math"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkb"
)

// GeoPackageSRS is the spatial reference system fieldsync writes: EPSG:4326.
const GeoPackageSRS = 4326

// GeoPackageBinary is g in the GeoPackage binary geometry encoding: "GP",
// version 0, flags 0x03 (little endian, an xy envelope), srs_id 4326, the
// envelope (minx, maxx, miny, maxy), then little-endian WKB.
func GeoPackageBinary(g orb.Geometry) ([]byte, error) {
	w, err := wkb.Marshal(g, binary.LittleEndian)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 8+32, 8+32+len(w))
	copy(b, []byte{'G', 'P', 0, 0x03})
	binary.LittleEndian.PutUint32(b[4:], GeoPackageSRS)
	bd := g.Bound()
	for i, v := range []float64{bd.Min[0], bd.Max[0], bd.Min[1], bd.Max[1]} {
		binary.LittleEndian.PutUint64(b[8+8*i:], math.Float64bits(v))
	}
	return append(b, w...), nil
}

// GeoPackagePoint reads the point of a GeoPackageBinary geometry from its
// envelope (exact float64s); ok is false for anything but a point.
func GeoPackagePoint(b []byte) (orb.Point, bool) {
	if len(b) < 40 || b[0] != 'G' || b[1] != 'P' || b[3] != 0x03 {
		return orb.Point{}, false
	}
	f := func(i int) float64 { return math.Float64frombits(binary.LittleEndian.Uint64(b[8+8*i:])) }
	minx, maxx, miny, maxy := f(0), f(1), f(2), f(3)
	if minx != maxx || miny != maxy {
		return orb.Point{}, false
	}
	return orb.Point{minx, miny}, true
}
