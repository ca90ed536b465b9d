package interop

import (
	"archive/zip"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// needPython returns the python3 that runs evidence/verify.py, or ends
// the test: a failure when CI is set, a loud skip otherwise.
func needPython(t *testing.T) string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err == nil {
		return py
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("python3 is not installed and CI is set: the independent evidence verifier cannot run (%v)", err)
	}
	t.Skipf("SKIPPED LOUDLY: python3 is not installed, so the independent evidence verifier (interop/evidence/verify.py) was not run: %v", err)
	return ""
}

// bundleFiles reads every file of a zip.
func bundleFiles(t *testing.T, path string) map[string][]byte {
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

func writeBundle(t *testing.T, files map[string][]byte) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		w, _ := zw.Create(n)
		w.Write(files[n])
	}
	zw.Close()
	return buf.Bytes()
}

// resignAs recomputes the manifest's hashes and signs it with key, as an
// attacker who covers their tracks would (by VERIFY.md, not with
// fieldsync's code).
func resignAs(t *testing.T, files map[string][]byte, key ed25519.PrivateKey) {
	var m map[string]any
	if err := json.Unmarshal(files["MANIFEST.json"], &m); err != nil {
		t.Fatal(err)
	}
	hashes := map[string]any{}
	for n, b := range files {
		if n != "MANIFEST.json" && n != "MANIFEST.sig" {
			sum := sha256.Sum256(b)
			hashes[n] = hex.EncodeToString(sum[:])
		}
	}
	m["files"] = hashes
	m["exporter"].(map[string]any)["identity"] = hex.EncodeToString(key.Public().(ed25519.PublicKey))
	man, _ := json.MarshalIndent(m, "", "  ")
	man = append(man, '\n')
	files["MANIFEST.json"] = man
	files["MANIFEST.sig"] = []byte(hex.EncodeToString(ed25519.Sign(key, append([]byte("fieldsync evidence manifest v2\x00"), man...))) + "\n")
}

// TestIndependentEvidenceVerifier: interop/evidence/verify.py, written
// from VERIFY.md with the Python standard library only, accepts the
// bundles fieldsync makes (zipped, re-zipped, extracted; with a polygon
// selection, an edit, a deletion, a photo) and refuses tampered ones —
// each also refused by fieldsync verify.
func TestIndependentEvidenceVerifier(t *testing.T) {
	py := needPython(t)
	script, _ := filepath.Abs(filepath.Join("evidence", "verify.py"))
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	fs := func(args ...string) string {
		return strings.TrimSpace(string(fieldsync(t, nil, append([]string{"--home", home}, args...)...)))
	}
	fs("init", "river")
	var ids []string
	for i, place := range [][2]string{{"-3.1", "-60.1"}, {"-3.2", "-60.2"}, {"-3.3", "-60.3"}, {"-3.4", "-60.4"}, {"-3.5", "-60.5"}} {
		args := []string{"observe", "--lat", place[0], "--lon", place[1], "--tag", "category=mining", "--tag", "n=" + string(rune('0'+i)), "--durability", "os"}
		if i == 0 {
			args = append(args, "--attach", filepath.Join("..", "fixtures", "photos", "dredge.jpg"))
		}
		ids = append(ids, fs(args...))
	}
	fs("edit", ids[1], "--tag", "category=logging", "--durability", "os")
	fs("delete", ids[2], "--durability", "os")
	area := filepath.Join(dir, "area.geojson")
	os.WriteFile(area, []byte(`{"type":"Polygon","coordinates":[[[-70,-10],[-60.25,-10],[-60.25,10],[-70,10],[-70,-10]]]}`), 0o644)
	all, within, deleted := filepath.Join(dir, "all.zip"), filepath.Join(dir, "within.zip"), filepath.Join(dir, "deleted.zip")
	fs("export", "evidence", "-o", all)
	fs("export", "evidence", "--within", area, "-o", within)
	fs("export", "evidence", "--deleted", "--tag", "category=mining", "-o", deleted)

	python := func(path string) (int, string) {
		cmd := exec.Command(py, script, path)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), out.String()
		} else if err != nil {
			t.Fatal(err)
		}
		return 0, out.String()
	}
	goVerify := func(path string) int {
		return run(t, timeoutGo, nil, fieldsyncBin, "verify", path).code
	}
	for _, p := range []string{all, within, deleted} {
		if code, out := python(p); code != 0 || !strings.Contains(out, "valid:") {
			t.Fatalf("verify.py %s: exit %d %s", filepath.Base(p), code, out)
		}
	}
	if _, out := python(within); !strings.Contains(out, "valid: 2 observation") {
		t.Fatalf("within: %s", out)
	}
	// Re-zipped and extracted.
	files := bundleFiles(t, all)
	rezip := filepath.Join(dir, "rezip.zip")
	os.WriteFile(rezip, writeBundle(t, files), 0o644)
	ext := filepath.Join(dir, "extracted")
	for n, b := range files {
		os.MkdirAll(filepath.Dir(filepath.Join(ext, n)), 0o755)
		os.WriteFile(filepath.Join(ext, n), b, 0o644)
	}
	for _, p := range []string{rezip, ext} {
		if code, out := python(p); code != 0 {
			t.Fatalf("verify.py %s: exit %d %s", filepath.Base(p), code, out)
		}
	}

	_, stranger, _ := ed25519.GenerateKey(nil)
	seed, err := os.ReadFile(filepath.Join(home, "device.key"))
	if err != nil {
		t.Fatal(err)
	}
	seedBytes, _ := hex.DecodeString(strings.TrimSpace(string(seed)))
	member := ed25519.NewKeyFromSeed(seedBytes) // the exporter itself, turned malicious
	replace := func(name, old, new string) func(map[string][]byte) {
		return func(f map[string][]byte) {
			if !bytes.Contains(f[name], []byte(old)) {
				t.Fatalf("%s lacks %q", name, old)
			}
			f[name] = bytes.Replace(f[name], []byte(old), []byte(new), 1)
		}
	}
	logName := func(f map[string][]byte) string {
		for n := range f {
			if strings.HasPrefix(n, "logs/") {
				return n
			}
		}
		return ""
	}
	dropFeature := func(f map[string][]byte, id string) {
		lines := strings.Split(string(f["observations.geojson"]), "\n")
		for i, l := range lines {
			if strings.Contains(l, `"id":"`+id+`"`) {
				lines = append(lines[:i], lines[i+1:]...)
				break
			}
		}
		f["observations.geojson"] = []byte(strings.Join(lines, "\n"))
	}
	cases := []struct {
		name   string
		mutate func(map[string][]byte)
		raw    func([]byte) []byte
	}{
		{"a tag value", replace("observations.geojson", `"category":"mining"`, `"category":"fishing"`), nil},
		{"a coordinate", replace("observations.geojson", `-60.4`, `-60.9`), nil},
		{"an observation left out", func(f map[string][]byte) {
			dropFeature(f, ids[3])
			f["MANIFEST.json"] = bytes.Replace(f["MANIFEST.json"], []byte(`"observations": 4`), []byte(`"observations": 3`), 1)
		}, nil},
		{"the edited observation shown in its older version", replace("observations.geojson", `"category":"logging"`, `"category":"mining"`), nil},
		{"a deleted observation shown as live", func(f map[string][]byte) {
			f["observations.geojson"] = bytes.Replace(f["observations.geojson"], []byte("\n]}"), []byte(`,
{"type":"Feature","id":"`+ids[2]+`","geometry":{"type":"Point","coordinates":[-60.3,-3.3]},"properties":{}}
]}`), 1)
		}, nil},
		{"a second features key", replace("observations.geojson", `{"type":"FeatureCollection",`, `{"type":"FeatureCollection","features":[],`), nil},
		{"a made-up member", replace("observations.geojson", "\n]}", "\n],\"verified\":true}"), nil},
		{"a photo byte", func(f map[string][]byte) {
			for n := range f {
				if strings.HasPrefix(n, "media/") {
					f[n][100] ^= 1
				}
			}
		}, nil},
		{"a signed block", func(f map[string][]byte) {
			n := logName(f)
			lines := bytes.Split(f[n], []byte("\n"))
			b, _ := base64.StdEncoding.DecodeString(string(lines[2]))
			b = bytes.Replace(b, []byte("mining"), []byte("mine!!"), 1)
			lines[2] = []byte(base64.StdEncoding.EncodeToString(b))
			f[n] = bytes.Join(lines, []byte("\n"))
		}, nil},
		{"a block removed from the log", func(f map[string][]byte) {
			n := logName(f)
			lines := bytes.Split(f[n], []byte("\n"))
			f[n] = bytes.Join(append(lines[:3:3], lines[4:]...), []byte("\n"))
		}, nil},
		{"the selection rewritten", replace("MANIFEST.json", `"selection": {}`, `"selection": {"tags": {"category": "mining"}}`), nil},
		{"a file added", func(f map[string][]byte) { f["notes.txt"] = []byte("trust me") }, nil},
		{"the photo removed", func(f map[string][]byte) {
			for n := range f {
				if strings.HasPrefix(n, "media/") {
					delete(f, n)
				}
			}
		}, nil},
		{"HTML prepended", nil, func(b []byte) []byte { return append([]byte("<html><script>x()</script>"), b...) }},
		{"bytes appended", nil, func(b []byte) []byte { return append(b, "<!-- -->"...) }},
		{"a zip comment", nil, func(b []byte) []byte {
			b = append(b, "look here"...)
			binary.LittleEndian.PutUint16(b[len(b)-9-2:], 9)
			return b
		}},
		{"MANIFEST.sig in capitals", func(f map[string][]byte) {}, nil},
	}
	for _, tc := range cases {
		for _, signer := range []struct {
			name string
			key  ed25519.PrivateKey
		}{{"not re-signed", nil}, {"re-signed by a stranger", stranger}, {"re-signed by the exporting member", member}} {
			name := tc.name + "/" + signer.name
			t.Run(name, func(t *testing.T) {
				f := bundleFiles(t, all)
				if tc.mutate != nil {
					tc.mutate(f)
				}
				if signer.key != nil {
					resignAs(t, f, signer.key)
				}
				if tc.name == "MANIFEST.sig in capitals" {
					f["MANIFEST.sig"] = bytes.ToUpper(f["MANIFEST.sig"])
				}
				b := writeBundle(t, f)
				if tc.raw != nil {
					b = tc.raw(b)
				}
				path := filepath.Join(t.TempDir(), "bad.zip")
				os.WriteFile(path, b, 0o644)
				code, out := python(path)
				if code != 1 || !strings.Contains(out, "INVALID") {
					t.Fatalf("verify.py did not refuse it: exit %d %s", code, out)
				}
				if signer.key != nil && signer.key.Equal(member) {
					if c := goVerify(path); c != 1 {
						t.Fatalf("fieldsync verify: exit %d", c)
					}
				}
				t.Logf("verify.py: %s", strings.TrimSpace(out))
			})
		}
	}
	// Unreadable: exit 2.
	if code, _ := python(filepath.Join(dir, "none.zip")); code != 2 {
		t.Fatalf("a missing file: exit %d", code)
	}
}
