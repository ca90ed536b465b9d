// Package query selects observations: the filters of `fieldsync list` and
// the exports (bounding box, distance, area, time, tags, deleted), with
// one exact definition of each, so that an index may prefilter but never
// decides alone.
//
// A point matches a place filter when it lies in the place. For other
// geometries: a bounding box or a circle matches when any vertex lies in
// it; an area matches when every vertex lies in it ("within").
//
// It imports geo and observation; never storage, the index's driver,
// lansync, dht, export or cmd.
package query
