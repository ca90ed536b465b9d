package atomicfile

import "os"

// On Windows, File.Sync is FlushFileBuffers, which writes through the drive
// cache.
func syncFile(f *os.File) error { return f.Sync() }

// SyncDir does nothing on Windows: a directory cannot be opened for
// flushing there, and NTFS journals the rename itself.
func SyncDir(string) error { return nil }
