package hypercore

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// syncData flushes a file's bytes (and its size, which they need) to the
// disk: fdatasync(2), which skips the timestamps fsync would also write.
func syncData(f *os.File) error {
	for {
		err := unix.Fdatasync(int(f.Fd()))
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// syncDirFile flushes a directory's entries (a new or renamed file).
func syncDirFile(d *os.File) error { return d.Sync() }
