package replicate

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/hypercore"
	"github.com/fieldsync/fieldsync/hypercore/wire"
)

type extLog struct {
	mu  sync.Mutex
	got []string
	ch  chan struct{}
}

func (l *extLog) add(name string, msg []byte) {
	l.mu.Lock()
	l.got = append(l.got, name+"="+string(msg))
	l.mu.Unlock()
	select {
	case l.ch <- struct{}{}:
	default:
	}
}

func (l *extLog) wait(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		l.mu.Lock()
		got := append([]string(nil), l.got...)
		l.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-l.ch:
		case <-deadline:
			t.Fatalf("got %d extension messages, want %d: %v", len(got), n, got)
		}
	}
}

// Extension messages travel both ways on a core's channel, in order,
// including ones queued before the channel opened.
func TestExtensionMessages(t *testing.T) {
	src := makeWriter(t, 10, 100, true)
	cs, ss := connect(t)
	up := NewPeer(ss, Options{})
	down := NewPeer(cs, Options{})
	upLog, downLog := &extLog{ch: make(chan struct{}, 1)}, &extLog{ch: make(chan struct{}, 1)}
	ru, err := up.Add(CoreConfig{Key: src.Key(), Core: src, Upload: true, OnExtension: upLog.add})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "r")
	rd, err := down.Add(CoreConfig{Key: src.Key(), Download: true, Live: true, OnExtension: downLog.add,
		Create: func(m *hypercore.Manifest) (*hypercore.Core, error) {
			return hypercore.CreateReplica(dir, src.Key(), m, hypercore.DurabilityOS)
		}})
	if err != nil {
		t.Fatal(err)
	}
	if err := rd.SendExtension("mapeo/have", []byte("early")); err != nil {
		t.Fatal(err)
	}
	if err := rd.SendExtension("", nil); err == nil {
		t.Fatal("an extension without a name was accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); up.Run(ctx) }()
	go func() { defer wg.Done(); down.Run(ctx) }()
	defer wg.Wait()
	defer up.Close()
	defer down.Close()

	rd.SendExtension("mapeo/download-intent", []byte("second"))
	ru.SendExtension("mapeo/project", []byte("from the writer"))
	if got := upLog.wait(t, 2); got[0] != "mapeo/have=early" || got[1] != "mapeo/download-intent=second" {
		t.Fatalf("writer received %v", got)
	}
	if got := downLog.wait(t, 1); got[0] != "mapeo/project=from the writer" {
		t.Fatalf("reader received %v", got)
	}
}

// Hypercore 10 sends an empty name for "the same extension as last time".
func TestExtensionEmptyNameMeansLast(t *testing.T) {
	log := &extLog{ch: make(chan struct{}, 8)}
	r := &Replication{cfg: CoreConfig{OnExtension: log.add}}
	r.onExtension(wire.Extension{Name: "", Message: []byte("dropped")})
	r.onExtension(wire.Extension{Name: "mapeo/have", Message: []byte("a")})
	r.onExtension(wire.Extension{Name: "", Message: []byte("b")})
	r.onExtension(wire.Extension{Name: "x", Message: nil})
	r.onExtension(wire.Extension{Name: "", Message: []byte("c")})
	got := log.wait(t, 4)
	want := []string{"mapeo/have=a", "mapeo/have=b", "x=", "x=c"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}
