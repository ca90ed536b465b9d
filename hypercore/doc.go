// Package hypercore is a Hypercore 11–compatible signed append-only log on
// disk: the flat-tree BLAKE2b Merkle tree, manifests and core keys, Ed25519
// head signatures, and Merkle proofs, byte for byte as the JavaScript
// reference (npm hypercore 11.39.5) makes them. The bytes are described in
// shared/spec/hypercore.md; testdata/hypercore-v11.json holds values made by
// the JS code, which the tests reproduce.
//
// A core lives in a directory (layout in storage.go). Rules it keeps:
//   - an Append is durable when it returns (DurabilityFsync: it survives power
//     loss; DurabilityOS: it survives a killed process, not power loss); a crash
//     within those bounds leaves the core readable up to its last complete
//     signed head;
//   - Get proves each block against the signed roots before returning it;
//   - every stored byte is covered by a hash or checksum: a flipped byte is
//     reported by Get or Verify, never returned as data;
//   - one writer per core (flock); any number of read-only openers, in other
//     processes too, each sees a consistent signed prefix;
//   - a core without its secret file can be read, not appended to; opened
//     for writing it is a replica, which stores what peers prove
//     (ApplyUpgrade, PutBlocks: a signed head, then blocks in order, each
//     verified against it), holding the first Contiguous() blocks;
//   - blocks sent to peers (Proof) are checked against a CRC-32C kept in
//     their leaf record rather than re-hashed: the peer verifies them
//     against the signed tree itself.
//
// This package is a library another Go program can use alone: it must never
// import anything from fieldsync.
package hypercore
