package project

import (
	"go/build"
	"strings"
	"testing"
)

// project may use hypercore and observation (and geo through it); never
// the index, lansync, dht, export or cmd.
func TestImports(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	const mod = "github.com/fieldsync/fieldsync/"
	for _, imp := range append(append(pkg.Imports, pkg.TestImports...), pkg.XTestImports...) {
		if rest, ok := strings.CutPrefix(imp, mod); ok && rest != "hypercore" && rest != "observation" && rest != "geo" {
			t.Errorf("project imports %s", imp)
		}
	}
}
