package deptest

import (
	"go/build"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/fieldsync/fieldsync/"

// rules lists, for each package (a path, or a path ending in "/..." for a
// package and everything under it), the fieldsync packages it may import.
// An entry ending in "/..." allows that package and everything under it.
// The most specific row applies. "*" allows anything (tools and wiring).
var rules = []struct {
	pkg   string
	may   []string
	why   string
	tests []string // extra imports allowed in _test files only
}{
	{pkg: "hypercore/...", may: []string{"hypercore/..."},
		why: "a library another Go program can use alone"},
	{pkg: "hypercore/wire", may: []string{"hypercore/internal/cenc"},
		why:   "the one codec of the protocol, a leaf that hypercore and replicate import",
		tests: []string{"hypercore/protomux", "hypercore/hypercoretest"}},
	{pkg: "geo", may: nil, why: "geometry only; orb is its one dependency"},
	{pkg: "dht/...", may: []string{"dht/..."}, why: "finds peers; knows nothing of projects beyond a topic"},
	{pkg: "lansync", may: []string{"hypercore/secretstream"},
		why:   "finds and connects peers, hands streams to a handler; knows nothing of observations",
		tests: []string{"internal/testutil"}},
	{pkg: "internal/atomicfile", may: nil, why: "a leaf helper"},
	{pkg: "internal/safename", may: nil, why: "a leaf helper: portable file names"},
	{pkg: "internal/demo", may: []string{"observations/...", "hypercore/...", "export", "fixtures", "geo", "internal/atomicfile"},
		why: "fieldsync demo: the main job end to end, wired as the CLI does"},
	{pkg: "internal/deptest", may: nil, why: "this test"},
	{pkg: "internal/testutil", may: []string{"hypercore/..."}, why: "test helpers over the library"},
	{pkg: "fixtures/...", may: nil, why: "embedded sample data"},

	{pkg: "observations/record", may: []string{"geo"}, why: "canonical records; no storage"},
	{pkg: "observations/query", may: []string{"geo", "observations/record"}, why: "exact filters, shared by index and exports"},
	{pkg: "observations/project", may: []string{"geo", "hypercore", "observations/record", "internal/atomicfile", "internal/safename"},
		why: "homes, keys, this device's cores; never the index or the network"},
	{pkg: "observations/index", may: []string{"geo", "hypercore", "observations/record", "observations/query", "internal/atomicfile"},
		why: "the GeoPackage index, derived from cores; never the network"},
	{pkg: "observations/projectsync", may: []string{"hypercore/...", "observations/project", "observations/record"},
		why:   "membership and whole-project replication over one connection",
		tests: []string{"geo"}},
	{pkg: "observations/usbsync", may: []string{"hypercore", "observations/project", "observations/record", "internal/atomicfile"},
		why:   "sync with a folder on removable media; the network path's verifier, never the network",
		tests: []string{"geo"}},
	{pkg: "observations", may: []string{"observations/...", "hypercore/...", "geo", "lansync", "dht", "internal/atomicfile", "internal/safename"},
		why: "the domain facade: wires the sub-packages, lansync and dht"},
	{pkg: "export", may: []string{"geo", "hypercore", "observations/...", "internal/atomicfile", "internal/safename"},
		why: "reads through the domain and hypercore proofs; never writes a core"},
	{pkg: "web", may: []string{"geo", "observations/...", "export", "internal/atomicfile"},
		why:   "the map page reads through the domain; never writes",
		tests: []string{"hypercore"}},

	{pkg: "cmd/...", may: []string{"*"}, why: "wires and prints"},
	{pkg: "bench/...", may: []string{"*"}, why: "benchmark tools"},
	{pkg: "interop/...", may: []string{"*"}, why: "interop tests"},
	{pkg: "scripts/...", may: []string{"*"}, why: "tools"},
}

// testOnly may be imported by any package's tests: sample data and helpers.
var testOnly = []string{"fixtures", "internal/testutil"}

func matches(pattern, pkg string) bool {
	if pattern == "*" {
		return true
	}
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return pkg == base || strings.HasPrefix(pkg, base+"/")
	}
	return pkg == pattern
}

// ruleFor returns the most specific row for pkg.
func ruleFor(pkg string) (int, bool) {
	best, bestLen := -1, -1
	for i, r := range rules {
		if matches(r.pkg, pkg) {
			l := len(strings.TrimSuffix(r.pkg, "/..."))
			if !strings.HasSuffix(r.pkg, "/...") {
				l += 1 << 20 // an exact row beats any prefix row
			}
			if l > bestLen {
				best, bestLen = i, l
			}
		}
	}
	return best, best >= 0
}

func allowed(list []string, imp string) bool {
	for _, p := range list {
		if matches(p, imp) {
			return true
		}
	}
	return false
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's directory")
		}
		dir = parent
	}
}

func TestDependencyRules(t *testing.T) {
	root := moduleRoot(t)
	ctx := build.Default
	ctx.CgoEnabled = true
	checked := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if path != root && (name == "testdata" || name == "node_modules" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
			return filepath.SkipDir
		}
		// Every file, whatever its build tags: a rule holds on every OS.
		pkg, err := ctx.ImportDir(path, build.ImportComment)
		if err != nil {
			if _, ok := err.(*build.NoGoError); ok && len(pkg.IgnoredGoFiles) == 0 {
				return nil
			}
			if _, ok := err.(*build.NoGoError); !ok {
				return err
			}
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		checked[rel] = true
		i, ok := ruleFor(rel)
		if !ok {
			t.Errorf("%s has no row in deptest's rules: decide what it may import", rel)
			return nil
		}
		r := rules[i]
		check := func(imps []string, extra []string, what string) {
			for _, imp := range imps {
				p, ok := strings.CutPrefix(imp, module)
				if !ok || p == rel {
					continue
				}
				if !allowed(r.may, p) && !allowed(extra, p) {
					t.Errorf("%s%s imports %s; its rule (%s) allows only %v", rel, what, p, r.why, r.may)
				}
			}
		}
		check(importsOfAllFiles(t, path, pkg, false), nil, "")
		check(importsOfAllFiles(t, path, pkg, true), append(testOnly, r.tests...), " (tests)")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, must := range []string{"hypercore", "hypercore/replicate", "geo", "lansync", "dht", "export", "observations/index", "cmd/fieldsync"} {
		if !checked[must] {
			t.Errorf("%s was not checked", must)
		}
	}
}

// importsOfAllFiles returns what the package's files import, including
// files excluded on this OS by build tags or file names (foo_windows.go),
// so that a rule is enforced for every platform.
func importsOfAllFiles(t *testing.T, dir string, pkg *build.Package, tests bool) []string {
	t.Helper()
	set := map[string]bool{}
	add := func(imps []string) {
		for _, i := range imps {
			set[i] = true
		}
	}
	if tests {
		add(pkg.TestImports)
		add(pkg.XTestImports)
	} else {
		add(pkg.Imports)
	}
	for _, f := range pkg.IgnoredGoFiles {
		if strings.HasSuffix(f, "_test.go") != tests {
			continue
		}
		add(fileImports(t, filepath.Join(dir, f)))
	}
	out := make([]string, 0, len(set))
	for i := range set {
		out = append(out, i)
	}
	sort.Strings(out)
	return out
}
