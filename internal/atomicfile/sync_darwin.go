package atomicfile

import (
	"os"

	"golang.org/x/sys/unix"
)

// On macOS fsync leaves the data in the drive's cache; F_FULLFSYNC asks the
// drive to write it through. Some file systems (network shares, FAT on a USB
// stick) refuse it: then plain fsync is the best there is.
func syncFile(f *os.File) error {
	if _, err := unix.FcntlInt(f.Fd(), unix.F_FULLFSYNC, 0); err == nil {
		return nil
	}
	return f.Sync()
}

// SyncDir flushes a directory's entries (a rename or a new file) to disk.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	if _, ferr := unix.FcntlInt(d.Fd(), unix.F_FULLFSYNC, 0); ferr != nil {
		err = d.Sync()
	}
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
