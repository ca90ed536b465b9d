// Package wire holds the messages of the Hypercore replication protocol as
// the JavaScript Hypercore 11 sends them on its protomux channel
// (holepunchto/hypercore lib/messages.js wire.*; spec
// shared/spec/hypercore.md §7): the channel handshake and the ten message
// types sync, request, cancel, data, noData, want, unwant, bitfield, range
// and extension, as plain structs with Append* and Decode* functions.
//
// It is pure encoding: no state, no I/O. The replication state machine and
// the trust rules belong to its caller. request and data bodies are coded by
// the hypercore package (AppendRequestMessage, DecodeDataMessage, …), which
// also verifies proofs; this package may import hypercore, hypercore must
// never import this package.
//
// Decoding rules, matching the JS decoders:
//   - Trailing bytes after a message's last field are ignored. JS decodes a
//     message over its frame (or batch item) without checking that all of
//     it was used, and hypercore adds fields at the end of old messages
//     that way (noData's reason, want's flags); a Go peer must accept what
//     a newer JS peer sends. (hypercore.DecodeRequestMessage and
//     DecodeDataMessage are strict; DecodeRequest and DecodeData measure
//     the message first and hand them exactly its bytes.)
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
// This package must never import anything from fieldsync outside
// hypercore/.
package wire
