// Package testutil holds the helpers fieldsync's tests share outside
// hypercore/: the goroutine-leak check and secret-stream pairs (from
// hypercore/hypercoretest, which the library's own tests use, since
// hypercore/ may not import this package).
//
// Only tests import it. It may import hypercore/... and nothing else from
// fieldsync, so that any package's tests can use it without a cycle.
package testutil
