// Package protomux is the channel multiplexer that Hypercore replication
// runs on, byte-compatible with the JavaScript protomux (holepunchto/protomux
// 3.12.1, the version of the vectors; spec shared/spec/hypercore.md §6).
//
// Every decrypted secret-stream message is one frame:
//
//	uint channel ‖ uint type ‖ payload
//
// Channel 0 is the control channel (batch, open, reject, close). The package
// has two layers, kept apart:
//
//   - frame.go: the wire format. Pure functions that decode and encode
//     frames, control messages and batches. No state; payloads alias the
//     input.
//   - mux.go: the channel table (Mux). It is fed received frames and hands
//     out events one at a time (NextEvent) and frames to send
//     (AppendOutput); it pairs local and remote opens by (protocol, id),
//     applies the channel id rules, answers opens nobody claims with
//     reject, and buffers messages for channels not yet opened locally, up
//     to a bound. It has no goroutines and does no I/O: the connection loop
//     that reads and writes the stream lives elsewhere.
//
// Decoders never panic and check every count and length against the bytes
// that remain before they allocate. A uint above 2^53-1 is an error, as in
// compact-encoding 3.5 (JS numbers end there).
//
// Trailing bytes: JS decodes each message with compact-encoding over the
// frame (or batch item) and never checks that it consumed all of it, so
// trailing bytes after a control message are ignored here too. That is how
// the JS protocols add fields to old messages.
//
// Where the Mux deliberately differs from JS (each case is one no JS peer
// reaches in normal operation, and a JS peer on the other end stays
// consistent):
//   - an open with channel id 0 is a protocol error (JS tries to reject it);
//   - a close for an open not yet answered frees its slot and answers with
//     reject (JS ignores the close and keeps the slot taken);
//   - an open that pairs with a channel closed here before the remote
//     opened it is answered with close, so the remote does not keep a
//     channel that is gone here (JS only frees its id);
//   - buffered bytes beyond Config.MaxBuffered are an error (JS pauses the
//     stream);
//   - a local channel with aliases pairs with a waiting remote open made
//     under an alias (JS registers the alias too late and misses it);
//   - batch items longer than the batch, and batches in batches, are
//     malformed (see BatchReader).
//
// This package must never import anything from fieldsync outside
// hypercore/ (it uses only hypercore/internal/cenc and the standard
// library).
package protomux
