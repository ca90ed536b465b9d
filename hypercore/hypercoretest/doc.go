// Package hypercoretest holds test helpers for programs that use the
// hypercore library, in the manner of net/http/httptest: a goroutine-leak
// check and connected secret-stream pairs. The library's own tests use it,
// and so do fieldsync's (through internal/testutil or directly).
//
// It is imported by tests only. Like hypercore, it must never import
// anything from fieldsync outside hypercore/, so that the library stays
// usable (and testable) alone.
package hypercoretest
