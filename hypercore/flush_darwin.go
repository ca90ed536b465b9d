package hypercore

import (
	"os"

	"golang.org/x/sys/unix"
)

// syncData flushes a file's bytes to the disk. On macOS fsync(2) only
// hands them to the drive, whose cache may lose them at a power cut;
// F_FULLFSYNC asks the drive to write them through. File systems that
// refuse it (some network shares, FAT on a USB stick) get plain fsync,
// the best they offer.
func syncData(f *os.File) error {
	if _, err := unix.FcntlInt(f.Fd(), unix.F_FULLFSYNC, 0); err == nil {
		return nil
	}
	return f.Sync()
}

// syncDirFile flushes a directory's entries (a new or renamed file).
func syncDirFile(d *os.File) error { return syncData(d) }
