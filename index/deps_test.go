package index

import (
	"go/build"
	"strings"
	"testing"
)

// index may use hypercore, observation, geo and query only.
func TestImports(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range append(append(pkg.Imports, pkg.TestImports...), pkg.XTestImports...) {
		rest, ok := strings.CutPrefix(imp, "github.com/fieldsync/fieldsync/")
		if ok && rest != "hypercore" && rest != "observation" && rest != "geo" && rest != "query" {
			t.Errorf("index imports %s", imp)
		}
	}
}
