package projectsync

import (
	"go/build"
	"strings"
	"testing"
)

// projectsync may use only: project hypercore hypercore/replicate hypercore/secretstream observation geo (see doc.go).
func TestImports(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range append(append(pkg.Imports, pkg.TestImports...), pkg.XTestImports...) {
		rest, ok := strings.CutPrefix(imp, "github.com/fieldsync/fieldsync/")
		if ok && rest != "project" && rest != "hypercore" && rest != "hypercore/replicate" && rest != "hypercore/secretstream" && rest != "observation" && rest != "geo" {
			t.Errorf("projectsync imports %s", imp)
		}
	}
}
