//go:build dragonfly || freebsd || netbsd || openbsd

package hypercore

import "os"

// syncData flushes a file's bytes to the disk (fsync(2)).
func syncData(f *os.File) error { return f.Sync() }

// syncDirFile flushes a directory's entries (a new or renamed file).
func syncDirFile(d *os.File) error { return d.Sync() }
