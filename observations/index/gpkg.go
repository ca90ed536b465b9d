package index

// GeoPackageCore creates the GeoPackage 1.3 core tables (with the WGS 84
// and undefined reference systems): what any GeoPackage fieldsync writes
// starts with, the index and the exports alike.
const GeoPackageCore = `
PRAGMA application_id = 1196444487; -- 'GPKG'
PRAGMA user_version = 10300;
CREATE TABLE IF NOT EXISTS gpkg_spatial_ref_sys (
  srs_name TEXT NOT NULL, srs_id INTEGER NOT NULL PRIMARY KEY, organization TEXT NOT NULL,
  organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
INSERT OR IGNORE INTO gpkg_spatial_ref_sys VALUES
  ('Undefined cartesian SRS', -1, 'NONE', -1, 'undefined', 'undefined cartesian coordinate reference system'),
  ('Undefined geographic SRS', 0, 'NONE', 0, 'undefined', 'undefined geographic coordinate reference system'),
  ('WGS 84 geodetic', 4326, 'EPSG', 4326, 'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AXIS["Latitude",NORTH],AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]', 'longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid');
CREATE TABLE IF NOT EXISTS gpkg_contents (
  table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE, description TEXT DEFAULT '',
  last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER REFERENCES gpkg_spatial_ref_sys(srs_id));
CREATE TABLE IF NOT EXISTS gpkg_geometry_columns (
  table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL, srs_id INTEGER NOT NULL,
  z TINYINT NOT NULL, m TINYINT NOT NULL, PRIMARY KEY (table_name, column_name));
CREATE TABLE IF NOT EXISTS gpkg_extensions (
  table_name TEXT, column_name TEXT, extension_name TEXT NOT NULL, definition TEXT NOT NULL, scope TEXT NOT NULL,
  UNIQUE (table_name, column_name, extension_name));
`

// The schema: the GeoPackage core, the observations feature table with its
// R*Tree (the gpkg_rtree_index extension), and fieldsync's own tables.
const schema = GeoPackageCore + `
CREATE TABLE IF NOT EXISTS observations (
  fid INTEGER PRIMARY KEY AUTOINCREMENT, geom BLOB, id TEXT NOT NULL UNIQUE, version TEXT NOT NULL,
  author TEXT NOT NULL, created TEXT NOT NULL, updated TEXT NOT NULL, deleted INTEGER NOT NULL, forked INTEGER NOT NULL,
  tags TEXT NOT NULL, record TEXT NOT NULL);
CREATE VIRTUAL TABLE IF NOT EXISTS rtree_observations_geom USING rtree(id, minx, maxx, miny, maxy);
INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description, srs_id)
  VALUES ('observations', 'features', 'observations', 'current version of every observation (fieldsync)', 4326);
INSERT OR IGNORE INTO gpkg_geometry_columns VALUES ('observations', 'geom', 'GEOMETRY', 4326, 0, 0);
INSERT OR IGNORE INTO gpkg_extensions VALUES ('observations', 'geom', 'gpkg_rtree_index', 'http://www.geopackage.org/spec120/#extension_rtree', 'write-only');
CREATE TABLE IF NOT EXISTS fs_versions (
  version TEXT NOT NULL, id TEXT NOT NULL, record TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS fs_versions_id ON fs_versions(id);
CREATE TABLE IF NOT EXISTS fs_cores (key TEXT NOT NULL PRIMARY KEY, indexed INTEGER NOT NULL, author TEXT NOT NULL DEFAULT '');
`
