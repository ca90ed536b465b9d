package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInitInviteJoinStatus: two homes, one project, as two teammates would
// set it up from the CLI.
func TestInitInviteJoinStatus(t *testing.T) {
	a, b := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	mustFS(t, "--home", a, "init", "rio-negro", "--device-name", "Maria")
	var inv struct{ Code string }
	if err := json.Unmarshal([]byte(mustFS(t, "--home", a, "invite", "--json")), &inv); err != nil || inv.Code == "" {
		t.Fatalf("invite --json: %v", err)
	}
	// Typed in capitals with spaces: still fine.
	typed := strings.ToUpper(strings.ReplaceAll(inv.Code, "-", " "))
	mustFS(t, "--home", b, "join", typed, "--device-name", "João")

	status := func(home string) statusReport {
		t.Helper()
		var s statusReport
		if err := json.Unmarshal([]byte(mustFS(t, "--home", home, "status", "--json")), &s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	sa, sb := status(a), status(b)
	if sa.Project != "rio-negro" || sb.Project != "rio-negro" || !sa.Default || sa.DiscoveryKey != sb.DiscoveryKey {
		t.Fatalf("status a %+v b %+v", sa, sb)
	}
	if sa.Device.Name != "Maria" || sb.Device.Name != "João" || sa.Device.Identity == sb.Device.Identity {
		t.Fatalf("devices %+v %+v", sa.Device, sb.Device)
	}
	for _, s := range []statusReport{sa, sb} {
		if len(s.Cores) != 2 {
			t.Fatalf("%d cores", len(s.Cores))
		}
		for _, c := range s.Cores {
			want := uint64(0)
			if c.Own == "data" {
				want = 1 // the device record
			}
			if c.Length != want || c.Own == "" {
				t.Fatalf("core %+v", c)
			}
		}
	}
	if sa.Cores[0].Key == sb.Cores[0].Key || sa.Cores[1].Key == sb.Cores[1].Key {
		t.Fatal("two devices share a core")
	}
	for _, f := range []string{filepath.Join(a, "device.key"), filepath.Join(a, "projects", "rio-negro", "project.key")} {
		if st, err := os.Stat(f); err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: mode %v %v", f, st.Mode(), err)
		}
	}
}

func TestProjectCommandErrors(t *testing.T) {
	home := filepath.Join(t.TempDir(), "h")
	mustFS(t, "--home", home, "init", "p1")
	code := mustFS(t, "--home", home, "invite")
	bad := []byte(strings.TrimSpace(code))
	bad[3] ^= 1 // one letter off
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"init", "p1"}, 2, "already exists"},
		{[]string{"init", "a/b"}, 2, "no slashes"},
		{[]string{"join", string(bad)}, 2, "bad join code"},
		{[]string{"join", strings.TrimSpace(code)}, 2, "already has that project"},
		{[]string{"--project", "nope", "status"}, 2, "no such project"},
		{[]string{"init"}, 2, "wrong number of arguments"},
	} {
		c, out, errs := fs(t, "", append([]string{"--home", home}, tc.args...)...)
		if c != tc.code || !strings.Contains(errs, tc.msg) || strings.Count(errs, "\n") != 1 || out != "" {
			t.Errorf("%v: exit %d, stderr %q, stdout %q; want exit %d and %q", tc.args, c, errs, out, tc.code, tc.msg)
		}
	}
	entries, _ := os.ReadDir(filepath.Join(home, "projects"))
	if len(entries) != 1 {
		t.Fatalf("failed commands left %d entries in projects/", len(entries))
	}
	empty := filepath.Join(t.TempDir(), "empty")
	if c, _, errs := fs(t, "", "--home", empty, "status"); c != 2 || !strings.Contains(errs, "fieldsync init NAME") {
		t.Errorf("status without a project: exit %d %q", c, errs)
	}
}

// TestObserveShowMedia: record with tags and a photo, read it back, and
// see that bad input writes nothing.
func TestObserveShowMedia(t *testing.T) {
	home := filepath.Join(t.TempDir(), "h")
	mustFS(t, "--home", home, "init", "p", "--device-name", "Maria")
	photo := filepath.Join(t.TempDir(), "stump.jpg")
	body := strings.Repeat("\xff\xd8 a photo ", 20000) // 220,000 bytes: 4 media blocks
	if err := os.WriteFile(photo, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	var rec struct{ ID, Version string }
	out := mustFS(t, "--home", home, "observe", "--lat", "-3.4653", "--lon", "-62.2159", "--alt", "40", "--accuracy", "5",
		"--tag", "category=illegal-logging", "--tag", "trees=12", "--tag", "confirmed=true", "--tag", "code=007",
		"--notes", "Fresh stumps", "--attach", photo, "--durability", "os", "--json")
	if err := json.Unmarshal([]byte(out), &rec); err != nil || rec.ID == "" || !strings.Contains(rec.Version, "@1") {
		t.Fatalf("observe: %q %v", out, err)
	}
	var show showReport
	if err := json.Unmarshal([]byte(mustFS(t, "--home", home, "show", rec.ID, "--history", "--json")), &show); err != nil {
		t.Fatal(err)
	}
	r := show.Current.Record
	if show.Current.Author != "Maria" || show.Forked || len(show.Versions) != 1 || r.Tags["trees"].Value() != 12.0 ||
		r.Tags["confirmed"].Value() != true || r.Tags["code"].Value() != "007" || r.Tags["notes"].Value() != "Fresh stumps" ||
		len(r.Attachments) != 1 || r.Attachments[0].Blocks != 4 || *r.Accuracy != 5 {
		t.Fatalf("show: %+v", show)
	}
	if g, _ := r.Geometry.MarshalJSON(); string(g) != `{"coordinates":[-62.2159,-3.4653,40],"type":"Point"}` {
		t.Fatalf("geometry %s", g)
	}
	back := filepath.Join(t.TempDir(), "back.jpg")
	mustFS(t, "--home", home, "media", "get", rec.ID, "stump.jpg", "-o", back)
	if b, _ := os.ReadFile(back); string(b) != body {
		t.Fatal("the attachment came back different")
	}

	before := mustFS(t, "--home", home, "status", "--json")
	for _, args := range [][]string{
		{"observe", "--lat", "91", "--lon", "0"},
		{"observe", "--lat", "1", "--lon", "NaN"},
		{"observe", "--lat", "1"},
		{"observe", "--lat", "1", "--lon", "1", "--attach", filepath.Join(t.TempDir(), "missing.jpg")},
		{"observe", "--lat", "1", "--lon", "1", "--tag", "=x"},
		{"observe", "--geometry", photo},
		{"show", "no-such-id"},
		{"media", "get", rec.ID, "other.jpg", "-o", filepath.Join(t.TempDir(), "x")},
	} {
		code, stdout, errs := fs(t, "", append([]string{"--home", home}, args...)...)
		if code != 2 || stdout != "" || strings.Count(errs, "\n") != 1 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, stdout, errs)
		}
	}
	if after := mustFS(t, "--home", home, "status", "--json"); after != before {
		t.Fatalf("refused commands changed the cores:\n%s\n%s", before, after)
	}
}

func TestEditDelete(t *testing.T) {
	home := filepath.Join(t.TempDir(), "h")
	mustFS(t, "--home", home, "init", "p")
	id := strings.TrimSpace(mustFS(t, "--home", home, "observe", "--lat", "1", "--lon", "2", "--tag", "draft=true", "--tag", "category=a", "--durability", "os"))
	mustFS(t, "--home", home, "edit", id, "--lat", "1.5", "--lon", "2.5", "--tag", "category=b", "--untag", "draft", "--durability", "os")
	var show showReport
	json.Unmarshal([]byte(mustFS(t, "--home", home, "show", id, "--history", "--json")), &show)
	r := show.Current.Record
	if len(show.Versions) != 2 || r.Tags["category"].Value() != "b" || r.Tags["draft"].Value() != nil {
		t.Fatalf("after edit: %+v", show)
	}
	if g, _ := r.Geometry.MarshalJSON(); string(g) != `{"coordinates":[2.5,1.5],"type":"Point"}` {
		t.Fatalf("geometry %s", g)
	}
	for _, args := range [][]string{{"edit", id}, {"edit", id, "--untag", "nope"}, {"edit", id, "--lat", "1"}, {"edit", "missing", "--tag", "a=b"}, {"delete", "missing"}} {
		if code, _, errs := fs(t, "", append([]string{"--home", home}, args...)...); code != 2 {
			t.Errorf("%v: exit %d %q", args, code, errs)
		}
	}
	mustFS(t, "--home", home, "delete", id, "--durability", "os")
	json.Unmarshal([]byte(mustFS(t, "--home", home, "show", id, "--json")), &show)
	if !show.Current.Record.Deleted {
		t.Fatal("not deleted")
	}
	if code, _, _ := fs(t, "", "--home", home, "edit", id, "--tag", "a=b"); code != 2 {
		t.Error("edited a deleted observation")
	}
}

// TestImport: a FeatureCollection and line-delimited features import; one
// bad feature imports nothing and is named.
func TestImport(t *testing.T) {
	home := filepath.Join(t.TempDir(), "h")
	mustFS(t, "--home", home, "init", "p")
	dir := t.TempDir()
	fc := `{"type":"FeatureCollection","features":[
		{"type":"Feature","id":7,"geometry":{"type":"Point","coordinates":[-62.2,-3.4]},"properties":{"category":"mining","trees":3,"gone":null}},
		{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]},"properties":{"category":"clearing"}}]}`
	nd := `{"type":"Feature","geometry":{"type":"Point","coordinates":[1,1]},"properties":{}}
{"type":"Feature","geometry":{"type":"LineString","coordinates":[[1,1],[2,2]]},"properties":{"k":[1,"a",true]}}
`
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if out := mustFS(t, "--home", home, "import", write("a.geojson", fc), "--durability", "os"); !strings.Contains(out, "imported 2") {
		t.Fatalf("import: %q", out)
	}
	code, out, errs := fs(t, nd, "--home", home, "import", "-", "--json", "--durability", "os")
	if code != 0 || !strings.Contains(out, `"imported":2`) {
		t.Fatalf("import -: %d %q %q", code, out, errs)
	}
	// --time-property: created from a property.
	timed := `{"type":"Feature","geometry":{"type":"Point","coordinates":[5,5]},"properties":{"when":"2025-12-24"}}`
	if code, _, errs := fs(t, timed, "--home", home, "import", "-", "--time-property", "when", "--durability", "os"); code != 0 {
		t.Fatal(errs)
	}
	var dated []listItem
	json.Unmarshal([]byte(mustFS(t, "--home", home, "list", "--format", "json", "--until", "2026-01-01")), &dated)
	if len(dated) != 1 || dated[0].Record.Created != "2025-12-24T00:00:00Z" {
		t.Fatalf("--time-property: %+v", dated)
	}
	if code, _, _ := fs(t, strings.Replace(timed, "2025-12-24", "Christmas", 1), "--home", home, "import", "-", "--time-property", "when"); code != 2 {
		t.Error("a bad time accepted")
	}
	var st statusReport
	json.Unmarshal([]byte(mustFS(t, "--home", home, "status", "--json")), &st)
	before := mustFS(t, "--home", home, "status", "--json")
	for _, c := range st.Cores {
		if c.Own == "data" && c.Length != 1+2+2+1 {
			t.Fatalf("data core length %d, want the device record and 5 observations", c.Length)
		}
	}
	for _, tc := range []struct{ body, why string }{
		{strings.Replace(fc, "-3.4]", "-93.4]", 1), "feature 0: geometry: coordinates[1]: latitude -93.4"},
		{strings.Replace(fc, `"trees":3`, `"trees":{"a":1}`, 1), `feature 0: property "trees"`},
		{strings.Replace(fc, `[1,1],[0,0]`, `[1,1],[0,1]`, 1), "feature 1: geometry: coordinates[0]: ring is not closed"},
		{nd + `{"type":"Feature","geometry":null,"properties":{}}`, "feature 2: no geometry"},
		{`{"type":"FeatureCollection","features":[]}`, "no features"},
		{`[1,2]`, "not GeoJSON"},
		{nd + "{oops", "feature 2: not JSON"},
	} {
		code, _, errs := fs(t, "", "--home", home, "import", write("bad.geojson", tc.body))
		if code != 2 || !strings.Contains(errs, tc.why) {
			t.Errorf("exit %d, stderr %q; want 2 and %q", code, errs, tc.why)
		}
	}
	if after := mustFS(t, "--home", home, "status", "--json"); after != before {
		t.Fatal("a refused import wrote something")
	}
	if st.Observations.Current != 5 || st.Observations.Versions != 5 {
		t.Fatalf("status counts %+v, want 5 observations", st.Observations)
	}
}

// TestList: the filters and formats of list, on imported features.
func TestList(t *testing.T) {
	home := filepath.Join(t.TempDir(), "h")
	mustFS(t, "--home", home, "init", "p")
	fc := `{"type":"FeatureCollection","features":[
		{"type":"Feature","geometry":{"type":"Point","coordinates":[-62.2159,-3.4653]},"properties":{"category":"mining","n":1}},
		{"type":"Feature","geometry":{"type":"Point","coordinates":[-62.2302,-3.4711]},"properties":{"category":"logging"}},
		{"type":"Feature","geometry":{"type":"Point","coordinates":[179.5,0.5]},"properties":{"category":"mining"}},
		{"type":"Feature","geometry":{"type":"LineString","coordinates":[[-62.3,-3.5],[-62.2,-3.4]]},"properties":{"category":"road"}}]}`
	code, _, errs := fs(t, fc, "--home", home, "import", "-", "--durability", "os")
	if code != 0 {
		t.Fatal(errs)
	}
	count := func(args ...string) int {
		t.Helper()
		var items []listItem
		out := mustFS(t, append([]string{"--home", home, "list", "--format", "json"}, args...)...)
		if err := json.Unmarshal([]byte(out), &items); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return len(items)
	}
	for _, tc := range []struct {
		args []string
		want int
	}{
		{nil, 4},
		{[]string{"--tag", "category=mining"}, 2},
		{[]string{"--tag", "category=mining", "--tag", "n=1"}, 1},
		{[]string{"--bbox", "170,-10,-170,10"}, 1},
		{[]string{"--bbox", "-62.22,-3.47,-62.21,-3.46"}, 1},
		{[]string{"--near", "-3.4653,-62.2159", "--radius", "2km"}, 2}, // two points 1.7 km apart; the road is 7 km off
		{[]string{"--near", "-3.4653,-62.2159", "--radius", "100m"}, 1},
		{[]string{"--since", "2000-01-01", "--limit", "3"}, 3},
		{[]string{"--until", "2000-01-01"}, 0},
	} {
		if got := count(tc.args...); got != tc.want {
			t.Errorf("list %v: %d, want %d", tc.args, got, tc.want)
		}
	}
	area := filepath.Join(t.TempDir(), "area.geojson")
	os.WriteFile(area, []byte(`{"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[[[-62.25,-3.48],[-62.2,-3.48],[-62.2,-3.45],[-62.25,-3.45],[-62.25,-3.48]]]}}`), 0o644)
	if got := count("--within", area); got != 2 {
		t.Errorf("--within: %d, want 2 (the road leaves the area)", got)
	}
	var fcOut struct {
		Type     string
		Features []struct {
			ID         string
			Properties map[string]any
		}
	}
	if err := json.Unmarshal([]byte(mustFS(t, "--home", home, "list", "--format", "geojson", "--tag", "category=logging")), &fcOut); err != nil ||
		fcOut.Type != "FeatureCollection" || len(fcOut.Features) != 1 || fcOut.Features[0].Properties["category"] != "logging" {
		t.Fatalf("geojson: %+v %v", fcOut, err)
	}
	csvOut := mustFS(t, "--home", home, "list", "--format", "csv", "--tag", "category=road")
	if !strings.HasPrefix(csvOut, "id,created,updated,lat,lon,wkt,category") || !strings.Contains(csvOut, "LINESTRING(") {
		t.Fatalf("csv: %q", csvOut)
	}
	for _, args := range [][]string{{"--bbox", "1,2,3"}, {"--near", "1,2"}, {"--radius", "2km"}, {"--since", "yesterday"}, {"--format", "xml"}, {"--within", area + ".missing"}} {
		if code, _, _ := fs(t, "", append([]string{"--home", home, "list"}, args...)...); code != 2 {
			t.Errorf("list %v: exit %d", args, code)
		}
	}
}

// TestReindexSameResults: list answers the same after reindex.
func TestReindexSameResults(t *testing.T) {
	home := filepath.Join(t.TempDir(), "h")
	mustFS(t, "--home", home, "init", "p")
	var b strings.Builder
	for i := range 200 {
		fmt.Fprintf(&b, `{"type":"Feature","geometry":{"type":"Point","coordinates":[%d.5,%d.25]},"properties":{"i":%d}}`+"\n", i%170, i%80, i)
	}
	if code, _, errs := fs(t, b.String(), "--home", home, "import", "-", "--durability", "os"); code != 0 {
		t.Fatal(errs)
	}
	// A photo: its media core's blocks are not read by the index.
	photo := filepath.Join(t.TempDir(), "p.jpg")
	os.WriteFile(photo, bytes.Repeat([]byte{0xff, 0xd8, 7}, 100000), 0o644)
	mustFS(t, "--home", home, "observe", "--lat", "1", "--lon", "1", "--attach", photo, "--durability", "os")
	before := mustFS(t, "--home", home, "list", "--format", "json", "--bbox", "10,10,60,60")
	// 202 blocks read: the device record, 200 imported, the photo's observation (not its 5 media blocks).
	if out := mustFS(t, "--home", home, "reindex", "--json"); !strings.Contains(out, `"observations":201`) || !strings.Contains(out, `"blocks":202`) {
		t.Fatalf("reindex: %s", out)
	}
	if after := mustFS(t, "--home", home, "list", "--format", "json", "--bbox", "10,10,60,60"); after != before {
		t.Fatal("list differs after reindex")
	}
	if _, err := os.Stat(filepath.Join(home, "projects", "p", "index.gpkg")); err != nil {
		t.Fatal(err)
	}
}
