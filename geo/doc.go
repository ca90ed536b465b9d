// Package geo holds the geometry fieldsync records and queries: RFC 7946
// GeoJSON geometries validated strictly (finite WGS84 coordinates in range,
// closed polygon rings, altitude kept), and the spatial tests queries need
// — bounding boxes that may cross the antimeridian, great-circle distances
// and radius prefilters, containment in polygons with holes — on top of
// paulmach/orb.
//
// It imports nothing from fieldsync (only orb and the standard library),
// so the index, the exports and the CLI can all rely on one definition of
// "valid" and "inside".
package geo
