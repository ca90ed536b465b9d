package lansync

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/hypercore/secretstream"
	"github.com/fieldsync/fieldsync/internal/testutil"
)

// TestOneConnectionPerPair: two devices that dial each other at once end
// with one connection, the one dialled by the smaller device key, on both
// sides; the duplicate is closed, not redialled in a storm.
func TestOneConnectionPerPair(t *testing.T) {
	testutil.CheckGoroutines(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	type side struct {
		m      *Manager
		key    ed25519.PublicKey
		mu     sync.Mutex
		live   map[*secretstream.Stream]bool // dialled by the smaller key?
		opened int
	}
	mk := func() *side {
		pub, priv, _ := ed25519.GenerateKey(nil)
		s := &side{key: pub, live: map[*secretstream.Stream]bool{}}
		s.m = New(Config{Identity: priv, Listen: "127.0.0.1:0", Redial: true, Handler: func(ctx context.Context, st *secretstream.Stream) error {
			s.mu.Lock()
			s.opened++
			s.live[st] = true
			s.mu.Unlock()
			<-ctx.Done()
			s.mu.Lock()
			delete(s.live, st)
			s.mu.Unlock()
			return ctx.Err()
		}})
		return s
	}
	a, b := mk(), mk()
	// The test owns both Runs: they have returned before it ends.
	var runs sync.WaitGroup
	defer runs.Wait()
	defer cancel()
	for _, s := range []*side{a, b} {
		runs.Go(func() { s.m.Run(ctx) })
		<-s.m.Ready()
	}
	// Each names the other: both dial at once.
	a.m.AddPeer(b.m.Addr().String())
	b.m.AddPeer(a.m.Addr().String())
	smaller := a.key
	if bytes.Compare(b.key, a.key) < 0 {
		smaller = b.key
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		a.mu.Lock()
		b.mu.Lock()
		na, nb := len(a.live), len(b.live)
		a.mu.Unlock()
		b.mu.Unlock()
		if na == 1 && nb == 1 && a.m.Connected() == 1 && b.m.Connected() == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("connections: a %d, b %d", na, nb)
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // redial backoff would show a storm here
	for _, s := range []*side{a, b} {
		s.mu.Lock()
		if len(s.live) != 1 || s.opened > 2 {
			t.Fatalf("%d live, %d opened in all", len(s.live), s.opened)
		}
		for st := range s.live {
			dialler := st.RemotePublicKey()
			if st.IsInitiator() {
				dialler = s.key
			}
			if !bytes.Equal(dialler, smaller) {
				t.Fatal("the surviving connection was dialled by the larger key")
			}
		}
		s.mu.Unlock()
	}
}

// TestAddPeerAfterRunStartsNothing: AddPeer before Run and after Run has
// returned starts no goroutine (nothing would wait for it), and Run
// returns only once its dialers and handlers have exited.
func TestAddPeerAfterRunStartsNothing(t *testing.T) {
	testutil.CheckGoroutines(t)
	_, priv, _ := ed25519.GenerateKey(nil)
	m := New(Config{Identity: priv, Listen: "127.0.0.1:0", Handler: func(ctx context.Context, s *secretstream.Stream) error {
		<-ctx.Done()
		return nil
	}})
	m.AddPeer("127.0.0.1:9") // before Run: ignored
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	<-m.Ready()
	// A dialer that keeps retrying an address where nothing listens.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	m.AddPeer(dead)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	m.AddPeer(dead) // after Run: ignored
	m.mu.Lock()
	n := len(m.addrs)
	m.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d dialers still registered after Run returned", n)
	}
}
