package export

import (
	"go/build"
	"strings"
	"testing"
)

// export may use only: hypercore observation geo query index project (see doc.go).
func TestImports(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range append(append(pkg.Imports, pkg.TestImports...), pkg.XTestImports...) {
		rest, ok := strings.CutPrefix(imp, "github.com/fieldsync/fieldsync/")
		if ok && rest != "hypercore" && rest != "observation" && rest != "geo" && rest != "query" && rest != "index" && rest != "project" {
			t.Errorf("export imports %s", imp)
		}
	}
}
