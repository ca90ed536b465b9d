package hypercoretest

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeT records what CheckGoroutines reports instead of failing the test.
type fakeT struct {
	testing.TB
	mu       sync.Mutex
	cleanups []func()
	errs     []string
}

func (f *fakeT) Helper()           {}
func (f *fakeT) Cleanup(fn func()) { f.cleanups = append(f.cleanups, fn) }
func (f *fakeT) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
}

func (f *fakeT) end() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}

func TestCheckGoroutinesReportsALeak(t *testing.T) {
	f := &fakeT{TB: t}
	checkGoroutines(f, 300*time.Millisecond)
	stop := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		<-stop // never closed before the check ends: a leak
	}()
	f.end()
	close(stop)
	<-exited
	if len(f.errs) != 1 || !strings.Contains(f.errs[0], "TestCheckGoroutinesReportsALeak") {
		t.Fatalf("the leaked goroutine was not reported with its stack: %q", f.errs)
	}
}

func TestCheckGoroutinesWaitsForExits(t *testing.T) {
	f := &fakeT{TB: t}
	checkGoroutines(f, LeakDeadline)
	release := make(chan struct{})
	go func() { <-release }()
	// The goroutine exits only while the check is already polling: the
	// check must wait for the exit, not judge at once.
	f.Cleanup(func() { go close(release) })
	f.end()
	if len(f.errs) != 0 {
		t.Fatalf("goroutines that exited were reported: %q", f.errs)
	}
}

func TestCheckGoroutinesIgnoresOlderGoroutines(t *testing.T) {
	stop := make(chan struct{})
	exited := make(chan struct{})
	go func() { defer close(exited); <-stop }()
	f := &fakeT{TB: t}
	checkGoroutines(f, 300*time.Millisecond)
	f.end()
	close(stop)
	<-exited
	if len(f.errs) != 0 {
		t.Fatalf("a goroutine started before the check was reported: %q", f.errs)
	}
}
