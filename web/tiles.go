package web

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"

	_ "github.com/mattn/go-sqlite3" // MBTiles are SQLite files
)

// tileSource is a PMTiles v3 file of raster tiles, or an MBTiles file (v1.3): tiles(zoom_level, tile_column,
// tile_row, tile_data) with rows counted from the south (TMS), and a
// metadata table naming the format.
type tileSource struct {
	db               *sql.DB  // MBTiles
	pm               *pmtiles // or PMTiles
	format           string   // png, jpg, webp
	minZoom, maxZoom int
	bounds           string
	name             string
}

var tileTypes = map[string]string{"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp", "avif": "image/avif"}

// openTiles opens an MBTiles or PMTiles file read-only and checks it
// holds raster tiles the page can show.
func openTiles(path string) (*tileSource, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("basemap %s: %w", path, err)
	}
	magic := make([]byte, 7)
	_, err = io.ReadFull(f, magic)
	f.Close()
	if err == nil && string(magic) == "PMTiles" {
		pm, err := openPMTiles(path)
		if err != nil {
			return nil, err
		}
		return &tileSource{pm: pm, format: pm.format, minZoom: pm.minZoom, maxZoom: pm.maxZoom, bounds: pm.bounds}, nil
	}
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro&_query_only=true")
	if err != nil {
		return nil, fmt.Errorf("basemap %s: %w", path, err)
	}
	t := &tileSource{db: db, minZoom: 0, maxZoom: 22}
	meta := map[string]string{}
	rows, err := db.Query(`SELECT name, value FROM metadata`)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("basemap %s is not an MBTiles file (no metadata table): %w", path, err)
	}
	for rows.Next() {
		var k, v string
		if rows.Scan(&k, &v) == nil {
			meta[k] = v
		}
	}
	rows.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM (SELECT 1 FROM tiles LIMIT 1)`).Scan(&n); err != nil {
		db.Close()
		return nil, fmt.Errorf("basemap %s is not an MBTiles file (no tiles table): %w", path, err)
	}
	t.format = meta["format"]
	if t.format == "" {
		t.format = "png"
	}
	if tileTypes[t.format] == "" {
		db.Close()
		return nil, fmt.Errorf("basemap %s holds %q tiles; the map shows raster tiles only (png, jpg, webp)", path, t.format)
	}
	if v, err := strconv.Atoi(meta["minzoom"]); err == nil {
		t.minZoom = v
	}
	if v, err := strconv.Atoi(meta["maxzoom"]); err == nil {
		t.maxZoom = v
	}
	t.bounds, t.name = meta["bounds"], meta["name"]
	return t, nil
}

func (t *tileSource) Close() error {
	if t.pm != nil {
		return t.pm.f.Close()
	}
	return t.db.Close()
}

// tile returns tile z/x/y (XYZ: rows from the north), nil if none.
func (t *tileSource) tile(ctx context.Context, z, x, y int) ([]byte, error) {
	if t.pm != nil {
		return t.pm.tile(z, x, y)
	}
	var data []byte
	err := t.db.QueryRowContext(ctx, `SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?`, z, x, (1<<z)-1-y).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return data, err
}

func (s *Server) basemap(w http.ResponseWriter, r *http.Request) {
	if s.tiles == nil {
		writeJSONResponse(w, map[string]any{"tiles": false})
		return
	}
	writeJSONResponse(w, map[string]any{"tiles": true, "minzoom": s.tiles.minZoom, "maxzoom": s.tiles.maxZoom, "bounds": s.tiles.bounds, "name": s.tiles.name})
}

// tile answers /api/tiles/{z}/{x}/{y} (XYZ, rows from the north), 404
// where the file has none.
func (s *Server) tile(w http.ResponseWriter, r *http.Request) {
	if s.tiles == nil {
		httpError(w, http.StatusNotFound, "no basemap: start fieldsync with --basemap FILE.mbtiles or FILE.pmtiles")
		return
	}
	z, err1 := strconv.Atoi(r.PathValue("z"))
	x, err2 := strconv.Atoi(r.PathValue("x"))
	y, err3 := strconv.Atoi(r.PathValue("y"))
	if err1 != nil || err2 != nil || err3 != nil || z < 0 || z > 28 || x < 0 || y < 0 || x >= 1<<z || y >= 1<<z {
		httpError(w, http.StatusBadRequest, "a tile is /api/tiles/Z/X/Y with whole numbers in range")
		return
	}
	data, err := s.tiles.tile(r.Context(), z, x, y)
	if err == nil && data == nil {
		httpError(w, http.StatusNotFound, "no tile there")
		return
	}
	if err != nil {
		httpError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", tileTypes[s.tiles.format])
	w.Header().Set("Cache-Control", "private, max-age=3600")
	w.Write(data)
}
