// Package interop holds the interoperability tests between fieldsync's Go
// Hypercore (package hypercore, driven through the fieldsync CLI) and the
// JavaScript reference implementation (npm hypercore 11.39.5, pinned in
// jsref/package-lock.json). It has no code of its own; everything is in the
// _test.go files.
//
// The tests build the fieldsync binary once, make cores with
// `fieldsync core create --seed S` and `fieldsync core append`, and check,
// at many lengths, that `fieldsync core info --json` reports the same key,
// discovery key, public key, length, byte length, fork, tree hash and
// signature bytes as a JS core holding the same blocks (jsref/peer.mjs
// serve). They also have the JS verifier read what Go wrote: Go's manifest,
// the blocks `fieldsync core get` returns and every signed head
// (jsref/verify-go.mjs).
//
// The JS harness (jsref/) is installed once per package-lock.json with
// `npm ci` into a cache directory outside the repository (see
// jsharness_test.go and jsref/README.md). Without node and npm the JS checks
// skip loudly, or fail when the CI environment variable is set.
//
// hyperbee_test.go checks hypercore/hyperbee and hypercore/hyperblobs
// against the JS modules CoMapeo runs (jsbee/: hyperdrive 11.5.3, hyperbee
// 2.27.3, hyperblobs 2.3.0, hypercore 10.19.0): a bee of 10,000 keys and a
// drive of 50 MB each way, Go reading what JS wrote and JS reading what Go
// wrote, and Go's blocks equal to JS's for the same writes. These call the
// Go packages directly, not the binary.
//
// evidence_test.go runs evidence/verify.py — an evidence-bundle verifier
// written from the bundle's VERIFY.md alone, in Python 3 with the standard
// library only (its own Ed25519 from RFC 8032) — on bundles the fieldsync
// binary makes and on tampered copies, which it must refuse. Without
// python3 that test skips loudly, or fails when CI is set.
//
// The tests import package hypercore (to read a core's manifest) and
// hypercore/secretstream (to speak to the JS secret-stream), and run
// only the fieldsync binary; they use nothing else from fieldsync, so they
// check the same surface an outside implementation would see.
package interop
