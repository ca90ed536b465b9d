// Package hypercore is a Hypercore 11–compatible signed append-only log on
// disk: the flat-tree BLAKE2b Merkle tree, manifests and core keys, Ed25519
// head signatures, and Merkle proofs, byte for byte as the JavaScript
// reference (npm hypercore 11.39.5) makes them. The bytes are described in
// shared/spec/hypercore.md; testdata/hypercore-v11.json holds values made by
// the JS code, which the tests reproduce.
//
// A core lives in a directory (layout in storage.go). Rules it keeps:
//   - an Append is durable when it returns (DurabilityFsync: it survives
//     power loss; DurabilityOS: it survives a killed process, not power
//     loss); a crash within those bounds leaves the core readable up to its
//     last complete signed head;
//   - Get proves each block against the signed roots before returning it;
//   - every stored byte is covered by a hash or checksum: a flipped byte is
//     reported by Get or Verify, never returned as data;
//   - one writer per core (an exclusive lock on its lock file, refused to a
//     second writer in the same process or another); any number of read-only openers, in other
//     processes too, each sees a consistent signed prefix;
//   - a core without its secret file can be read, not appended to; opened
//     for writing it is a replica, which stores what peers prove
//     (ApplyUpgrade, PutBlocks: a signed head, then blocks in order, each
//     verified against it), holding the first Contiguous() blocks;
//   - blocks sent to peers (Proof) are checked against a CRC-32C kept in
//     their leaf record rather than re-hashed: the peer verifies them
//     against the signed tree itself.
//
// What differs by OS (one file per OS, as bbolt does; the promises above
// are the same everywhere):
//   - the writer lock: flock(2) on Unix (lock_unix.go), LockFileEx on
//     Windows (lock_windows.go);
//   - flushing (DurabilityFsync): fdatasync(2) on Linux, F_FULLFSYNC on
//     macOS (plain fsync leaves the bytes in the drive's cache there;
//     file systems refusing it get fsync), fsync on the BSDs,
//     FlushFileBuffers on Windows (flush_*.go); directories are flushed
//     after a create or rename on Unix, and not on Windows, where they
//     cannot be and NTFS journals the names itself;
//   - writing a batch of blocks: one pwritev(2) per 1024 blocks on Linux,
//     elsewhere positioned writes of up to 256 KiB gathered from the
//     blocks (writev*.go);
//   - renaming: on Windows a rename refused because another program (a
//     virus scanner, an indexer) holds the file is retried for up to two
//     seconds (rename_windows.go); a core directory is created by renaming
//     a finished hidden directory over a missing or empty one on every OS;
//   - file modes (0600 for the secret) mean nothing on Windows, where the
//     user's profile folder is private instead.
//
// Other systems (Plan 9, wasm, Solaris, AIX) are not supported: the package
// does not build there.
//
// The bytes of the replication protocol — proofs, requests, nodes,
// manifests, multi-signatures — are coded by package hypercore/wire, the
// one codec (as JS lib/messages.js); Proof, Node, Manifest and the other
// wire structures of this package are its types under the same names.
// This package starts no goroutine.
//
// Block encryption (encryption.go): AppendEncrypted and GetDecrypted with an
// Encryption derived as hypercore 11 (default cores) or hypercore 10 (compat
// cores, CoMapeo) derive it; the tree covers the stored, encrypted bytes.
//
// This package is a library another Go program can use alone: it must never
// import anything from fieldsync outside hypercore/ (it imports
// hypercore/wire and hypercore/internal/cenc).
package hypercore
