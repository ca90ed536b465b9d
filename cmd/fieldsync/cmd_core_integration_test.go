package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fs runs one fieldsync command line in-process.
func fs(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func mustFS(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errs := fs(t, "", args...)
	if code != 0 {
		t.Fatalf("fieldsync %s: exit %d: %s", strings.Join(args, " "), code, errs)
	}
	return out
}

func info(t *testing.T, dir string) coreInfo {
	t.Helper()
	var ci coreInfo
	if err := json.Unmarshal([]byte(mustFS(t, "core", "info", dir, "--json")), &ci); err != nil {
		t.Fatal(err)
	}
	return ci
}

func writeFiles(t *testing.T, dir string, blocks ...string) []string {
	t.Helper()
	var names []string
	for i, b := range blocks {
		p := filepath.Join(dir, "block"+string(rune('a'+i)))
		if err := os.WriteFile(p, []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
		names = append(names, p)
	}
	return names
}

// The JS reference made these (testdata vectors, core "single" and
// "five-small").
func TestCoreCommandsReproduceJSVectors(t *testing.T) {
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "single")
	mustFS(t, "core", "create", dir, "--seed", strings.Repeat("01", 32), "--durability", "os")
	files := writeFiles(t, tmp, "abcde")
	mustFS(t, "core", "append", dir, files[0])
	got := info(t, dir)
	want := coreInfo{
		Key:          "d8c3a0597903b28d751c6e0b7107775e388ec5a3cf669bdd1e7ec41b8b8f6e72",
		DiscoveryKey: "fb892b1c77fdcb05dcbd234607208b7036e00a13e7f2cc0bbaa463924e57865a",
		PublicKey:    "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c",
		Length:       1, ByteLength: 5, Contiguous: 1, Fork: 0, Writable: true,
	}
	vec := vectorState(t, "single", 0)
	want.TreeHash, want.Signature = vec.TreeHash, vec.Signature
	if got != want {
		t.Fatalf("info = %+v\nwant   %+v", got, want)
	}
	if out := mustFS(t, "core", "get", dir, "0"); out != "abcde" {
		t.Fatalf("get = %q", out)
	}
	if out := mustFS(t, "core", "verify", dir); !strings.HasPrefix(out, "ok: 1 blocks") {
		t.Fatalf("verify said %q", out)
	}
}

type vecState struct {
	TreeHash  string `json:"tree_hash"`
	Signature string `json:"signature"`
	Length    uint64 `json:"length"`
}

func vectorState(t *testing.T, core string, i int) vecState {
	t.Helper()
	b, err := os.ReadFile("../../hypercore/testdata/hypercore-v11.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Cores []struct {
			Name   string     `json:"name"`
			States []vecState `json:"states"`
		} `json:"cores"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	for _, c := range v.Cores {
		if c.Name == core {
			return c.States[i]
		}
	}
	t.Fatalf("no core %q in the vectors", core)
	return vecState{}
}

func TestAppendBatchAndStdin(t *testing.T) {
	tmp := t.TempDir()
	a, b := filepath.Join(tmp, "a"), filepath.Join(tmp, "b")
	seed := strings.Repeat("02", 32)
	mustFS(t, "core", "create", a, "--seed", seed)
	mustFS(t, "core", "create", b, "--seed", seed)
	files := writeFiles(t, tmp, "one", "", "three")
	mustFS(t, append([]string{"core", "append", a}, files...)...)
	mustFS(t, append([]string{"core", "append", b, "--batch"}, files[:2]...)...)
	if code, _, errs := fs(t, "three", "core", "append", b, "-"); code != 0 {
		t.Fatal(errs)
	}
	ia, ib := info(t, a), info(t, b)
	// Same blocks, same key: the same signed head, however they were batched.
	if ia != ib || ia.Length != 3 || ia.ByteLength != 8 {
		t.Fatalf("a = %+v\nb = %+v", ia, ib)
	}
	if got := mustFS(t, "core", "get", b, "1"); got != "" {
		t.Fatalf("empty block read back as %q", got)
	}
}

func TestBadInputIsOneLineAndWritesNothing(t *testing.T) {
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "core")
	mustFS(t, "core", "create", dir)
	files := writeFiles(t, tmp, "x")
	mustFS(t, "core", "append", dir, files[0])
	notCore := t.TempDir()

	cases := []struct {
		name string
		args []string
		code int
		want string // in the error line
	}{
		{"bad seed hex", []string{"core", "create", filepath.Join(tmp, "n1"), "--seed", "xyz"}, 2, "--seed"},
		{"short seed", []string{"core", "create", filepath.Join(tmp, "n2"), "--seed", "0102"}, 2, "--seed"},
		{"create over a core", []string{"core", "create", dir}, 2, "not empty"},
		{"create over a file", []string{"core", "create", files[0]}, 2, "not a directory"},
		{"create with no name", []string{"core", "create", ""}, 2, "no directory"},
		{"missing block file", []string{"core", "append", dir, files[0], filepath.Join(tmp, "nope")}, 2, "nope"},
		{"append to a non-core", []string{"core", "append", notCore, files[0]}, 2, "not a hypercore directory"},
		{"info of a missing dir", []string{"core", "info", filepath.Join(tmp, "missing")}, 2, "no such directory"},
		{"get out of range", []string{"core", "get", dir, "5"}, 2, "out of range"},
		{"get bad index", []string{"core", "get", dir, "1x"}, 2, "INDEX"},
		{"verify a non-core", []string{"core", "verify", notCore}, 2, "not a hypercore directory"},
		{"unknown command", []string{"core", "frobnicate"}, 2, "unknown command"},
		{"too few args", []string{"core", "get", dir}, 2, "wrong number of arguments"},
		{"unknown flag", []string{"core", "info", dir, "--nope"}, 2, "unknown flag"},
		{"bad durability", []string{"core", "append", dir, files[0], "--durability", "maybe"}, 2, "durability"},
	}
	before := info(t, dir)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errs := fs(t, "", c.args...)
			if code != c.code {
				t.Fatalf("exit %d, want %d (stderr %q)", code, c.code, errs)
			}
			if out != "" {
				t.Errorf("stdout %q", out)
			}
			if strings.Count(errs, "\n") != 1 || !strings.HasPrefix(errs, "fieldsync: ") || !strings.Contains(errs, c.want) {
				t.Errorf("stderr %q: want one line naming %q", errs, c.want)
			}
		})
	}
	if after := info(t, dir); after != before {
		t.Fatalf("bad input changed the core: %+v -> %+v", before, after)
	}
	for _, n := range []string{"n1", "n2"} {
		if _, err := os.Stat(filepath.Join(tmp, n)); !os.IsNotExist(err) {
			t.Errorf("failed create left %s", n)
		}
	}
	if entries, _ := os.ReadDir(notCore); len(entries) != 0 {
		t.Errorf("commands on a non-core wrote %d files into it", len(entries))
	}
}

func TestVerifyNamesTheBadBlock(t *testing.T) {
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "core")
	mustFS(t, "core", "create", dir)
	files := writeFiles(t, tmp, "aaaa", "bbbb", "cccc")
	mustFS(t, append([]string{"core", "append", dir}, files...)...)
	data := filepath.Join(dir, "data")
	b, _ := os.ReadFile(data)
	b[5] ^= 0x20 // inside block 1
	if err := os.WriteFile(data, b, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := fs(t, "", "core", "verify", dir, "--json")
	if code != 1 {
		t.Fatalf("verify exit %d: %s", code, errs)
	}
	var rep verifyReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("verify --json printed %q: %v", out, err)
	}
	if rep.OK || rep.Error == nil || rep.Error.Block == nil || *rep.Error.Block != 1 || rep.Error.File != "data" {
		t.Fatalf("report %+v", rep)
	}
	if !strings.Contains(errs, "block 1") {
		t.Fatalf("stderr %q does not name block 1", errs)
	}
	// get refuses the corrupt block and still serves the good ones.
	if code, out, _ := fs(t, "", "core", "get", dir, "1"); code == 0 || out != "" {
		t.Fatalf("get of a corrupt block: exit %d, output %q", code, out)
	}
	if out := mustFS(t, "core", "get", dir, "2"); out != "cccc" {
		t.Fatalf("get 2 = %q", out)
	}
}

func TestReadOnlyWithoutSecret(t *testing.T) {
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "core")
	mustFS(t, "core", "create", dir)
	files := writeFiles(t, tmp, "x")
	mustFS(t, "core", "append", dir, files[0])
	st, err := os.Stat(filepath.Join(dir, "secret"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("secret file: %v, mode %v", err, st.Mode())
	}
	os.Remove(filepath.Join(dir, "secret"))
	code, _, errs := fs(t, "", "core", "append", dir, files[0])
	if code != 2 || !strings.Contains(errs, "no secret key") {
		t.Fatalf("append without secret: exit %d, %q", code, errs)
	}
	if i := info(t, dir); i.Writable || i.Length != 1 {
		t.Fatalf("info %+v", i)
	}
}

func TestDemo(t *testing.T) {
	code, out, errs := fs(t, "", "demo")
	if code != 0 {
		t.Fatalf("demo exit %d: %s", code, errs)
	}
	if first, _, _ := strings.Cut(out, "\n"); !strings.HasPrefix(first, "fieldsync demo: ") {
		t.Errorf("demo's first line is %q, want what it is about to do", first)
	}
	for _, want := range []string{"recorded 12 observations", "re-verified every block", "device B fetched the core from device A", ": 12 blocks, each verified",
		"imported 300 observations", "with 3 photos", "query mining inside the claimed territory:", "index is a GeoPackage",
		"Maria     now holds 300 observations", "João      now holds 300 observations", "Raimundo  now holds 300 observations",
		"exported the merged map: 300 observations", "verified offline with no project"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
}
