package export

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/geo"
	"github.com/fieldsync/fieldsync/hypercore"
	"github.com/fieldsync/fieldsync/observations/index"
	"github.com/fieldsync/fieldsync/observations/project"
	"github.com/fieldsync/fieldsync/observations/record"
)

// team is a project on two devices, ana and ben, synced by copying their
// cores: ana wrote 20 observations (two with photos), ben 5 (one with a
// photo ana does not have), ben edited ana's a-03, ana edited a-06 and
// deleted a-04.
type team struct {
	ana, ben       *project.Project
	anaKey, benKey ed25519.PrivateKey
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, e os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if e.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// syncCores copies from's cores into to (all, or only the data cores).
func syncCores(t *testing.T, from, to *project.Project, media bool) {
	t.Helper()
	dirs, err := from.CoreDirs()
	if err != nil {
		t.Fatal(err)
	}
	mediaKey := from.OwnCoreKey(record.KindMedia)
	for key, dir := range dirs {
		if key == mediaKey && !media || key == to.OwnCoreKey(record.KindData) || key == to.OwnCoreKey(record.KindMedia) {
			continue
		}
		dst := to.CoreDir(key)
		os.RemoveAll(dst)
		copyDir(t, dir, dst)
	}
}

func point(lon, lat float64) *geo.Geometry {
	g, _ := geo.NewPoint(lon, lat, nil)
	return &g
}

func newTeam(t *testing.T) *team {
	t.Helper()
	dir := t.TempDir()
	ha, err := project.OpenHome(filepath.Join(dir, "ana"))
	if err != nil {
		t.Fatal(err)
	}
	ana, err := ha.Create("river", "ana")
	if err != nil {
		t.Fatal(err)
	}
	hb, _ := project.OpenHome(filepath.Join(dir, "ben"))
	ben, err := hb.Join("river", ana.Key, "ben")
	if err != nil {
		t.Fatal(err)
	}
	tm := &team{ana: ana, ben: ben}
	tm.anaKey, _ = ha.Identity()
	tm.benKey, _ = hb.Identity()
	for i := range 20 {
		g := point(-60-float64(i)/10, -3+float64(i)/20)
		if i == 5 {
			pg, _ := geo.Parse([]byte(`{"type":"Polygon","coordinates":[[[-61,-2],[-60.5,-2],[-60.5,-1.5],[-61,-2]]]}`))
			g = &pg
		}
		o := &record.Observation{ID: fmt.Sprintf("a-%02d", i), Created: fmt.Sprintf("2026-03-%02dT10:00:00Z", i+1), Updated: fmt.Sprintf("2026-03-%02dT10:00:00Z", i+1), Geometry: g,
			Tags: map[string]record.Tag{"category": record.String([]string{"mining", "fire"}[i%2]), "n": record.Number(float64(i)), "ok": record.Bool(i%3 == 0)}}
		var files []project.File
		if i < 2 {
			files = []project.File{{Name: "photo.JPG", Data: append([]byte{0xff, 0xd8, 0xff}, bytes.Repeat([]byte{byte(i + 1)}, 70000)...)}}
		}
		if _, err := ana.Write(o, files, hypercore.DurabilityOS); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		o := &record.Observation{ID: fmt.Sprintf("b-%02d", i), Created: fmt.Sprintf("2026-04-%02dT10:00:00Z", i+1), Updated: fmt.Sprintf("2026-04-%02dT10:00:00Z", i+1), Geometry: point(-59, -2-float64(i)/10),
			Tags: map[string]record.Tag{"category": record.String("mining")}}
		var files []project.File
		if i == 0 {
			files = []project.File{{Name: "river.png", Data: bytes.Repeat([]byte{9}, 1000)}}
		}
		if _, err := ben.Write(o, files, hypercore.DurabilityOS); err != nil {
			t.Fatal(err)
		}
	}
	syncCores(t, ana, ben, true)
	if _, err := ben.Edit("a-03", func(o *record.Observation) error {
		o.Tags["category"] = record.String("logging")
		o.Updated = "2026-05-01T10:00:00Z"
		return nil
	}, nil, hypercore.DurabilityOS); err != nil {
		t.Fatal(err)
	}
	if _, err := ana.Edit("a-06", func(o *record.Observation) error {
		o.Tags["n"] = record.Number(66)
		o.Updated = "2026-05-02T10:00:00Z"
		return nil
	}, nil, hypercore.DurabilityOS); err != nil {
		t.Fatal(err)
	}
	if _, err := ana.Delete("a-04", hypercore.DurabilityOS); err != nil {
		t.Fatal(err)
	}
	syncCores(t, ben, ana, false) // ben's media core stays on ben's phone
	return tm
}

func exportTo(t *testing.T, p *project.Project, key ed25519.PrivateKey, sel Selection, allowMissing bool, path string) (*EvidenceResult, error) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return WriteEvidence(context.Background(), f, p, key, EvidenceOptions{Selection: sel, AllowMissing: allowMissing})
}

// teamBundle is ana's bundle of every live observation (ben's photo is
// missing: allowed).
func teamBundle(t *testing.T, tm *team, sel Selection) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bundle.zip")
	if _, err := exportTo(t, tm.ana, tm.anaKey, sel, true, path); err != nil {
		t.Fatal(err)
	}
	return path
}

func verify(path string) (*VerifyResult, error) {
	return Verify(context.Background(), path, VerifyOptions{})
}

func TestEvidenceRoundTrip(t *testing.T) {
	tm := newTeam(t)
	// Without --allow-missing ben's photo stops the export.
	res, err := exportTo(t, tm.ana, tm.anaKey, Selection{}, false, filepath.Join(t.TempDir(), "x.zip"))
	if !errors.Is(err, ErrMissingAttachments) || len(res.Missing) != 1 || res.Missing[0].Name != "river.png" {
		t.Fatalf("missing photo: %v %+v", err, res)
	}
	path := teamBundle(t, tm, Selection{})
	v, err := verify(path)
	if err != nil {
		t.Fatal(err)
	}
	// 25 written, a-04 deleted.
	if v.Observations != 24 || v.Attachments != 2 || len(v.Missing) != 1 || len(v.Authors) != 2 || v.Exporter.Name != "ana" {
		t.Fatalf("result %+v", v)
	}
	files := zipFiles(t, path)
	geo := string(files[geojsonName])
	for _, want := range []string{`"category":"logging"`, `"fieldsync:author":"ben","fieldsync:created":"2026-03-04T10:00:00Z"`, `"fieldsync:originalAuthor":"ana"`, `"fieldsync:versions":2`, `"n":66`} {
		if !strings.Contains(geo, want) {
			t.Errorf("observations.geojson lacks %s", want)
		}
	}
	if strings.Contains(geo, `"a-04"`) {
		t.Error("the deleted a-04 is in the bundle")
	}
	if checkRFC7946(t, files[geojsonName]) != 24 {
		t.Error("not 24 features")
	}
	report := string(files[reportName])
	if !strings.Contains(report, "1 photo(s) or file(s) are MISSING") || !strings.Contains(report, hex.EncodeToString(tm.anaKey.Public().(ed25519.PublicKey))) {
		t.Error("the report does not show the missing photo or the exporter's key")
	}
	var jpg bool
	zr, _ := zip.OpenReader(path)
	for _, f := range zr.File {
		if strings.HasPrefix(f.Name, mediaDir) && strings.HasSuffix(f.Name, ".jpg") {
			jpg = true
		}
		if f.Modified.Year() < 2020 {
			t.Errorf("%s is dated %v", f.Name, f.Modified)
		}
	}
	zr.Close()
	if !jpg {
		t.Error("no media/<sha256>.jpg")
	}
	// With deleted ones: a-04 comes as deleted.
	v, err = verify(teamBundle(t, tm, Selection{Deleted: true}))
	if err != nil || v.Observations != 25 || v.Deleted != 1 {
		t.Fatalf("with deleted: %v %+v", err, v)
	}
}

// TestEvidenceSelectsWhatTheIndexSelects: for each kind of condition the
// bundle holds exactly the observations list would show.
func TestEvidenceSelectsWhatTheIndexSelects(t *testing.T) {
	tm := newTeam(t)
	x, err := index.Open(tm.ana.IndexPath())
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	dirs, _ := tm.ana.CoreDirs()
	if _, err := x.Update(context.Background(), dirs); err != nil {
		t.Fatal(err)
	}
	poly, _ := geo.Parse([]byte(`{"type":"Polygon","coordinates":[[[-61.5,-3.5],[-60.2,-3.5],[-60.2,-1],[-61.5,-1],[-61.5,-3.5]]]}`))
	sels := map[string]Selection{
		"tag":    {Tags: map[string]record.Tag{"category": record.String("mining")}},
		"bbox":   {BBox: &[4]float64{-60.55, -3, -59, -2}},
		"near":   {Near: &Near{Lat: -2.5, Lon: -60, Radius: 60000}},
		"within": {Within: &poly},
		"time":   {Since: "2026-03-05T00:00:00Z", Until: "2026-04-03T00:00:00Z"},
		"all":    {Deleted: true, Tags: map[string]record.Tag{"ok": record.Bool(true)}},
	}
	for name, sel := range sels {
		t.Run(name, func(t *testing.T) {
			f, err := sel.Filter()
			if err != nil {
				t.Fatal(err)
			}
			items, err := x.Query(f, 0)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, it := range items {
				want = append(want, it.Version)
			}
			sort.Strings(want)
			path := teamBundle(t, tm, sel)
			if _, err := verify(path); err != nil {
				t.Fatal(err)
			}
			var fc struct {
				Features []struct {
					Properties map[string]any `json:"properties"`
				} `json:"features"`
			}
			json.Unmarshal(zipFiles(t, path)[geojsonName], &fc)
			var got []string
			for _, f := range fc.Features {
				got = append(got, f.Properties[PropVersion].(string))
			}
			sort.Strings(got)
			if len(want) == 0 || strings.Join(got, " ") != strings.Join(want, " ") {
				t.Fatalf("bundle %v, index %v", got, want)
			}
		})
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

// zipBytes writes files as a zip the way a plain zip tool would (sorted,
// deflated, no extras).
func zipBytes(files map[string][]byte) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range sortedKeys(files) {
		w, _ := zw.Create(name)
		w.Write(files[name])
	}
	zw.Close()
	return buf.Bytes()
}

// signer re-signs a manifest after an attack: nobody (the manifest is
// left as it is), a stranger with a fresh key, or a real member of the
// project (ben), as exporter.
type signer struct {
	name string
	key  ed25519.PrivateKey
	log  string
	dev  string
}

func (s *signer) resign(t *testing.T, files map[string][]byte) {
	t.Helper()
	if s.key == nil {
		return
	}
	var m Manifest
	if err := json.Unmarshal(files[manifestName], &m); err != nil {
		return // the attack broke the manifest: leave it
	}
	m.Files = map[string]string{}
	for name, b := range files {
		if name != manifestName && name != signatureName {
			sum := sha256.Sum256(b)
			m.Files[name] = hex.EncodeToString(sum[:])
		}
	}
	m.Exporter.Identity = hex.EncodeToString(s.key.Public().(ed25519.PublicKey))
	if s.log != "" {
		m.Exporter.Log, m.Exporter.Name = s.log, s.dev
		// The report states the exporter: rewrite it too, as an attacker
		// with fieldsync's code would.
		lines := strings.Split(string(files[reportName]), "\n")
		for i, l := range lines {
			if strings.HasPrefix(l, "<p>Exported by") {
				lines[i] = fmt.Sprintf(`<p>Exported by <b>%s</b>, identity key <code>%s</code>: the device whose signed record is block 0 of log <code>%s</code> in this bundle (named &#34;%s&#34; there).</p>`, s.dev, m.Exporter.Identity, s.log, s.dev)
			}
		}
		files[reportName] = []byte(strings.Join(lines, "\n"))
		sum := sha256.Sum256(files[reportName])
		m.Files[reportName] = hex.EncodeToString(sum[:])
	}
	man, _ := json.MarshalIndent(m, "", "  ")
	man = append(man, '\n')
	files[manifestName] = man
	files[signatureName] = []byte(hex.EncodeToString(ed25519.Sign(s.key, append([]byte(manifestDomain), man...))) + "\n")
}

// logLines edits the blocks of a log.
func logLines(files map[string][]byte, core string, fn func(lines [][]byte) [][]byte) {
	name := logsDir + core + blocksExt
	lines := bytes.Split(bytes.TrimSuffix(files[name], []byte("\n")), []byte("\n"))
	lines = fn(lines)
	files[name] = append(bytes.Join(lines, []byte("\n")), '\n')
}

func editManifest(t *testing.T, files map[string][]byte, fn func(m *Manifest)) {
	var m Manifest
	if err := json.Unmarshal(files[manifestName], &m); err != nil {
		t.Fatal(err)
	}
	fn(&m)
	man, _ := json.MarshalIndent(m, "", "  ")
	files[manifestName] = append(man, '\n')
}

func featureLine(files map[string][]byte, id string) (int, []string) {
	lines := strings.Split(string(files[geojsonName]), "\n")
	for i, l := range lines {
		if strings.Contains(l, `"id":"`+id+`"`) {
			return i, lines
		}
	}
	return -1, lines
}

func TestTamperedBundlesAreRefused(t *testing.T) {
	tm := newTeam(t)
	good := teamBundle(t, tm, Selection{})
	if _, err := verify(good); err != nil {
		t.Fatalf("the untouched bundle: %v", err)
	}
	anaLog := hex.EncodeToString(func() []byte { k := tm.ana.OwnCoreKey(record.KindData); return k[:] }())
	benLog := hex.EncodeToString(func() []byte { k := tm.ben.OwnCoreKey(record.KindData); return k[:] }())
	// Another project's bundle, to copy from.
	other := newTeam(t)
	otherFiles := zipFiles(t, teamBundle(t, other, Selection{}))
	// An older version of a-06 and the last live version of a-04.
	h6, _ := tm.ana.History("a-06")
	h4, _ := tm.ana.History("a-04")
	oldFeature := func(h *record.History, i int) string {
		var old []record.Version
		for _, v := range h.Versions {
			if v.ID != h.Current.ID {
				old = append(old, v)
			}
		}
		v := old[i]
		f, _ := Feature(&Record{Version: v.ID, Author: "ana", Obs: v.Obs, OriginalAuthor: "ana", Versions: len(h.Versions)})
		return string(f)
	}
	media := ""
	for name := range zipFiles(t, good) {
		if strings.HasPrefix(name, mediaDir) {
			media = name
		}
	}
	replaceIn := func(name, old, new string) func(t *testing.T, f map[string][]byte) {
		return func(t *testing.T, f map[string][]byte) {
			if !bytes.Contains(f[name], []byte(old)) {
				t.Fatalf("%s lacks %q", name, old)
			}
			f[name] = bytes.Replace(f[name], []byte(old), []byte(new), 1)
		}
	}
	_, stranger, _ := ed25519.GenerateKey(nil)
	signers := []signer{{name: "not re-signed"}, {name: "re-signed by a stranger", key: stranger}, {name: "re-signed by ben, a member", key: tm.benKey, log: benLog, dev: "ben"}}

	type tcase struct {
		name   string
		mutate func(t *testing.T, f map[string][]byte)
		after  func(t *testing.T, f map[string][]byte) // an attack on the manifest's text, after re-signing
		sign   bool                                    // sign the manifest again after it
		raw    func(b []byte) []byte                   // an attack on the zip's bytes, after re-signing
		want   string                                  // in the message when re-signed by a member
	}
	cases := []tcase{
		// The 13 of evidence v1.
		{name: "a tag value", mutate: replaceIn(geojsonName, `"category":"fire"`, `"category":"logging"`), want: geojsonName},
		{name: "a coordinate", mutate: replaceIn(geojsonName, `[-60.1,-2.95]`, `[-60.2,-2.95]`), want: "should be observation a-01"},
		{name: "a timestamp", mutate: replaceIn(geojsonName, `"fieldsync:created":"2026-03-08T10:00:00Z"`, `"fieldsync:created":"2026-02-08T10:00:00Z"`), want: "a-07"},
		{name: "a photo byte", mutate: func(t *testing.T, f map[string][]byte) { f[media][100] ^= 1 }, want: "is not the attachment"},
		{name: "a head signature byte", mutate: func(t *testing.T, f map[string][]byte) {
			editManifest(t, f, func(m *Manifest) { m.Logs[0].Signature = m.Logs[0].Signature[:10] + "00" + m.Logs[0].Signature[12:] })
		}, want: "signature of its head"},
		{name: "a tree hash", mutate: func(t *testing.T, f map[string][]byte) {
			editManifest(t, f, func(m *Manifest) { m.Logs[1].TreeHash = strings.Repeat("ab", 32) })
		}, want: "tree hash"},
		{name: "a signed block", mutate: func(t *testing.T, f map[string][]byte) {
			logLines(f, anaLog, func(l [][]byte) [][]byte {
				b, _ := base64.StdEncoding.DecodeString(string(l[3]))
				if !bytes.Contains(b, []byte(`"mining"`)) {
					t.Fatalf("block 3 is %s", b)
				}
				b = bytes.Replace(b, []byte(`"mining"`), []byte(`"fire"`), 1)
				l[3] = []byte(base64.StdEncoding.EncodeToString(b))
				return l
			})
		}, want: "tree hash"},
		{name: "a removed file", mutate: func(t *testing.T, f map[string][]byte) { delete(f, media) }, want: "MANIFEST.json does not list it as missing"},
		{name: "an added file", mutate: func(t *testing.T, f map[string][]byte) { f["notes.txt"] = []byte("trust me") }, want: "no file a bundle has"},
		{name: "swapped attachments", mutate: func(t *testing.T, f map[string][]byte) {
			var names []string
			for n := range f {
				if strings.HasPrefix(n, mediaDir) {
					names = append(names, n)
				}
			}
			f[names[0]], f[names[1]] = f[names[1]], f[names[0]]
		}, want: "is not the attachment"},
		{name: "a feature copied from another bundle", mutate: func(t *testing.T, f map[string][]byte) {
			i, lines := featureLine(otherFiles, "a-10")
			f[geojsonName] = bytes.Replace(f[geojsonName], []byte("\n]}"), []byte(",\n"+strings.TrimSuffix(lines[i], ",")+"\n]}"), 1)
		}, want: "after the 24 observations"},
		{name: "the manifest's signature", after: func(t *testing.T, f map[string][]byte) {
			f[signatureName][0] = "10"[min(1, int(f[signatureName][0]-'0'))]
		}, want: "does not verify"},
		{name: "the manifest's observation count", mutate: replaceIn(manifestName, `"observations": 24`, `"observations": 25`), want: "says 25 observations"},
		// Exporter-signed content never checked before.
		{name: "report.html shows another category", mutate: replaceIn(reportName, `category=fire`, `category=mining`), want: "report.html: line"},
		{name: "report.html hides the missing photo", mutate: replaceIn(reportName, `MISSING: river.png`, `river.png`), want: "report.html: line"},
		{name: "VERIFY.md rewritten", mutate: replaceIn(verifyName, "nothing the selection matches", "most of what the selection matches"), want: "VERIFY.md: is not the text"},
		{name: "observations.geojson with a second features key", mutate: func(t *testing.T, f map[string][]byte) {
			f[geojsonName] = bytes.Replace(f[geojsonName], []byte(`{"type":"FeatureCollection",`), []byte(`{"type":"FeatureCollection","features":[],`), 1)
		}, want: geojsonName},
		{name: "observations.geojson with a made-up member", mutate: func(t *testing.T, f map[string][]byte) {
			f[geojsonName] = bytes.Replace(f[geojsonName], []byte("\n]}"), []byte("\n],\"verified\":true}"), 1)
		}, want: "after the 24 observations"},
		{name: "an older version shown as current", mutate: func(t *testing.T, f map[string][]byte) {
			i, lines := featureLine(f, "a-06")
			lines[i] = oldFeature(h6, 0) + strings.Repeat(",", strings.Count(lines[i][len(lines[i])-1:], ","))
			f[geojsonName] = []byte(strings.Join(lines, "\n"))
		}, want: "should be observation a-06"},
		{name: "a deleted observation shown as live", mutate: func(t *testing.T, f map[string][]byte) {
			f[geojsonName] = bytes.Replace(f[geojsonName], []byte("\n]}"), []byte(",\n"+oldFeature(h4, 0)+"\n]}"), 1)
		}, want: "after the 24 observations"},
		{name: "the selection rewritten", mutate: func(t *testing.T, f map[string][]byte) {
			editManifest(t, f, func(m *Manifest) { m.Selection.Tags = map[string]record.Tag{"category": record.String("mining")} })
		}, want: "should be observation"},
		{name: "the project renamed in the manifest only", mutate: replaceIn(manifestName, `"project": "river"`, `"project": "lake"`), want: "report.html: line"},
		// Omission.
		{name: "an observation left out", mutate: func(t *testing.T, f map[string][]byte) {
			i, lines := featureLine(f, "a-09")
			f[geojsonName] = []byte(strings.Join(append(lines[:i:i], lines[i+1:]...), "\n"))
			editManifest(t, f, func(m *Manifest) { m.Observations-- })
		}, want: "should be observation a-09"},
		{name: "an observation and its photo left out", mutate: func(t *testing.T, f map[string][]byte) {
			i, lines := featureLine(f, "a-00")
			f[geojsonName] = []byte(strings.Join(append(lines[:i:i], lines[i+1:]...), "\n"))
			for n := range f {
				if strings.HasPrefix(n, mediaDir) && bytes.Contains(f[n], bytes.Repeat([]byte{1}, 100)) {
					delete(f, n)
				}
			}
			editManifest(t, f, func(m *Manifest) { m.Observations--; m.Attachments-- })
		}, want: "should be observation a-00"},
		{name: "a log cut short", mutate: func(t *testing.T, f map[string][]byte) {
			logLines(f, benLog, func(l [][]byte) [][]byte { return l[:len(l)-1] })
		}, want: "holds"},
		{name: "a log without its head", mutate: func(t *testing.T, f map[string][]byte) {
			editManifest(t, f, func(m *Manifest) { m.Logs = m.Logs[:1] })
		}, want: "no signed head"},
		{name: "a log's file removed", mutate: func(t *testing.T, f map[string][]byte) { delete(f, logsDir+benLog+blocksExt) }, want: "missing"},
		{name: "a forged block appended to a log", mutate: func(t *testing.T, f map[string][]byte) {
			logLines(f, anaLog, func(l [][]byte) [][]byte { return append(l, l[3]) })
		}, want: "holds"},
		{name: "a log's manifest swapped for another core's", mutate: func(t *testing.T, f map[string][]byte) {
			var om Manifest
			json.Unmarshal(otherFiles[manifestName], &om)
			editManifest(t, f, func(m *Manifest) { m.Logs[0].Manifest = om.Logs[0].Manifest })
		}, want: "does not hash to its key"},
		{name: "a block line with a carriage return", mutate: func(t *testing.T, f map[string][]byte) {
			logLines(f, anaLog, func(l [][]byte) [][]byte { l[2] = append(l[2], '\r'); return l })
		}, want: "not one block in base64"},
		// Who exported it.
		{name: "the exporter's name changed", after: func(t *testing.T, f map[string][]byte) {
			editManifest(t, f, func(m *Manifest) { m.Exporter.Name += " (lawyer)" })
		}, sign: true, want: "exporter.name"},
		{name: "the exporter's log pointing nowhere", after: func(t *testing.T, f map[string][]byte) {
			editManifest(t, f, func(m *Manifest) { m.Exporter.Log = strings.Repeat("00", 32) })
		}, sign: true, want: "is not one of the bundle's logs"},
		{name: "the exporter claiming another member's log", after: func(t *testing.T, f map[string][]byte) {
			editManifest(t, f, func(m *Manifest) {
				for _, l := range m.Logs {
					if l.Core != m.Exporter.Log {
						m.Exporter.Log = l.Core
						return
					}
				}
			})
		}, sign: true, want: "whoever signed it is not that device"},
		// Missing photos.
		{name: "a present photo listed as missing", mutate: func(t *testing.T, f map[string][]byte) {
			editManifest(t, f, func(m *Manifest) {
				m.Missing = append(m.Missing, MissingAttachment{Observation: "a-00", Name: "photo.JPG", SHA256: strings.TrimSuffix(strings.TrimPrefix(media, mediaDir), ".jpg"), Size: 70003, Type: "image/jpeg"})
			})
		}, want: "as missing"},
		{name: "the missing list emptied", mutate: func(t *testing.T, f map[string][]byte) {
			editManifest(t, f, func(m *Manifest) { m.Missing = nil })
		}, want: "does not list it as missing"},
		{name: "a photo renamed without its extension", mutate: func(t *testing.T, f map[string][]byte) {
			f[strings.TrimSuffix(media, ".jpg")] = f[media]
			delete(f, media)
		}, want: ""},
		// The manifest's own form.
		{name: "a key twice in MANIFEST.json", after: func(t *testing.T, f map[string][]byte) {
			f[manifestName] = bytes.Replace(f[manifestName], []byte(`"project": "river",`), []byte(`"project": "river", "project": "lake",`), 1)
		}, sign: true, want: "appears twice"},
		{name: "an unknown member in MANIFEST.json", after: func(t *testing.T, f map[string][]byte) {
			f[manifestName] = bytes.Replace(f[manifestName], []byte(`"project": "river",`), []byte(`"project": "river", "verifiedBy": "court",`), 1)
		}, sign: true, want: "unknown field"},
		{name: "MANIFEST.sig in capitals", after: func(t *testing.T, f map[string][]byte) {
			f[signatureName] = bytes.ToUpper(f[signatureName])
		}, want: "lowercase hex"},
		{name: "MANIFEST.sig with trailing spaces", after: func(t *testing.T, f map[string][]byte) {
			f[signatureName] = append(bytes.TrimSuffix(f[signatureName], []byte("\n")), []byte("  \r\n")...)
		}, want: "lowercase hex"},
		// The container.
		{name: "HTML prepended (a polyglot)", raw: func(b []byte) []byte { return append([]byte("<html><script>alert(1)</script>"), b...) }, want: "polyglot"},
		{name: "bytes appended", raw: func(b []byte) []byte { return append(b, []byte("<html>hidden</html>")...) }, want: "polyglot"},
		{name: "a zip comment", raw: func(b []byte) []byte {
			b = append(b, []byte("see evidence.html")...)
			binary.LittleEndian.PutUint16(b[len(b)-17-2:], 17)
			return b
		}, want: "comment"},
		{name: "an entry comment", raw: func(b []byte) []byte { return rezip(b, func(fh *zip.FileHeader) { fh.Comment = "edited" }) }, want: "comment"},
		{name: "a symbolic link", raw: func(b []byte) []byte {
			return rezip(b, func(fh *zip.FileHeader) {
				if fh.Name == verifyName {
					fh.SetMode(os.ModeSymlink | 0o777)
				}
			})
		}, want: "symbolic link"},
		{name: "an odd extra field", raw: func(b []byte) []byte {
			return rezip(b, func(fh *zip.FileHeader) { fh.Extra = []byte{0x99, 0x99, 3, 0, 'a', 'b', 'c'} })
		}, want: "extra field"},
		{name: "a second copy of a file", raw: func(b []byte) []byte {
			return rezip(b, nil, verifyName)
		}, want: "twice"},
	}
	if len(cases) < 30 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, tc := range cases {
		for _, s := range signers {
			t.Run(tc.name+"/"+s.name, func(t *testing.T) {
				files := zipFiles(t, good)
				if tc.mutate != nil {
					tc.mutate(t, files)
				}
				s.resign(t, files)
				if tc.after != nil {
					tc.after(t, files)
					if tc.sign && s.key != nil {
						files[signatureName] = []byte(hex.EncodeToString(ed25519.Sign(s.key, append([]byte(manifestDomain), files[manifestName]...))) + "\n")
					}
				}
				b := zipBytes(files)
				if tc.raw != nil {
					b = tc.raw(b)
				}
				path := filepath.Join(t.TempDir(), "bad.zip")
				os.WriteFile(path, b, 0o644)
				_, err := verify(path)
				if !errors.Is(err, ErrTampered) {
					t.Fatalf("not refused: %v", err)
				}
				var ve *VerifyError
				if !errors.As(err, &ve) || ve.Reason == "" {
					t.Fatalf("no file or reason: %v", err)
				}
				if s.log != "" && tc.want != "" && !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("refused, but the message does not say %q: %v", tc.want, err)
				}
				t.Logf("refused: %v", err)
			})
		}
	}
}

// rezip rewrites a zip entry by entry, changing headers with fn and
// writing the entries named in twice a second time.
func rezip(b []byte, fn func(fh *zip.FileHeader), twice ...string) []byte {
	zr, _ := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File {
		rc, _ := f.Open()
		data, _ := io.ReadAll(rc)
		rc.Close()
		for range 1 + count(twice, f.Name) {
			fh := f.FileHeader
			if fn != nil {
				fn(&fh)
			}
			w, _ := zw.CreateHeader(&fh)
			w.Write(data)
		}
	}
	zw.Close()
	return buf.Bytes()
}

func count(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

// TestEvidenceContainers: a re-zipped bundle, a bundle zipped inside a
// folder, an extracted folder all verify; a folder with a link does not;
// the files an operating system adds need --lenient-container.
func TestEvidenceContainers(t *testing.T) {
	tm := newTeam(t)
	good := teamBundle(t, tm, Selection{})
	files := zipFiles(t, good)
	dir := t.TempDir()
	// Re-zipped by another tool: other order, stored, directory entries,
	// Unix extra fields.
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	zw.CreateHeader(&zip.FileHeader{Name: "logs/"})
	zw.CreateHeader(&zip.FileHeader{Name: "media/"})
	names := sortedKeys(files)
	sort.Sort(sort.Reverse(sort.StringSlice(names)))
	for _, n := range names {
		fh := &zip.FileHeader{Name: n, Method: zip.Store, Extra: []byte{0x75, 0x78, 11, 0, 1, 4, 0xe8, 3, 0, 0, 4, 0xe8, 3, 0, 0}}
		w, _ := zw.CreateHeader(fh)
		w.Write(files[n])
	}
	zw.Close()
	rezipped := filepath.Join(dir, "rezipped.zip")
	os.WriteFile(rezipped, buf.Bytes(), 0o644)
	if _, err := verify(rezipped); err != nil {
		t.Fatalf("re-zipped: %v", err)
	}
	// Zipped as a folder.
	inFolder := map[string][]byte{}
	for n, b := range files {
		inFolder["evidence/"+n] = b
	}
	folderZip := filepath.Join(dir, "folder.zip")
	os.WriteFile(folderZip, zipBytes(inFolder), 0o644)
	if res, err := verify(folderZip); err != nil || !strings.Contains(res.Container, "evidence") {
		t.Fatalf("zipped in a folder: %v", err)
	}
	// Extracted.
	ext := filepath.Join(dir, "extracted")
	for n, b := range files {
		os.MkdirAll(filepath.Dir(filepath.Join(ext, n)), 0o755)
		os.WriteFile(filepath.Join(ext, n), b, 0o644)
	}
	if _, err := verify(ext); err != nil {
		t.Fatalf("extracted: %v", err)
	}
	os.WriteFile(filepath.Join(ext, ".DS_Store"), []byte("junk"), 0o644)
	if _, err := verify(ext); !errors.Is(err, ErrTampered) {
		t.Fatalf(".DS_Store in strict mode: %v", err)
	}
	if res, err := Verify(context.Background(), ext, VerifyOptions{LenientContainer: true}); err != nil || !strings.Contains(res.Container, ".DS_Store") {
		t.Fatalf(".DS_Store, lenient: %v %+v", err, res)
	}
	os.Remove(filepath.Join(ext, ".DS_Store"))
	os.Remove(filepath.Join(ext, verifyName))
	if err := os.Symlink(filepath.Join(dir, "elsewhere"), filepath.Join(ext, verifyName)); err == nil {
		if _, err := verify(ext); !errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), "symbolic link") {
			t.Fatalf("a link: %v", err)
		}
	}
	// An odd extra field passes only leniently.
	odd := filepath.Join(dir, "odd.zip")
	os.WriteFile(odd, rezip(mustRead(t, good), func(fh *zip.FileHeader) { fh.Extra = []byte{0x99, 0x99, 0, 0} }), 0o644)
	if _, err := Verify(context.Background(), odd, VerifyOptions{LenientContainer: true}); err != nil {
		t.Fatalf("odd extra, lenient: %v", err)
	}
	// A polyglot never verifies, even leniently.
	poly := filepath.Join(dir, "poly.zip")
	os.WriteFile(poly, append([]byte("%PDF-1.4\n"), mustRead(t, good)...), 0o644)
	if _, err := Verify(context.Background(), poly, VerifyOptions{LenientContainer: true}); !errors.Is(err, ErrTampered) {
		t.Fatalf("polyglot, lenient: %v", err)
	}
}

func mustRead(t *testing.T, path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEvidenceStopsOnCancel: export and verify stop with the context.
func TestEvidenceStopsOnCancel(t *testing.T) {
	tm := newTeam(t)
	good := teamBundle(t, tm, Selection{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Verify(ctx, good, VerifyOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("verify: %v", err)
	}
	if _, err := WriteEvidence(ctx, io.Discard, tm.ana, tm.anaKey, EvidenceOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("export: %v", err)
	}
}

func TestVerifyRefusesWhatIsNotABundle(t *testing.T) {
	dir := t.TempDir()
	notZip := filepath.Join(dir, "a.zip")
	os.WriteFile(notZip, []byte("hello"), 0o644)
	if _, err := verify(notZip); !errors.Is(err, ErrNotBundle) {
		t.Fatalf("not a zip: %v", err)
	}
	// A zip bomb: 512 MiB of zeros compress to ~0.5 MiB.
	bomb := filepath.Join(dir, "bomb.zip")
	f, _ := os.Create(bomb)
	zw := zip.NewWriter(f)
	w, _ := zw.Create(geojsonName)
	zero := make([]byte, 1<<20)
	for range 512 {
		w.Write(zero)
	}
	zw.Close()
	f.Close()
	if _, err := verify(bomb); !errors.Is(err, ErrNotBundle) || !strings.Contains(err.Error(), "bomb") {
		t.Fatalf("zip bomb: %v", err)
	}
	for _, format := range []string{"fieldsync-evidence/3", "fieldsync-evidence/1"} {
		files := map[string][]byte{manifestName: []byte(`{"format":"` + format + `"}`)}
		path := filepath.Join(dir, "f.zip")
		os.WriteFile(path, zipBytes(files), 0o644)
		if _, err := verify(path); !errors.Is(err, ErrNotBundle) || !strings.Contains(err.Error(), format) {
			t.Fatalf("format %s: %v", format, err)
		}
	}
}

// FuzzVerify: no bundle bytes make Verify panic.
func FuzzVerify(f *testing.F) {
	f.Add(zipBytes(map[string][]byte{manifestName: []byte(`{"format":"fieldsync-evidence/2"}`), signatureName: []byte("00\n")}))
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(t.TempDir(), "f.zip")
		os.WriteFile(path, b, 0o644)
		verify(path)
	})
}
