// Package index keeps the SQLite index of a project: a GeoPackage file
// (index.gpkg) whose "observations" layer holds the current version of
// every observation with its geometry and an R*Tree, so GDAL, QGIS and
// sqlite3 open it as it is, plus tables of every version and of how far
// each core is indexed. It is derived data: Update reads only the blocks
// added since the last run, and deleting the file and updating again
// gives the same result. Queries prefilter with the R*Tree and decide
// with query.Filter.
//
// It may import hypercore, observation, geo and query; never lansync,
// dht, export or cmd.
package index
