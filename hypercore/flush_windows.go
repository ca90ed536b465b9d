package hypercore

import "os"

// syncData flushes a file's bytes to the disk: os.File.Sync is
// FlushFileBuffers on Windows, which writes through the drive's cache.
func syncData(f *os.File) error { return f.Sync() }

// syncDir does nothing on Windows: a directory cannot be opened for
// flushing there, and NTFS journals the creation and renaming of files
// itself.
func syncDir(string) error { return nil }
