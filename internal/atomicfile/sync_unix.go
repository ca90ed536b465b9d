//go:build !windows && !darwin

package atomicfile

import "os"

func syncFile(f *os.File) error { return f.Sync() }

// SyncDir flushes a directory's entries (a rename or a new file) to disk.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
