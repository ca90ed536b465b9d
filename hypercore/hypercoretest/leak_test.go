package hypercoretest

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/hypercore/secretstream"
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

// TestStreamPairsTalk: both pairs carry a message each way, and nothing
// they started outlives the test.
func TestStreamPairsTalk(t *testing.T) {
	for name, pair := range map[string]func(testing.TB, secretstream.Config, secretstream.Config) (*secretstream.Stream, *secretstream.Stream){
		"tcp": TCPStreams, "pipe": PipeStreams,
	} {
		t.Run(name, func(t *testing.T) {
			CheckGoroutines(t)
			c, s := pair(t, secretstream.Config{KeepAlive: time.Hour}, secretstream.Config{})
			if !c.IsInitiator() || s.IsInitiator() {
				t.Fatal("the client is not the initiator")
			}
			go c.WriteMessage([]byte("ping")) // net.Pipe: the write waits for the read
			if m, err := s.ReadMessage(); err != nil || string(m) != "ping" {
				t.Fatalf("server read %q, %v", m, err)
			}
			go s.WriteMessage([]byte("pong"))
			if m, err := c.ReadMessage(); err != nil || string(m) != "pong" {
				t.Fatalf("client read %q, %v", m, err)
			}
		})
	}
}

func TestVectorFileIsFound(t *testing.T) {
	var v struct {
		Wire json.RawMessage `json:"wire"`
	}
	LoadVectors(t, &v)
	if len(v.Wire) == 0 {
		t.Fatal("the vector file has no wire section")
	}
	if got := Unhex(t, "0a 0b"); len(got) != 2 || got[0] != 10 || got[1] != 11 {
		t.Fatalf("Unhex = %x", got)
	}
}
