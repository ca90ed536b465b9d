package web

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/export"
	"github.com/fieldsync/fieldsync/fixtures"
	"github.com/fieldsync/fieldsync/geo"
	"github.com/fieldsync/fieldsync/hypercore"
	"github.com/fieldsync/fieldsync/observations"
	"github.com/fieldsync/fieldsync/observations/index"
	"github.com/fieldsync/fieldsync/observations/project"
	"github.com/fieldsync/fieldsync/observations/query"
	"github.com/fieldsync/fieldsync/observations/record"
)

// world is a project holding the river-basin fixture and one observation
// with a photo, edited once, with its index built.
type world struct {
	p       *observations.Project
	h       *project.Home
	x       *index.Index
	photoID string
	photo   []byte
}

func newWorld(t *testing.T, extra []byte) *world {
	t.Helper()
	h, err := project.OpenHome(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p, err := h.Create("river", "base")
	if err != nil {
		t.Fatal(err)
	}
	in := append(fixtures.RiverBasin(), extra...)
	if _, err := p.ImportFeatures(context.Background(), bytes.NewReader(in), "recorded", hypercore.DurabilityOS, nil); err != nil {
		t.Fatal(err)
	}
	photo := fixtures.Photos()["stumps.jpg"]
	g, _ := geo.Parse([]byte(`{"type":"Point","coordinates":[-60.0,-3.1]}`))
	o := &record.Observation{ID: project.NewID(), Created: project.Now(), Updated: project.Now(), Geometry: &g,
		Tags: map[string]record.Tag{"category": record.String("illegal-logging"), "notes": record.String("Fresh stumps by the landing")}}
	if _, err := p.Write(o, []project.File{{Name: "stumps.jpg", Data: photo}}, hypercore.DurabilityOS); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Edit(o.ID, func(o *record.Observation) error {
		o.Tags["notes"] = record.String("Fresh stumps by the landing, 12 trees")
		return nil
	}, nil, hypercore.DurabilityOS); err != nil {
		t.Fatal(err)
	}
	x, err := index.Open(p.IndexPath())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Close() })
	dirs, err := p.CoreDirs()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x.Update(context.Background(), dirs); err != nil {
		t.Fatal(err)
	}
	return &world{p: &observations.Project{Project: p, Home: h, Durability: hypercore.DurabilityOS}, h: h, x: x, photoID: o.ID, photo: photo}
}

func (w *world) server(t *testing.T, cfg Config) *httptest.Server {
	t.Helper()
	cfg.Project, cfg.Index = w.p, w.x
	if cfg.Identity == nil {
		id, err := w.h.Identity()
		if err != nil {
			t.Fatal(err)
		}
		cfg.Identity = id
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(func() { ts.Close(); s.Close() })
	return ts
}

func get(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

type featureCollection struct {
	Count    int  `json:"count"`
	Clusters bool `json:"clustered"`
	Features []struct {
		ID         string         `json:"id"`
		Properties map[string]any `json:"properties"`
	} `json:"features"`
}

func ids(t *testing.T, body []byte) []string {
	t.Helper()
	var fc featureCollection
	if err := json.Unmarshal(body, &fc); err != nil {
		t.Fatalf("not GeoJSON: %v: %.200s", err, body)
	}
	var out []string
	for _, f := range fc.Features {
		out = append(out, f.ID)
	}
	slices.Sort(out)
	return out
}

// The API's filters are list's: the same ids as index.Query with the
// filter list builds from the same words.
func TestFiltersMatchList(t *testing.T) {
	w := newWorld(t, nil)
	ts := w.server(t, Config{})
	bbox, _ := geo.ParseBBox("-62,-3,-61,-1")
	center, _ := geo.ParseLatLon("-2.28,-61.32")
	radius, _ := geo.ParseDistance("30km")
	since, _ := query.ParseTime("2026-02-01")
	until, _ := query.ParseTime("2026-04-01")
	for _, c := range []struct {
		params string
		f      query.Filter
	}{
		{"", query.Filter{}},
		{"bbox=-62,-3,-61,-1", query.Filter{BBox: &bbox}},
		{"near=-2.28,-61.32&radius=30km", query.Filter{Near: &geo.Circle{Center: center, Radius: radius}}},
		{"since=2026-02-01", query.Filter{Since: since}},
		{"since=2026-02-01&until=2026-04-01", query.Filter{Since: since, Until: until}},
		{"tag=category=mining", query.Filter{Tags: map[string]record.Tag{"category": record.String("mining")}}},
		{"tag=category=mining&tag=dredges=3", query.Filter{Tags: map[string]record.Tag{"category": record.String("mining"), "dredges": record.Number(3)}}},
		{"tag=category=mining&bbox=-62,-3,-61,-1&since=2026-02-01", query.Filter{BBox: &bbox, Since: since, Tags: map[string]record.Tag{"category": record.String("mining")}}},
	} {
		items, err := w.x.Query(&c.f, 0)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, it := range items {
			o, _ := it.Observation()
			want = append(want, o.ID)
		}
		slices.Sort(want)
		for _, extra := range []string{"", "zoom=12"} {
			q := c.params
			if extra != "" {
				q = strings.TrimPrefix(q+"&"+extra, "&")
			}
			resp, body := get(t, ts.URL+"/api/observations.geojson?"+q)
			if resp.StatusCode != 200 {
				t.Fatalf("%s: %d %s", q, resp.StatusCode, body)
			}
			if got := ids(t, body); !slices.Equal(got, want) {
				t.Errorf("%s: %d ids, list has %d", q, len(got), len(want))
			}
		}
		if c.params != "" && len(want) == 0 {
			t.Errorf("%s selects nothing: a weak test", c.params)
		}
	}
	// The map's own filters: text in a tag, and the device.
	_, body := get(t, ts.URL+"/api/observations.geojson?q=MERCURY")
	got := ids(t, body)
	n := 0
	all, _ := w.x.Query(&query.Filter{}, 0)
	for _, it := range all {
		o, _ := it.Observation()
		if s, ok := o.Tags["notes"].Value().(string); ok && strings.Contains(strings.ToLower(s), "mercury") {
			n++
		}
	}
	if n == 0 || len(got) != n {
		t.Errorf("q=MERCURY: %d, want %d", len(got), n)
	}
	_, body = get(t, ts.URL+"/api/observations.geojson?device=base")
	if got := ids(t, body); len(got) != len(all) {
		t.Errorf("device=base: %d of %d", len(got), len(all))
	}
	_, body = get(t, ts.URL+"/api/observations.geojson?device=nobody")
	if got := ids(t, body); len(got) != 0 {
		t.Errorf("device=nobody: %d", len(got))
	}
	for _, bad := range []string{"bbox=1,2,3", "near=1,2", "since=yesterday", "zoom=99", "color=red", "tag=novalue"} {
		if resp, _ := get(t, ts.URL+"/api/observations.geojson?"+bad); resp.StatusCode != 400 {
			t.Errorf("%s: %d, want 400", bad, resp.StatusCode)
		}
	}
}

// At low zoom many observations come as clusters whose counts add up.
func TestClusters(t *testing.T) {
	var extra bytes.Buffer
	for i := range 1500 {
		fmt.Fprintf(&extra, `{"type":"Feature","geometry":{"type":"Point","coordinates":[%f,%f]},"properties":{"category":"bulk","i":%d}}`+"\n", -60-float64(i%50)/10, -3+float64(i/50)/10, i)
	}
	w := newWorld(t, extra.Bytes())
	ts := w.server(t, Config{})
	total, _, _, _, _ := w.x.Counts()
	_, body := get(t, ts.URL+"/api/observations.geojson?zoom=3")
	var fc featureCollection
	json.Unmarshal(body, &fc)
	sum, clusters := 0, 0
	for _, f := range fc.Features {
		if n, ok := f.Properties["fieldsync:cluster"].(float64); ok {
			sum += int(n)
			clusters++
		} else {
			sum++
		}
	}
	if !fc.Clusters || fc.Count != total || sum != total || clusters == 0 || len(fc.Features) > 200 {
		t.Errorf("zoom 3: clustered %v, count %d, %d features (%d clusters) adding to %d; want %d", fc.Clusters, fc.Count, len(fc.Features), clusters, sum, total)
	}
	// A new observation is in the next answer (the envelopes kept are renewed).
	g, _ := geo.Parse([]byte(`{"type":"Point","coordinates":[10,10]}`))
	if _, err := w.p.Write(&record.Observation{ID: project.NewID(), Created: project.Now(), Updated: project.Now(), Geometry: &g, Tags: map[string]record.Tag{}}, nil, hypercore.DurabilityOS); err != nil {
		t.Fatal(err)
	}
	dirs, _ := w.p.CoreDirs()
	if _, err := w.x.Update(context.Background(), dirs); err != nil {
		t.Fatal(err)
	}
	total++
	_, body = get(t, ts.URL+"/api/observations.geojson?zoom=3")
	fc = featureCollection{}
	json.Unmarshal(body, &fc)
	if fc.Count != total {
		t.Errorf("after a new observation: count %d, want %d", fc.Count, total)
	}
	_, body = get(t, ts.URL+"/api/observations.geojson?zoom=17")
	if got := ids(t, body); len(got) != total {
		t.Errorf("zoom 17: %d features, want every one of %d", len(got), total)
	}
}

func TestObservationAndMedia(t *testing.T) {
	w := newWorld(t, nil)
	ts := w.server(t, Config{})
	resp, body := get(t, ts.URL+"/api/observations/"+w.photoID)
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	var o struct {
		ID       string
		Current  string
		Versions []struct {
			Version, Author string
			Head, Current   bool
			Record          record.Observation
		}
	}
	json.Unmarshal(body, &o)
	if len(o.Versions) != 2 || o.Versions[0].Author != "base" || !o.Versions[0].Current || o.Versions[1].Head {
		t.Errorf("versions: %+v", o.Versions)
	}
	// The index's history is the one read from the cores.
	fromCores, err := w.p.History(w.photoID)
	if err != nil {
		t.Fatal(err)
	}
	fromIndex, err := w.x.History(w.photoID)
	if err != nil || fromIndex == nil || fromIndex.Current.ID != fromCores.Current.ID || len(fromIndex.Versions) != len(fromCores.Versions) || len(fromIndex.Heads) != len(fromCores.Heads) {
		t.Errorf("index history %+v (%v), cores %+v", fromIndex, err, fromCores)
	}
	if resp, _ := get(t, ts.URL+"/api/observations/nosuchid"); resp.StatusCode != 404 {
		t.Errorf("unknown id: %d", resp.StatusCode)
	}
	resp, body = get(t, ts.URL+"/api/media/"+w.photoID+"/stumps.jpg")
	if resp.StatusCode != 200 || !bytes.Equal(body, w.photo) || resp.Header.Get("Content-Type") != "image/jpeg" || resp.Header.Get("X-Checked-SHA256") == "" {
		t.Errorf("photo: %d, %d bytes (want %d), %s", resp.StatusCode, len(body), len(w.photo), resp.Header.Get("Content-Type"))
	}
	if resp, _ := get(t, ts.URL+"/api/media/"+w.photoID+"/other.jpg"); resp.StatusCode != 404 {
		t.Errorf("unknown attachment: %d", resp.StatusCode)
	}
}

// rawRequest sends bytes as they are, so no client cleans the path.
func rawRequest(t *testing.T, addr, req string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	io.WriteString(c, req)
	b, _ := io.ReadAll(c)
	line, _, _ := strings.Cut(string(b), "\r\n")
	return line
}

func TestRefusals(t *testing.T) {
	w := newWorld(t, nil)
	ts := w.server(t, Config{})
	addr := strings.TrimPrefix(ts.URL, "http://")
	secret := filepath.Join(filepath.Dir(w.p.IndexPath()), "project.json")
	if _, err := os.Stat(secret); err != nil {
		t.Logf("no %s: traversal target is the index", secret)
	}
	for _, path := range []string{
		"/../../../../etc/passwd", "/vendor/../../web.go", "/%2e%2e/%2e%2e/etc/passwd", "/vendor/..%2f..%2fweb.go",
		"/api/media/" + w.photoID + "/..%2f..%2f..%2fproject.json", "/api/media/" + w.photoID + "/..%5c..%5cproject.json",
		"/static/app.js", "/api/../web.go",
	} {
		line := rawRequest(t, addr, "GET "+path+" HTTP/1.1\r\nHost: "+addr+"\r\nConnection: close\r\n\r\n")
		if strings.Contains(line, " 200 ") {
			t.Errorf("GET %s: %s", path, line)
		}
	}
	// Not read-only: refused.
	for _, m := range []string{"POST", "PUT", "DELETE", "PATCH"} {
		req, _ := http.NewRequest(m, ts.URL+"/api/observations.geojson", strings.NewReader("{}"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s: %d", m, resp.StatusCode)
		}
	}
	// A body on a GET, a long address, huge headers.
	line := rawRequest(t, addr, "GET /api/status HTTP/1.1\r\nHost: "+addr+"\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
	if !strings.Contains(line, " 413 ") {
		t.Errorf("GET with a body: %s", line)
	}
	if resp, _ := get(t, ts.URL+"/api/observations.geojson?q="+strings.Repeat("a", 10000)); resp.StatusCode != http.StatusRequestURITooLong {
		t.Errorf("long URL: %d", resp.StatusCode)
	}
	// Headers past the limit, against the real server settings.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, _ := New(Config{Project: w.p, Index: w.x, Loopback: true})
	ctx, cancel := contextWithCancel()
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, s) }()
	defer func() { cancel(); <-done }()
	big := "GET /api/status HTTP/1.1\r\nHost: " + ln.Addr().String() + "\r\nX-Big: " + strings.Repeat("b", 2<<20) + "\r\nConnection: close\r\n\r\n"
	if line := rawRequest(t, ln.Addr().String(), big); !strings.Contains(line, " 431 ") {
		t.Errorf("2 MB of headers: %q", line)
	}
	// A loopback server refuses other host names (DNS rebinding).
	if line := rawRequest(t, ln.Addr().String(), "GET /api/status HTTP/1.1\r\nHost: evil.example:80\r\nConnection: close\r\n\r\n"); !strings.Contains(line, " 421 ") {
		t.Errorf("Host evil.example: %q", line)
	}
	if line := rawRequest(t, ln.Addr().String(), "GET /api/status HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"); !strings.Contains(line, " 200 ") {
		t.Errorf("Host localhost: %q", line)
	}
}

func TestHeadersAndPassword(t *testing.T) {
	w := newWorld(t, nil)
	ts := w.server(t, Config{Password: "correct horse"})
	resp, _ := get(t, ts.URL+"/")
	if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "Basic") {
		t.Errorf("no password: %d", resp.StatusCode)
	}
	for _, pw := range []string{"wrong", "correct horse"} {
		req, _ := http.NewRequest("GET", ts.URL+"/", nil)
		req.SetBasicAuth("anyone", pw)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := 401
		if pw == "correct horse" {
			want = 200
			if !bytes.Contains(body, []byte("leaflet.js")) {
				t.Errorf("the page: %.100s", body)
			}
		}
		if resp.StatusCode != want {
			t.Errorf("password %q: %d, want %d", pw, resp.StatusCode, want)
		}
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") ||
			resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("headers: %v", resp.Header)
		}
	}
	for _, c := range []struct {
		addr string
		want bool
	}{{"127.0.0.1:80", true}, {"[::1]:0", true}, {"localhost:8080", true}, {"0.0.0.0:8080", false}, {":8080", false}, {"192.168.1.5:80", false}} {
		if got := IsLoopback(c.addr); got != c.want {
			t.Errorf("IsLoopback(%s) = %v", c.addr, got)
		}
	}
}

// The page's files are embedded, and it names nothing off the server.
func TestPageIsSelfContained(t *testing.T) {
	w := newWorld(t, nil)
	ts := w.server(t, Config{})
	for _, path := range []string{"/", "/app.js", "/app.css", "/vendor/leaflet-1.9.4/leaflet.js", "/vendor/leaflet-1.9.4/leaflet.css", "/vendor/leaflet-1.9.4/LICENSE", "/vendor/world-atlas-2.0.2/land-110m.json", "/vendor/world-atlas-2.0.2/LICENSE"} {
		resp, body := get(t, ts.URL+path)
		if resp.StatusCode != 200 || len(body) == 0 {
			t.Errorf("%s: %d", path, resp.StatusCode)
		}
		if path == "/" || path == "/app.js" || path == "/app.css" {
			for _, off := range []string{"http://", "https://", "//cdn", "//unpkg"} {
				if bytes.Contains(body, []byte(off)) {
					t.Errorf("%s names %s", path, off)
				}
			}
		}
	}
}

func TestExports(t *testing.T) {
	w := newWorld(t, nil)
	ts := w.server(t, Config{})
	resp, body := get(t, ts.URL+"/api/export.geojson?tag=category=mining")
	want, _ := w.x.Query(&query.Filter{Tags: map[string]record.Tag{"category": record.String("mining")}}, 0)
	if resp.StatusCode != 200 || len(ids(t, body)) != len(want) || !strings.Contains(resp.Header.Get("Content-Disposition"), "river.geojson") {
		t.Errorf("geojson: %d, %d features, want %d", resp.StatusCode, len(ids(t, body)), len(want))
	}
	// The stream is byte for byte what export's GeoJSON writer makes (on
	// more than one batch of the parallel encoder).
	var want2 bytes.Buffer
	gw := export.NewGeoJSON(&want2)
	w.x.Each(&query.Filter{}, func(it *index.Item) error {
		o, err := it.Observation()
		if err != nil {
			return err
		}
		return gw.Write(exportRecord(it, o))
	})
	gw.Close()
	if _, got := get(t, ts.URL+"/api/observations.geojson"); !bytes.Equal(got, want2.Bytes()) || len(ids(t, got)) <= streamBatch {
		t.Errorf("the stream differs from export's writer: %d bytes, want %d", len(got), want2.Len())
	}
	if _, got := get(t, ts.URL+"/api/observations.geojson?q=nothing-says-this"); string(got) != "{\"type\":\"FeatureCollection\",\"features\":[\n]}\n" {
		t.Errorf("an empty stream: %q", got)
	}
	resp, body = get(t, ts.URL+"/api/export.gpkg?tag=category=mining")
	if resp.StatusCode != 200 || !bytes.HasPrefix(body, []byte("SQLite format 3\x00")) {
		t.Fatalf("gpkg: %d %.100q", resp.StatusCode, body)
	}
	gp := filepath.Join(t.TempDir(), "x.gpkg")
	os.WriteFile(gp, body, 0o644)
	db, err := sql.Open("sqlite3", gp)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM observations`).Scan(&n); err != nil || n != len(want) {
		t.Errorf("gpkg rows: %d, want %d (%v)", n, len(want), err)
	}
	resp, body = get(t, ts.URL+"/api/export/evidence.zip?bbox=-60.5,-3.5,-59.5,-2.5")
	if resp.StatusCode != 200 {
		t.Fatalf("evidence: %d %s", resp.StatusCode, body)
	}
	zp := filepath.Join(t.TempDir(), "e.zip")
	os.WriteFile(zp, body, 0o644)
	res, err := export.Verify(context.Background(), zp, export.VerifyOptions{})
	if err != nil {
		t.Fatalf("the bundle does not verify: %v", err)
	}
	if res.Observations == 0 || res.Attachments != 1 || res.Selection.BBox == nil || *res.Selection.BBox != [4]float64{-60.5, -3.5, -59.5, -2.5} {
		t.Errorf("bundle: %d observations, %d attachments, selection %v", res.Observations, res.Attachments, res.Selection)
	}
	if resp, _ := get(t, ts.URL+"/api/export/evidence.zip?q=stumps"); resp.StatusCode != 400 {
		t.Errorf("evidence with a text filter: %d", resp.StatusCode)
	}
}

func TestStatusAndTiles(t *testing.T) {
	w := newWorld(t, nil)
	mb := filepath.Join(t.TempDir(), "base.mbtiles")
	db, err := sql.Open("sqlite3", mb)
	if err != nil {
		t.Fatal(err)
	}
	tile := []byte("\x89PNG\r\n\x1a\nnot really")
	for _, q := range []string{`CREATE TABLE metadata (name TEXT, value TEXT)`, `CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB)`,
		`INSERT INTO metadata VALUES ('format','png'),('name','test'),('minzoom','0'),('maxzoom','3')`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	// XYZ 2/1/0 (the northern row) is TMS row 3.
	db.Exec(`INSERT INTO tiles VALUES (2, 1, 3, ?)`, tile)
	db.Close()
	ts := w.server(t, Config{Basemap: mb, Sync: func() *SyncState {
		return &SyncState{Listen: "127.0.0.1:7400", Peers: []SyncPeer{{Key: "ab", Behind: 2}}}
	}})
	resp, body := get(t, ts.URL+"/api/tiles/2/1/0")
	if resp.StatusCode != 200 || !bytes.Equal(body, tile) || resp.Header.Get("Content-Type") != "image/png" {
		t.Errorf("tile: %d %q", resp.StatusCode, body)
	}
	for _, p := range []string{"/api/tiles/2/1/3", "/api/tiles/2/9/0", "/api/tiles/x/1/0"} {
		if resp, _ := get(t, ts.URL+p); resp.StatusCode == 200 {
			t.Errorf("%s: 200", p)
		}
	}
	_, body = get(t, ts.URL+"/api/status")
	var st struct {
		Project      string
		Observations int
		Counter      int
		Devices      []struct {
			Name         string
			Observations int
			ThisDevice   bool
		}
		Sync *SyncState
	}
	json.Unmarshal(body, &st)
	cur, _, _, versions, _ := w.x.Counts()
	if st.Project != "river" || st.Observations != cur || st.Counter != versions || len(st.Devices) != 1 || st.Devices[0].Name != "base" ||
		!st.Devices[0].ThisDevice || st.Sync == nil || len(st.Sync.Peers) != 1 || st.Sync.Peers[0].Behind != 2 {
		t.Errorf("status: %s", body)
	}
	if _, err := New(Config{Project: w.p, Index: w.x, Basemap: filepath.Join(t.TempDir(), "none.mbtiles")}); err == nil {
		t.Error("a missing basemap was accepted")
	}
}

func contextWithCancel() (context.Context, context.CancelFunc) {
	return context.WithCancel(context.Background())
}
