package export

import (
	"archive/zip"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
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
	if _, err := x.Update(dirs); err != nil {
		t.Fatal(err)
	}
	id, err := h.Identity()
	if err != nil {
		t.Fatal(err)
	}
	return p, x, id
}

// bundle writes an evidence bundle of every observation of the fixture.
func bundle(t *testing.T, p *project.Project, x *index.Index, id ed25519.PrivateKey, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := WriteEvidence(f, p, x, &query.Filter{}, id, map[string]any{"all": true}); err != nil {
		t.Fatal(err)
	}
	f.Close()
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

// zipFiles reads every file of a zip.
func zipFiles(t *testing.T, path string) map[string][]byte {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	out := map[string][]byte{}
	for _, f := range zr.File {
		rc, _ := f.Open()
		out[f.Name], _ = io.ReadAll(rc)
		rc.Close()
	}
	return out
}

func writeZip(t *testing.T, path string, files map[string][]byte) {
	t.Helper()
	f, _ := os.Create(path)
	zw := zip.NewWriter(f)
	for name, b := range files {
		w, _ := zw.Create(name)
		w.Write(b)
	}
	zw.Close()
	f.Close()
}

// resign recomputes the manifest's hashes and signs it with another key:
// an attacker covering their tracks. The deeper checks must still fail.
func resign(t *testing.T, files map[string][]byte) {
	t.Helper()
	var m Manifest
	json.Unmarshal(files[manifestName], &m)
	m.Files = map[string]string{}
	for name, b := range files {
		if name != manifestName && name != signatureName {
			sum := sha256.Sum256(b)
			m.Files[name] = hex.EncodeToString(sum[:])
		}
	}
	pub, key, _ := ed25519.GenerateKey(nil)
	m.Exporter.Identity = hex.EncodeToString(pub)
	man, _ := json.MarshalIndent(m, "", "  ")
	files[manifestName] = man
	files[signatureName] = []byte(hex.EncodeToString(ed25519.Sign(key, append([]byte(manifestDomain), man...))))
}

// firstWith is the first file name with prefix whose bytes contain sub.
func firstWith(files map[string][]byte, prefix, sub string) string {
	for name, b := range files {
		if strings.HasPrefix(name, prefix) && bytes.Contains(b, []byte(sub)) {
			return name
		}
	}
	return ""
}

// mutateProof changes the decoded proof of a proof file with fn and
// re-encodes it.
func mutateProof(t *testing.T, b []byte, fn func(wire []byte, pf *ProofFile)) []byte {
	t.Helper()
	var pf ProofFile
	json.Unmarshal(b, &pf)
	wire, _ := base64.StdEncoding.DecodeString(pf.Proof)
	fn(wire, &pf)
	pf.Proof = base64.StdEncoding.EncodeToString(wire)
	out, _ := json.MarshalIndent(pf, "", "  ")
	return out
}

func TestTamperedBundlesAreRejected(t *testing.T) {
	p, x, id := fixture(t, "a")
	dir := t.TempDir()
	good := filepath.Join(dir, "good.zip")
	bundle(t, p, x, id, good)
	res, err := Verify(good)
	if err != nil {
		t.Fatalf("the untouched bundle: %v", err)
	}
	if res.Observations != 20 || res.Attachments != 2 || len(res.Authors) != 1 || res.Earliest != "2026-03-01T10:00:00Z" {
		t.Fatalf("result %+v", res)
	}
	// Another project's bundle, to copy a feature from.
	p2, x2, id2 := fixture(t, "b")
	other := filepath.Join(dir, "other.zip")
	bundle(t, p2, x2, id2, other)
	otherFiles := zipFiles(t, other)

	replaceIn := func(name, old, new string) func(map[string][]byte) {
		return func(f map[string][]byte) {
			if !bytes.Contains(f[name], []byte(old)) {
				t.Fatalf("%s lacks %q", name, old)
			}
			f[name] = bytes.Replace(f[name], []byte(old), []byte(new), 1)
		}
	}
	photo := ""
	for name := range zipFiles(t, good) {
		if strings.HasPrefix(name, mediaDir) {
			photo = name
		}
	}
	cases := []struct {
		name   string
		mutate func(map[string][]byte)
		deep   bool // also with the manifest recomputed and re-signed
	}{
		{"a tag value", replaceIn("observations.geojson", `"category":"fire"`, `"category":"logging"`), true},
		{"a coordinate", replaceIn("observations.geojson", `[-60.1,-2.95]`, `[-60.2,-2.95]`), true},
		{"a timestamp", replaceIn("observations.geojson", `"fieldsync:created":"2026-03-04T10:00:00Z"`, `"fieldsync:created":"2026-02-04T10:00:00Z"`), true},
		{"a photo byte", func(f map[string][]byte) { f[photo][100] ^= 1 }, true},
		{"a signature byte", func(f map[string][]byte) {
			name := firstWith(f, proofsDir, "a-03")
			f[name] = mutateProof(t, f[name], func(wire []byte, pf *ProofFile) {
				sig, _ := hex.DecodeString(pf.Signature)
				i := bytes.Index(wire, sig)
				if i < 0 {
					t.Fatal("signature not in the wire proof")
				}
				wire[i+10] ^= 1
			})
		}, true},
		{"a proof node", func(f map[string][]byte) {
			name := firstWith(f, proofsDir, "a-07")
			f[name] = mutateProof(t, f[name], func(wire []byte, pf *ProofFile) {
				h, _ := hex.DecodeString(pf.Nodes[0].Hash)
				i := bytes.Index(wire, h)
				if i < 0 {
					t.Fatal("node not in the wire proof")
				}
				wire[i] ^= 1
			})
		}, true},
		{"the readable signature field", func(f map[string][]byte) {
			name := firstWith(f, proofsDir, "a-08")
			var pf ProofFile
			json.Unmarshal(f[name], &pf)
			f[name] = bytes.Replace(f[name], []byte(pf.Signature[:8]), []byte("00000000"), 1)
		}, true},
		{"a removed file", func(f map[string][]byte) { delete(f, firstWith(f, proofsDir, "a-09")) }, false},
		{"an added file", func(f map[string][]byte) { f["notes.txt"] = []byte("trust me") }, false},
		{"a swapped attachment", func(f map[string][]byte) {
			var names []string
			for n := range f {
				if strings.HasPrefix(n, mediaDir) {
					names = append(names, n)
				}
			}
			f[names[0]], f[names[1]] = f[names[1]], f[names[0]]
		}, true},
		{"a feature copied from another bundle", func(f map[string][]byte) {
			feat := bytes.SplitN(bytes.SplitN(otherFiles["observations.geojson"], []byte("\n"), 3)[1], []byte("\n"), 2)[0]
			feat = bytes.TrimSuffix(feat, []byte(","))
			var head struct{ ID string }
			json.Unmarshal(feat, &head)
			f["observations.geojson"] = bytes.Replace(f["observations.geojson"], []byte("\n]}"), append(append([]byte(",\n"), feat...), []byte("\n]}")...), 1)
			f[proofsDir+head.ID+".json"] = otherFiles[proofsDir+head.ID+".json"]
			for n, b := range otherFiles {
				if strings.HasPrefix(n, devicesDir) {
					f[n] = b
				}
			}
		}, false},
		{"the manifest's signature", func(f map[string][]byte) { f[signatureName][0] ^= 1 }, false},
		{"the manifest's observation count", replaceIn(manifestName, `"observations": 20`, `"observations": 21`), false},
	}
	for _, tc := range cases {
		for _, deep := range []bool{false, true} {
			if deep && !tc.deep {
				continue
			}
			name := tc.name
			if deep {
				name += " (manifest re-signed)"
			}
			t.Run(name, func(t *testing.T) {
				files := zipFiles(t, good)
				tc.mutate(files)
				if deep {
					resign(t, files)
				}
				path := filepath.Join(t.TempDir(), "bad.zip")
				writeZip(t, path, files)
				_, err := Verify(path)
				if !errors.Is(err, ErrTampered) {
					t.Fatalf("not rejected: %v", err)
				}
				t.Logf("rejected: %v", err)
			})
		}
	}
	// The other bundle on its own is fine.
	if _, err := Verify(other); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyRefusesWhatIsNotABundle(t *testing.T) {
	dir := t.TempDir()
	notZip := filepath.Join(dir, "a.zip")
	os.WriteFile(notZip, []byte("hello"), 0o644)
	if _, err := Verify(notZip); !errors.Is(err, ErrNotBundle) {
		t.Fatalf("not a zip: %v", err)
	}
	// A zip bomb: 512 MiB of zeros compress to ~0.5 MiB.
	bomb := filepath.Join(dir, "bomb.zip")
	f, _ := os.Create(bomb)
	zw := zip.NewWriter(f)
	w, _ := zw.Create("observations.geojson")
	zero := make([]byte, 1<<20)
	for range 512 {
		w.Write(zero)
	}
	zw.Close()
	f.Close()
	if _, err := Verify(bomb); !errors.Is(err, ErrNotBundle) || !strings.Contains(err.Error(), "bomb") {
		t.Fatalf("zip bomb: %v", err)
	}
	// A newer format.
	p, x, id := fixture(t, "a")
	good := filepath.Join(dir, "good.zip")
	bundle(t, p, x, id, good)
	files := zipFiles(t, good)
	files[manifestName] = bytes.Replace(files[manifestName], []byte(BundleFormat), []byte("fieldsync-evidence/2"), 1)
	newer := filepath.Join(dir, "newer.zip")
	writeZip(t, newer, files)
	if _, err := Verify(newer); !errors.Is(err, ErrNotBundle) || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("newer format: %v", err)
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
