package hypercore

import (
	"go/build"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// hypercore is a library another Go program can use alone: nothing under it
// may import the rest of fieldsync.
func TestImportsNothingFromFieldsync(t *testing.T) {
	const module = "github.com/fieldsync/fieldsync/"
	checked := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() || d.Name() == "testdata" {
			if d != nil && d.IsDir() && d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return err
		}
		pkg, err := build.ImportDir(path, build.ImportComment)
		if err != nil {
			if _, ok := err.(*build.NoGoError); ok {
				return nil
			}
			return err
		}
		checked++
		imports := append(append(pkg.Imports, pkg.TestImports...), pkg.XTestImports...)
		for _, imp := range imports {
			if strings.HasPrefix(imp, module) && !strings.HasPrefix(imp, module+"hypercore") {
				t.Errorf("%s imports %s", path, imp)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 2 {
		t.Fatalf("checked only %d packages", checked)
	}
}
