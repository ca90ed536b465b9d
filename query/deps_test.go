package query

import (
	"go/build"
	"strings"
	"testing"
)

// query may use geo and observation only.
func TestImports(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range append(append(pkg.Imports, pkg.TestImports...), pkg.XTestImports...) {
		if rest, ok := strings.CutPrefix(imp, "github.com/fieldsync/fieldsync/"); ok && rest != "geo" && rest != "observation" {
			t.Errorf("query imports %s", imp)
		}
	}
}
