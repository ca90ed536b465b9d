//go:build !windows

package hypercore

import "os"

// syncDir flushes dir's entries, so a file created or renamed in it
// survives a power cut.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = syncDirFile(d)
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// rename moves oldpath to newpath, replacing a file there (rename(2) is
// atomic on every Unix file system).
func rename(oldpath, newpath string) error { return os.Rename(oldpath, newpath) }
