package main

import (
	"archive/zip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func needOgrinfo(t *testing.T) string {
	t.Helper()
	ogr, err := exec.LookPath("ogrinfo")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("ogrinfo (gdal-bin) is not installed, and CI is set: .ci/run must install it")
		}
		t.Skip("SKIPPED, NOT PASSED: ogrinfo (Debian gdal-bin) is not installed")
	}
	return ogr
}

// exportHome is a project with the river fixtures and one photo.
func exportHome(t *testing.T) string {
	t.Helper()
	home := filepath.Join(t.TempDir(), "h")
	mustFS(t, "--home", home, "init", "river")
	mustFS(t, "--home", home, "import", "../../fixtures/riverbasin.geojsonl", "--durability", "os")
	photos, _ := filepath.Glob("../../fixtures/photos/*.jpg")
	mustFS(t, "--home", home, "observe", "--lat", "-3.1", "--lon", "-60.2", "--tag", "category=mining", "--attach", photos[0], "--durability", "os")
	return home
}

// TestExportsOpenInGDAL: GeoJSON, CSV and GeoPackage exports open in
// ogrinfo with the right count, extent and tag columns.
func TestExportsOpenInGDAL(t *testing.T) {
	ogr := needOgrinfo(t)
	home := exportHome(t)
	dir := t.TempDir()
	extent := regexp.MustCompile(`Extent: \((-?[0-9.]+), (-?[0-9.]+)\) - \((-?[0-9.]+), (-?[0-9.]+)\)`)
	for _, tc := range []struct {
		format, file string
		args         []string
	}{
		{"geojson", "r.geojson", nil},
		{"csv", "r.csv", []string{"-oo", "GEOM_POSSIBLE_NAMES=wkt", "-oo", "KEEP_GEOM_COLUMNS=NO"}},
		{"gpkg", "r.gpkg", nil},
	} {
		path := filepath.Join(dir, tc.file)
		mustFS(t, "--home", home, "export", tc.format, "-o", path)
		args := append([]string{"-so", "-al"}, tc.args...)
		out, err := exec.Command(ogr, append(args, path)...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: ogrinfo: %v\n%s", tc.format, err, out)
		}
		s := string(out)
		if !strings.Contains(s, "Feature Count: 301") {
			t.Errorf("%s: count:\n%s", tc.format, s)
		}
		m := extent.FindStringSubmatch(s)
		if m == nil || m[1] != "-63.086392" || m[2] != "-3.155607" || m[3] != "-60.025555" || m[4] != "-0.705983" {
			t.Errorf("%s: extent %v", tc.format, m)
		}
		for _, col := range []string{"category", "species", "people", "fieldsync:id"} {
			if tc.format == "csv" && col == "fieldsync:id" {
				col = "id"
			}
			if !strings.Contains(s, "\n"+col+": ") {
				t.Errorf("%s: no column %q:\n%s", tc.format, col, s)
			}
		}
	}
	// A filtered export, to standard output.
	code, out, _ := fs(t, "", "--home", home, "export", "geojson", "--tag", "category=mining", "-o", "-")
	if code != 0 || !strings.HasPrefix(out, `{"type":"FeatureCollection"`) || strings.Contains(out, `"category":"fire"`) {
		t.Fatalf("export -o -: exit %d: %.200s", code, out)
	}
}

func TestExportBadInputWritesNothing(t *testing.T) {
	home := exportHome(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"export", "kml", "-o", filepath.Join(dir, "x.kml")}, "unknown format"},
		{[]string{"export", "geojson", "-o", filepath.Join(dir, "no", "such", "dir", "x.geojson")}, "cannot write"},
		{[]string{"export", "gpkg", "-o", "-"}, "written to a file"},
		{[]string{"export", "geojson"}, "-o FILE"},
		{[]string{"export", "geojson", "--bbox", "1,2,3", "-o", filepath.Join(dir, "x.geojson")}, "bbox"},
		{[]string{"verify", filepath.Join(dir, "none.zip")}, "no such file"},
	} {
		code, _, errs := fs(t, "", append([]string{"--home", home}, tc.args...)...)
		if code != exitUsage || !strings.Contains(errs, tc.want) || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
			t.Errorf("%v: exit %d, stderr %q", tc.args, code, errs)
		}
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("a refused export left %v", left)
	}
	// Not a zip, and a tampered bundle: one line each, exit 2 and 1.
	notZip := filepath.Join(dir, "n.zip")
	os.WriteFile(notZip, []byte("not a zip"), 0o644)
	if code, _, errs := fs(t, "", "verify", notZip); code != exitUsage || !strings.Contains(errs, "not a zip") || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
		t.Fatalf("verify not-a-zip: exit %d %q", code, errs)
	}
	// A zip bomb (256 MiB of zeros) and a bundle of a newer format.
	bomb := filepath.Join(dir, "bomb.zip")
	f, _ := os.Create(bomb)
	zw := zip.NewWriter(f)
	w, _ := zw.Create("observations.geojson")
	zero := make([]byte, 1<<20)
	for range 256 {
		w.Write(zero)
	}
	zw.Close()
	f.Close()
	newer := filepath.Join(dir, "newer.zip")
	f, _ = os.Create(newer)
	zw = zip.NewWriter(f)
	w, _ = zw.Create("MANIFEST.json")
	w.Write([]byte(`{"format":"fieldsync-evidence/3"}`))
	zw.Close()
	f.Close()
	for path, want := range map[string]string{bomb: "zip bomb", newer: "newer"} {
		if code, _, errs := fs(t, "", "verify", path); code != exitUsage || !strings.Contains(errs, want) || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
			t.Fatalf("verify %s: exit %d %q", filepath.Base(path), code, errs)
		}
	}
}

// TestEvidenceExportVerifies: the CLI's bundle verifies; one changed byte
// in it does not.
func TestEvidenceExportVerifies(t *testing.T) {
	home := exportHome(t)
	dir := t.TempDir()
	bundle := filepath.Join(dir, "ev.zip")
	mustFS(t, "--home", home, "export", "evidence", "--tag", "category=mining", "-o", bundle)
	out := mustFS(t, "verify", bundle)
	if !strings.Contains(out, "verified") || !strings.Contains(out, "1 attachment(s)") {
		t.Fatalf("verify: %s", out)
	}
	if !strings.Contains(out, "EXPORTED BY") {
		t.Fatalf("verify does not show the exporter: %s", out)
	}
	code, out, _ := fs(t, "", "verify", bundle, "--json")
	if code != 0 || !strings.Contains(out, `"ok":true`) {
		t.Fatalf("verify --json: %d %s", code, out)
	}
	// Extracted to a folder, it verifies the same.
	zr0, err := zip.OpenReader(bundle)
	if err != nil {
		t.Fatal(err)
	}
	folder := filepath.Join(dir, "extracted")
	for _, zf := range zr0.File {
		rc, _ := zf.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		os.MkdirAll(filepath.Dir(filepath.Join(folder, zf.Name)), 0o755)
		os.WriteFile(filepath.Join(folder, zf.Name), b, 0o644)
	}
	zr0.Close()
	if out := mustFS(t, "verify", folder); !strings.Contains(out, "container: folder") {
		t.Fatalf("verify a folder: %s", out)
	}
	// A polygon selection records the polygon itself.
	area := filepath.Join(dir, "area.geojson")
	os.WriteFile(area, []byte(`{"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[[[-70,-10],[-50,-10],[-50,10],[-70,10],[-70,-10]]]}}`), 0o644)
	within := filepath.Join(dir, "within.zip")
	mustFS(t, "--home", home, "export", "evidence", "--within", area, "-o", within)
	os.Remove(area)
	if out := mustFS(t, "verify", within); !strings.Contains(out, `entirely inside the area {"coordinates":[[[-70,-10]`) {
		t.Fatalf("verify --within bundle: %s", out)
	}
	// Change one tag in the observations (same length, recompressed).
	zr, err := zip.OpenReader(bundle)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.zip")
	f, _ := os.Create(bad)
	zw := zip.NewWriter(f)
	for _, zf := range zr.File {
		rc, _ := zf.Open()
		full, _ := io.ReadAll(rc)
		rc.Close()
		if zf.Name == "observations.geojson" {
			full = []byte(strings.Replace(string(full), `"category":"mining"`, `"category":"mininG"`, 1))
		}
		w, _ := zw.Create(zf.Name)
		w.Write(full)
	}
	zr.Close()
	zw.Close()
	f.Close()
	code, _, errs := fs(t, "", "verify", bad)
	if code != 1 || !strings.Contains(errs, "observations.geojson") || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
		t.Fatalf("tampered bundle: exit %d %q", code, errs)
	}
}

// TestExportMediaListsMissing: attachments not on this device are listed,
// never skipped silently; an evidence export refuses them.
func TestExportMediaListsMissing(t *testing.T) {
	team := newTeam(t, "alice", "bob")
	a, b := team[0], team[1]
	photos, _ := filepath.Glob("../../fixtures/photos/*.jpg")
	a.must("observe", "--lat", "-3", "--lon", "-60", "--attach", photos[0])
	srv := a.serve()
	if code, _, errs := b.sync("--peer", srv.addr(), "--no-media"); code != 0 {
		t.Fatal(errs)
	}
	srv.stop(t)
	media := filepath.Join(t.TempDir(), "media")
	code, out, errs := b.cli("export", "geojson", "-o", filepath.Join(t.TempDir(), "x.geojson"), "--media", media)
	if code != 0 || !strings.Contains(errs, "missing: ") || !strings.Contains(out, "not on this device") {
		t.Fatalf("export --media: exit %d\n%s\n%s", code, out, errs)
	}
	if _, err := os.Stat(filepath.Join(media, "missing.json")); err != nil {
		t.Fatal("no missing.json")
	}
	ev := filepath.Join(t.TempDir(), "ev.zip")
	if code, _, errs := b.cli("export", "evidence", "-o", ev); code == 0 || !strings.Contains(errs, "not on this device") {
		t.Fatalf("evidence with missing photos: exit %d %s", code, errs)
	}
	if _, err := os.Stat(ev); err == nil {
		t.Fatal("a refused evidence export left a file")
	}
	// --allow-missing makes it, listing the photo; verify shows it.
	if code, _, errs := b.cli("export", "evidence", "--allow-missing", "-o", ev); code != 0 || !strings.Contains(errs, "MISSING") {
		t.Fatalf("evidence --allow-missing: exit %d %s", code, errs)
	}
	if code, out, errs := b.cli("verify", ev); code != 0 || !strings.Contains(out, "MISSING: 1 attachment") {
		t.Fatalf("verify: exit %d %s %s", code, out, errs)
	}
}
