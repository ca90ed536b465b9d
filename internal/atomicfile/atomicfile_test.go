package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFileReplaces(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "état.json") // non-ASCII names work on every OS
	for _, want := range []string{"first", "second, longer than the first"} {
		if err := WriteFile(p, []byte(want), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(p)
		if err != nil || string(got) != want {
			t.Fatalf("read %q, %v; want %q", got, err, want)
		}
	}
	assertOnly(t, dir, "état.json")
}

func TestAbortLeavesTargetAndNoTemp(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "keep")
	if err := WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := New(p, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("half"))
	f.Abort()
	f.Abort() // twice is fine
	if err := f.Commit(); err == nil {
		t.Fatal("Commit after Abort succeeded")
	}
	got, _ := os.ReadFile(p)
	if string(got) != "old" {
		t.Fatalf("target changed to %q", got)
	}
	assertOnly(t, dir, "keep")
}

func TestCommitIntoMissingDirFails(t *testing.T) {
	_, err := New(filepath.Join(t.TempDir(), "no", "such", "file"), 0o644)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v, want not exist", err)
	}
}

func TestCleanRemovesOnlyItsTemps(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out[1].gpkg") // glob characters in the name
	f, err := New(p, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.Close() // a writer killed before Commit: the temp file stays
	other := filepath.Join(dir, "other")
	if err := WriteFile(other, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	of, err := New(other, 0o644) // another file's temp is not ours to remove
	if err != nil {
		t.Fatal(err)
	}
	defer of.Abort()
	if err := Clean(p); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(f.Name()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stale temp still there: %v", err)
	}
	if _, err := os.Stat(of.Name()); err != nil {
		t.Fatalf("another file's temp removed: %v", err)
	}
}

func TestPermApplied(t *testing.T) {
	p := filepath.Join(t.TempDir(), "secret")
	if err := WriteFile(p, []byte("k"), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	// Windows reports 0666/0444 whatever was asked; elsewhere the mode holds.
	if m := st.Mode().Perm(); m != 0o600 && m != 0o666 {
		t.Fatalf("mode %v", m)
	}
}

func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != len(names) {
		var got []string
		for _, e := range ents {
			got = append(got, e.Name())
		}
		t.Fatalf("directory holds %q, want %q", got, names)
	}
}
