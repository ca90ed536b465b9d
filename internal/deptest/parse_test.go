package deptest

import (
	"go/parser"
	"go/token"
	"strconv"
	"testing"
)

func fileImports(t *testing.T, path string) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	var out []string
	for _, s := range f.Imports {
		p, err := strconv.Unquote(s.Path.Value)
		if err == nil {
			out = append(out, p)
		}
	}
	return out
}

func TestRuleForPicksMostSpecific(t *testing.T) {
	for pkg, want := range map[string]string{
		"hypercore":           "hypercore/...",
		"hypercore/wire":      "hypercore/wire",
		"hypercore/replicate": "hypercore/...",
		"observations":        "observations",
		"observations/index":  "observations/index",
		"cmd/fieldsync":       "cmd/...",
		"internal/atomicfile": "internal/atomicfile",
	} {
		i, ok := ruleFor(pkg)
		if !ok || rules[i].pkg != want {
			t.Errorf("ruleFor(%s) = %v %v, want %s", pkg, i, ok, want)
		}
	}
	if _, ok := ruleFor("newpkg"); ok {
		t.Error("a package without a row matched one")
	}
	if allowed([]string{"hypercore/..."}, "hypercorex") {
		t.Error("hypercore/... allowed hypercorex")
	}
}
