// Package atomicfile writes files so that a reader, a crash or a power cut
// sees either the old content or the new, never a mix: the bytes go to a
// temporary file in the same directory, which is flushed to disk, renamed
// over the target, and the directory is flushed so the rename itself is
// durable (restic's local backend Save, Tailscale's atomicfile).
//
// Every file fieldsync writes outside hypercore/ (project records, keys,
// exports, serve's status, the DHT's routing table) goes through it.
//
// What differs by OS: on Windows the rename replaces a target that is not
// open elsewhere (os.Rename uses MoveFileEx with MOVEFILE_REPLACE_EXISTING)
// and directories cannot be flushed, so the directory sync is skipped
// there; on macOS the file is flushed with F_FULLFSYNC (plain fsync does not
// reach the platter there).
//
// It imports nothing from fieldsync.
package atomicfile
