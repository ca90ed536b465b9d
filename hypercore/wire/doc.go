// Package wire is the one codec of the Hypercore replication protocol, as
// JS hypercore's lib/messages.js: every message the JavaScript Hypercore 11
// sends on its protomux channel (spec shared/spec/hypercore.md §7) — the
// channel handshake and the ten message types sync, request, cancel, data,
// noData, want, unwant, bitfield, range and extension — and the structures
// they carry: tree nodes, proof requests and proofs, manifests (§3.3) and
// multi-signatures, as plain structs with Append* and Decode* functions.
//
// It is pure encoding: no state, no I/O, no hashing, no goroutines. The
// replication state machine and the trust rules belong to its callers:
// package hypercore builds and verifies proofs and manifests (its Proof,
// Node, Manifest… are this package's types under the same names), package
// replicate runs the protocol.
//
// Decoding rules, matching the JS decoders:
//   - Trailing bytes after a message's last field are ignored. JS decodes a
//     message over its frame (or batch item) without checking that all of
//     it was used, and hypercore adds fields at the end of old messages
//     that way (noData's reason, want's flags); a Go peer must accept what
//     a newer JS peer sends. DecodeRequestExact and DecodeDataExact, for a
//     message stored on its own, refuse them, as do DecodeManifest and
//     DecodeMultiSignature.
//   - Unknown flag bits are ignored.
//   - A uint above 2^53-1 (MaxUint) is an error: compact-encoding 3.5
//     refuses it, JS numbers end there. This also leaves callers headroom:
//     start+length of two decoded values cannot overflow a uint64.
//   - Every count and length is checked against the bytes left before
//     anything is allocated; arrays of nodes are limited to 2^20 elements
//     as in JS. Decoders never panic.
//   - Varints in a longer form than needed are accepted (JS does); encoders
//     always write the shortest form, so a decoded vector re-encodes byte
//     for byte.
//
// It is a leaf: it must never import anything from fieldsync but
// hypercore/internal/cenc (never hypercore itself, which imports it).
package wire
