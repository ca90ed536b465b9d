// Package secretstream is the transport of Hypercore replication, byte for
// byte as @hyperswarm/secret-stream 6.9.2 makes it: a Noise XX handshake
// over Ed25519 keys, then libsodium secretstream (XChaCha20-Poly1305)
// messages, all in 24-bit length frames, over any net.Conn. A Go peer using
// it and a JS peer using secret-stream interoperate.
//
// # Bytes on the connection
//
// Every unit is u24le(len) ‖ len bytes (len ≤ 2^24 − 1), in this order:
//
//  1. Noise_XX_Ed25519_ChaChaPoly_BLAKE2b, empty prologue, empty payloads:
//     initiator → e (32 B); responder → e, ee, s, es (96 B); initiator →
//     s, se (64 B). "DH" is noise-curve-ed's: clamp(SHA-512(seed)[:32])
//     times the remote Ed25519 public key as an Edwards point, compressed,
//     refusing what libsodium crypto_scalarmult_ed25519_noclamp refuses. The
//     split gives the initiator tx = k1, rx = k2 (the responder the reverse)
//     and the 64-byte handshake hash.
//  2. One header message each way, 56 bytes: StreamID(handshakeHash, sender
//     is initiator) (32 B) ‖ the sender's secretstream header (24 B, random).
//     The receiver checks the length and the id for the remote's role.
//  3. Messages: B[0] ‖ C ‖ mac (len(m) + 17 bytes) of
//     crypto_secretstream_xchacha20poly1305_push with key tx, no additional
//     data, tag MESSAGE (cipher.go describes the algorithm). A zero-length
//     message is a keep-alive; ReadMessage drops it.
//
// # Structure
//
// Decoding, state and I/O are separate: ReadFrame and AppendFrame are the
// framing; encryptor/decryptor are the pure push/pull states; Stream (made
// by Client or Server) joins them to a connection. Every wait is bounded:
// the handshake by a context and Config.HandshakeTimeout, reads and writes by
// the deadlines the caller sets. A length prefix is checked against the
// limit before anything is allocated, and a frame's buffer grows only as its
// bytes arrive. Messages that fail authentication, malformed frames and bad
// header messages end the stream and close the connection.
//
// Not implemented, because hypercore over TCP does not use them: the IK
// pattern and pre-made handshakes of HyperDHT, and the unordered UDP send()
// messages of UDX transports.
//
// A Stream made with Config.KeepAlive owns one goroutine, which Close
// waits for; without it a Stream starts none.
//
// Like package hypercore, this package is a library another Go program can
// use alone: it imports nothing from fieldsync (never observations, export or
// cmd), only the standard library, golang.org/x/crypto, github.com/flynn/noise
// and filippo.io/edwards25519.
package secretstream
