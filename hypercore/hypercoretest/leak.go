package hypercoretest

import (
	"bytes"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// LeakDeadline is how long CheckGoroutines waits for goroutines started by
// a test to exit before it fails the test. It is generous on purpose: a
// goroutine that is exiting on a machine kept busy by other processes must
// not fail the test; one that never exits fails it.
const LeakDeadline = 20 * time.Second

// CheckGoroutines records the goroutines running now and, when t ends (at
// its Cleanup, so after the cleanups registered later: closing streams,
// cores), fails t if any goroutine started since is still running once
// every such goroutine has had LeakDeadline to exit. It polls the runtime's
// list of goroutines and passes as soon as none of the new ones is left:
// the pass condition is an event (they have exited), never an elapsed
// time.
//
// Call it first in a test, before anything starts a goroutine. It cannot
// tell a parallel test's goroutines from this test's: do not use it in
// tests that call t.Parallel, nor alongside them in one package.
func CheckGoroutines(t testing.TB) {
	t.Helper()
	checkGoroutines(t, LeakDeadline)
}

func checkGoroutines(t testing.TB, limit time.Duration) {
	before := map[uint64]bool{}
	for _, g := range goroutines() {
		before[g.id] = true
	}
	t.Cleanup(func() {
		deadline := time.Now().Add(limit)
		wait := time.Millisecond
		for {
			var left []goroutine
			for _, g := range goroutines() {
				if !before[g.id] && !ignored(g.stack) {
					left = append(left, g)
				}
			}
			if len(left) == 0 {
				return
			}
			if time.Now().After(deadline) {
				var b strings.Builder
				for _, g := range left {
					b.WriteString("\n\n")
					b.WriteString(g.stack)
				}
				t.Errorf("%d goroutine(s) started by the test still running %v after it ended:%s", len(left), limit, b.String())
				return
			}
			// Poll: the exit of a goroutine cannot be waited on from
			// outside its owner. The interval only spaces the polls.
			time.Sleep(wait)
			wait = min(2*wait, 100*time.Millisecond)
		}
	})
}

type goroutine struct {
	id    uint64
	stack string
}

// goroutines returns every user goroutine but the caller's, with its
// stack, from runtime.Stack.
func goroutines() []goroutine {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []goroutine
	for i, s := range bytes.Split(buf, []byte("\n\n")) {
		if i == 0 {
			continue // the calling goroutine
		}
		head, _, _ := bytes.Cut(s, []byte(" ["))
		id, err := strconv.ParseUint(string(bytes.TrimPrefix(head, []byte("goroutine "))), 10, 64)
		if err != nil {
			continue
		}
		out = append(out, goroutine{id: id, stack: string(s)})
	}
	return out
}

// ignored are goroutines the runtime and the standard library start once
// per process, the first time a feature is used, and keep for good.
func ignored(stack string) bool {
	for _, s := range []string{
		"os/signal.signal_recv",
		"os/signal.loop",
		"runtime.ensureSigM",
		"testing.runFuzzing",       // the fuzzing engine
		"testing.(*F).Fuzz.func",   // fuzz workers
		"runtime/trace.Start.func", // go test -trace
	} {
		if strings.Contains(stack, s) {
			return true
		}
	}
	return false
}
