package export

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/fieldsync/fieldsync/geo"
	"github.com/fieldsync/fieldsync/observations/index"
	"github.com/paulmach/orb"
)

// gpkgWriter writes a standalone GeoPackage: an "observations" feature
// layer with fieldsync's fields and one typed column per tag, and its
// R*Tree, in one transaction.
type gpkgWriter struct {
	db      *sql.DB
	tx      *sql.Tx
	insert  *sql.Stmt
	tree    *sql.Stmt
	tags    []index.TagColumn
	args    []any
	bound   orb.Bound
	bounded bool
	n       int
}

// gpkgFixed are the layer's own columns, after fid and geom.
var gpkgFixed = []string{PropID, PropVersion, PropCreated, PropUpdated, PropAuthor, PropDevice, PropAttachments}

// NewGeoPackage creates a GeoPackage at path (which must not exist).
func NewGeoPackage(path string, tags []index.TagColumn) (Writer, error) {
	db, err := sql.Open("sqlite3", "file:"+path+"?_journal_mode=DELETE&mode=rwc")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	g := &gpkgWriter{db: db, tags: tags}
	if err := g.create(); err != nil {
		db.Close()
		return nil, fmt.Errorf("create GeoPackage %s: %w", path, err)
	}
	return g, nil
}

func quote(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

func (g *gpkgWriter) create() error {
	cols := []string{"fid INTEGER PRIMARY KEY AUTOINCREMENT", "geom GEOMETRY"}
	names := []string{"fid", "geom"}
	for _, c := range gpkgFixed {
		cols = append(cols, quote(c)+" TEXT")
		names = append(names, quote(c))
	}
	seen := map[string]bool{}
	for _, n := range append([]string{"fid", "geom"}, gpkgFixed...) {
		seen[strings.ToLower(n)] = true
	}
	for _, t := range g.tags {
		// A tag named like a column of ours (fid, geom; SQLite ignores
		// case) becomes "tag:NAME", as in CSV; two tags that differ only
		// by case get "tag:" prefixes until they differ.
		name := t.Name
		for seen[strings.ToLower(name)] {
			name = "tag:" + name
		}
		seen[strings.ToLower(name)] = true
		cols = append(cols, quote(name)+" "+t.Type)
		names = append(names, quote(name))
	}
	if _, err := g.db.Exec(index.GeoPackageCore + `
		CREATE TABLE observations (` + strings.Join(cols, ", ") + `);
		CREATE VIRTUAL TABLE rtree_observations_geom USING rtree(id, minx, maxx, miny, maxy);
		INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id)
		  VALUES ('observations', 'features', 'observations', 'observations exported by fieldsync', 4326);
		INSERT INTO gpkg_geometry_columns VALUES ('observations', 'geom', 'GEOMETRY', 4326, 0, 0);
		INSERT INTO gpkg_extensions VALUES ('observations', 'geom', 'gpkg_rtree_index', 'http://www.geopackage.org/spec120/#extension_rtree', 'write-only');`); err != nil {
		return err
	}
	var err error
	if g.tx, err = g.db.Begin(); err != nil {
		return err
	}
	marks := strings.TrimSuffix(strings.Repeat("?,", len(names)), ",")
	if g.insert, err = g.tx.Prepare(`INSERT INTO observations (` + strings.Join(names, ", ") + `) VALUES (` + marks + `)`); err != nil {
		return err
	}
	g.tree, err = g.tx.Prepare(`INSERT INTO rtree_observations_geom VALUES (?, ?, ?, ?, ?)`)
	return err
}

func (g *gpkgWriter) Write(r *Record) error {
	o := r.Obs
	g.n++
	var geom []byte
	var bd orb.Bound
	if o.Geometry != nil && !o.Geometry.IsZero() {
		var err error
		if geom, err = geo.GeoPackageBinary(o.Geometry.Orb()); err != nil {
			return err
		}
		bd = o.Geometry.Bound()
	}
	props := Properties(r)
	atts, _ := json.Marshal(props[PropAttachments])
	g.args = append(g.args[:0], g.n, geom, o.ID, string(r.Version), o.Created, o.Updated, r.Author, props[PropDevice], string(atts))
	for _, t := range g.tags {
		tag, ok := o.Tags[t.Name]
		if !ok {
			g.args = append(g.args, nil)
			continue
		}
		switch v := tag.Value().(type) {
		case string, float64, bool:
			g.args = append(g.args, v)
		default:
			b, _ := json.Marshal(v)
			g.args = append(g.args, string(b))
		}
	}
	if _, err := g.insert.Exec(g.args...); err != nil {
		return fmt.Errorf("observation %s: %w", o.ID, err)
	}
	if geom != nil {
		if _, err := g.tree.Exec(g.n, bd.Min[0], bd.Max[0], bd.Min[1], bd.Max[1]); err != nil {
			return err
		}
		if !g.bounded {
			g.bound, g.bounded = bd, true
		} else {
			g.bound = g.bound.Union(bd)
		}
	}
	return nil
}

func (g *gpkgWriter) Close() error {
	defer g.db.Close()
	if g.bounded {
		if _, err := g.tx.Exec(`UPDATE gpkg_contents SET min_x = ?, min_y = ?, max_x = ?, max_y = ? WHERE table_name = 'observations'`,
			g.bound.Min[0], g.bound.Min[1], g.bound.Max[0], g.bound.Max[1]); err != nil {
			return err
		}
	}
	if err := g.tx.Commit(); err != nil {
		return err
	}
	return g.db.Close()
}
