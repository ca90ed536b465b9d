package lansync

import (
	"go/build"
	"strings"
	"testing"
)

// lansync may use only: hypercore/secretstream (see doc.go).
func TestImports(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range append(append(pkg.Imports, pkg.TestImports...), pkg.XTestImports...) {
		rest, ok := strings.CutPrefix(imp, "github.com/fieldsync/fieldsync/")
		if ok && rest != "hypercore/secretstream" {
			t.Errorf("lansync imports %s", imp)
		}
	}
}
