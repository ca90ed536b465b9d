package testutil

import (
	"testing"

	"github.com/fieldsync/fieldsync/hypercore/hypercoretest"
)

// CheckGoroutines fails t if goroutines started after this call are still
// running when t ends, once they have had a generous deadline to exit
// (hypercoretest.CheckGoroutines). Call it first in a test that is not
// parallel.
func CheckGoroutines(t testing.TB) {
	t.Helper()
	hypercoretest.CheckGoroutines(t)
}
