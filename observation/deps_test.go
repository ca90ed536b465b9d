package observation

import (
	"go/build"
	"strings"
	"testing"
)

// observation is pure data: of fieldsync it may use only geo and hypercore
// (and fixtures in tests).
func TestImports(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	const mod = "github.com/fieldsync/fieldsync/"
	for _, imp := range append(append(pkg.Imports, pkg.TestImports...), pkg.XTestImports...) {
		if !strings.HasPrefix(imp, mod) {
			continue
		}
		switch strings.TrimPrefix(imp, mod) {
		case "geo", "hypercore", "fixtures":
		default:
			t.Errorf("observation imports %s", imp)
		}
	}
}
