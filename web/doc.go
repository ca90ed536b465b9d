// Package web is the coordinator's map: an http.Handler that serves one
// embedded page (Leaflet 1.9.4 and a Natural Earth 1:110m land outline,
// vendored under static/vendor with their licenses, so nothing is ever
// fetched from outside the machine) and the read-only JSON API it uses,
// which scripts can use too:
//
//	GET /api/observations.geojson   the filtered observations, streamed
//	                                (with zoom=Z: clustered on a grid)
//	GET /api/observations/{id}      every version of one, authors by name
//	GET /api/media/{id}/{name}      an attachment, SHA-256 checked first
//	GET /api/status                 devices, the index counter, live sync
//	GET /api/export.geojson|.gpkg|/api/export/evidence.zip  the selection
//	GET /api/tiles/{z}/{x}/{y}      raster tiles of an MBTiles or PMTiles basemap
//
// The filters are list's (bbox, near+radius, since, until, tag, deleted)
// plus device and q (text in a tag's value). There are no write
// endpoints: only GET and HEAD are answered, a request with a body is
// refused, and the handler never writes to a core or the index (the
// caller keeps the index current). Exports use export's writers, the
// same as the CLI.
//
// It reads a project through the observations façade (its stored parts:
// cores, histories, attachments) and the index the caller keeps current.
// It may import geo, observations/..., export and internal/atomicfile;
// never hypercore's writers, lansync, dht or cmd.
package web
