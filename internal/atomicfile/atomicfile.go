package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// File is a file being written in place of Path. Nothing is visible at Path
// until Commit returns nil; Abort (or a crash) leaves Path as it was. A File
// is used by one goroutine.
type File struct {
	*os.File
	path string
	perm os.FileMode
	done bool
}

// New starts writing a file that will replace path. The temporary file is a
// hidden sibling of path (".NAME.tmp*") so the final rename never crosses a
// file system; Clean removes the ones a killed process left behind.
func New(path string, perm os.FileMode) (*File, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, tempPrefix(base)+"*")
	if err != nil {
		return nil, fmt.Errorf("create a temporary file beside %s: %w", path, err)
	}
	return &File{File: f, path: path, perm: perm}, nil
}

func tempPrefix(base string) string { return "." + base + ".tmp" }

// Path is the file this one will replace.
func (f *File) Path() string { return f.path }

// Commit flushes the bytes to disk, renames the file over Path and flushes
// the directory. After an error nothing is left at the temporary name and
// Path is unchanged.
func (f *File) Commit() error {
	if f.done {
		return errors.New("atomicfile: already committed or aborted")
	}
	f.done = true
	tmp := f.Name()
	err := f.Chmod(f.perm)
	if err == nil {
		err = syncFile(f.File)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, f.path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", f.path, err)
	}
	if err := SyncDir(filepath.Dir(f.path)); err != nil {
		return fmt.Errorf("write %s: %w", f.path, err)
	}
	return nil
}

// Abort throws the temporary file away. It is safe to call after Commit
// (it then does nothing), so `defer f.Abort()` covers every error path.
func (f *File) Abort() {
	if f.done {
		return
	}
	f.done = true
	f.Close()
	os.Remove(f.Name())
}

// WriteFile writes data to path atomically and durably, with mode perm.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	f, err := New(path, perm)
	if err != nil {
		return err
	}
	defer f.Abort()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Commit()
}

// Clean removes the temporary files that writers of path killed before
// Commit or Abort left in its directory. Call it only when no other
// process can be writing path.
func Clean(path string) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	matches, err := filepath.Glob(filepath.Join(dir, globEscape(tempPrefix(base))+"*"))
	if err != nil {
		return err
	}
	var errs []error
	for _, m := range matches {
		if err := os.Remove(m); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func globEscape(s string) string {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		switch r {
		case '*', '?', '[', '\\':
			out = append(out, '\\')
		}
		out = append(out, r)
	}
	return string(out)
}
