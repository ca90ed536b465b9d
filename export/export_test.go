package export

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/geo"
	"github.com/fieldsync/fieldsync/hypercore"
	"github.com/fieldsync/fieldsync/observations/index"
	"github.com/fieldsync/fieldsync/observations/project"
	"github.com/fieldsync/fieldsync/observations/query"
	"github.com/fieldsync/fieldsync/observations/record"
)

// fixture is a project with observations (one a polygon, two with photos).
func fixture(t *testing.T, name string) (*project.Project, *index.Index, ed25519.PrivateKey) {
	t.Helper()
	h, err := project.OpenHome(filepath.Join(t.TempDir(), name))
	if err != nil {
		t.Fatal(err)
	}
	p, err := h.Create("river", name)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		g, _ := geo.NewPoint(-60-float64(i)/10, -3+float64(i)/20, nil)
		if i == 5 {
			g, _ = geo.Parse([]byte(`{"type":"Polygon","coordinates":[[[-61,-2],[-60.5,-2],[-60.5,-1.5],[-61,-2]]]}`))
		}
		o := &record.Observation{ID: fmt.Sprintf("%s-%02d", name, i), Created: fmt.Sprintf("2026-03-%02dT10:00:00Z", i+1), Updated: fmt.Sprintf("2026-03-%02dT10:00:00Z", i+1), Geometry: &g,
			Tags: map[string]record.Tag{"category": record.String([]string{"mining", "fire"}[i%2]), "n": record.Number(float64(i)), "ok": record.Bool(i%3 == 0)}}
		var files []project.File
		if i < 2 {
			files = []project.File{{Name: "photo.jpg", Data: append([]byte{0xff, 0xd8, 0xff}, bytes.Repeat([]byte{byte(i + 1)}, 70000)...)}}
		}
		if _, err := p.Write(o, files, hypercore.DurabilityOS); err != nil {
			t.Fatal(err)
		}
	}
	x, err := index.Open(p.IndexPath())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Close() })
	dirs, _ := p.CoreDirs()
	if _, err := x.Update(context.Background(), dirs); err != nil {
		t.Fatal(err)
	}
	id, err := h.Identity()
	if err != nil {
		t.Fatal(err)
	}
	return p, x, id
}

// checkRFC7946 is a strict check of our own: a FeatureCollection of
// Features with string ids, valid geometry types, positions of 2 or 3
// finite numbers with lon in [-180, 180] and lat in [-90, 90] (lon first),
// closed rings of at least 4 positions, properties objects, no crs.
func checkRFC7946(t *testing.T, b []byte) int {
	t.Helper()
	var fc map[string]json.RawMessage
	if err := json.Unmarshal(b, &fc); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if string(fc["type"]) != `"FeatureCollection"` || fc["crs"] != nil {
		t.Fatalf("type %s crs %s", fc["type"], fc["crs"])
	}
	var feats []map[string]json.RawMessage
	if err := json.Unmarshal(fc["features"], &feats); err != nil {
		t.Fatal(err)
	}
	var pos func(p []float64)
	pos = func(p []float64) {
		if len(p) < 2 || len(p) > 3 {
			t.Fatalf("position %v", p)
		}
		for _, v := range p {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("position %v", p)
			}
		}
		if p[0] < -180 || p[0] > 180 || p[1] < -90 || p[1] > 90 {
			t.Fatalf("position %v out of range (lon, lat)", p)
		}
	}
	ring := func(r [][]float64) {
		if len(r) < 4 || fmt.Sprint(r[0]) != fmt.Sprint(r[len(r)-1]) {
			t.Fatalf("ring %v not closed or too short", r)
		}
		for _, p := range r {
			pos(p)
		}
	}
	for _, f := range feats {
		var id string
		if string(f["type"]) != `"Feature"` || json.Unmarshal(f["id"], &id) != nil || id == "" {
			t.Fatalf("feature %v", f)
		}
		var props map[string]any
		if json.Unmarshal(f["properties"], &props) != nil || props == nil {
			t.Fatalf("properties %s", f["properties"])
		}
		var g struct {
			Type        string
			Coordinates json.RawMessage
		}
		if err := json.Unmarshal(f["geometry"], &g); err != nil {
			t.Fatal(err)
		}
		switch g.Type {
		case "Point":
			var p []float64
			json.Unmarshal(g.Coordinates, &p)
			pos(p)
		case "LineString", "MultiPoint":
			var ps [][]float64
			json.Unmarshal(g.Coordinates, &ps)
			for _, p := range ps {
				pos(p)
			}
		case "Polygon":
			var rs [][][]float64
			json.Unmarshal(g.Coordinates, &rs)
			for _, r := range rs {
				ring(r)
			}
		default:
			t.Fatalf("geometry type %q", g.Type)
		}
	}
	return len(feats)
}

func TestGeoJSONExportIsStrictRFC7946(t *testing.T) {
	_, x, _ := fixture(t, "a")
	var buf bytes.Buffer
	w := NewGeoJSON(&buf)
	n := 0
	err := x.Each(&query.Filter{}, func(it *index.Item) error {
		o, _ := it.Observation()
		n++
		return w.Write(&Record{Version: record.VersionID(it.Version), Author: it.Author, Obs: o})
	})
	if err != nil || w.Close() != nil {
		t.Fatal(err)
	}
	if got := checkRFC7946(t, buf.Bytes()); got != 20 || n != 20 {
		t.Fatalf("%d features", got)
	}
	if !strings.Contains(buf.String(), `"category":"mining"`) || !strings.Contains(buf.String(), `"fieldsync:author":"a"`) {
		t.Fatal("tags or fields missing")
	}
}

func TestReservedTagPrefix(t *testing.T) {
	g, _ := geo.NewPoint(1, 1, nil)
	o := &record.Observation{Type: "observation", Schema: 1, ID: "x", Created: "2026-01-01T00:00:00Z", Updated: "2026-01-01T00:00:00Z", Geometry: &g,
		Tags: map[string]record.Tag{PropID: record.String("spoof")}}
	if _, err := o.Encode(); !errors.Is(err, record.ErrInvalid) {
		t.Fatalf("a tag named %s was accepted: %v", PropID, err)
	}
}

// TestGeoPackageTagNamedLikeAColumn: tags called fid, GEOM or Category and
// category do not break the GeoPackage export.
func TestGeoPackageTagNamedLikeAColumn(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.gpkg")
	w, err := NewGeoPackage(path, []index.TagColumn{{Name: "fid", Type: "TEXT"}, {Name: "GEOM", Type: "REAL"}, {Name: "Category", Type: "TEXT"}, {Name: "category", Type: "TEXT"}})
	if err != nil {
		t.Fatal(err)
	}
	g, _ := geo.NewPoint(1, 2, nil)
	o := &record.Observation{Type: "observation", Schema: 1, ID: "x", Created: "2026-01-01T00:00:00Z", Updated: "2026-01-01T00:00:00Z", Geometry: &g,
		Tags: map[string]record.Tag{"fid": record.String("a"), "GEOM": record.Number(2), "Category": record.String("b"), "category": record.String("c")}}
	if err := w.Write(&Record{Version: record.NewVersionID([32]byte{1}, 1), Obs: o}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}
