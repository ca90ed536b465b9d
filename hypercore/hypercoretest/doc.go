// Package hypercoretest holds test helpers for programs that use the
// hypercore library, in the manner of net/http/httptest: a goroutine-leak
// check (CheckGoroutines), connected secret-stream pairs over loopback TCP
// or net.Pipe (TCPStreams, PipeStreams), allocation counting for decoder
// tests (AllocDuring), and the JS reference's vector file (LoadVectors,
// HexBytes, Unhex). The library's own tests use it, and so do fieldsync's
// (directly, or through internal/testutil). Package secretstream's own
// tests cannot: this package imports secretstream.
//
// It is imported by tests only, and starts no goroutine that outlives the
// call that started it. Like hypercore, it must never import anything from
// fieldsync outside hypercore/, so that the library stays usable (and
// testable) alone.
package hypercoretest
