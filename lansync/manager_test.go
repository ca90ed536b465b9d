package lansync

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"sync"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/hypercore/secretstream"
)

// TestOneConnectionPerPair: two devices that dial each other at once end
// with one connection, the one dialled by the smaller device key, on both
// sides; the duplicate is closed, not redialled in a storm.
func TestOneConnectionPerPair(t *testing.T) {
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
	for _, s := range []*side{a, b} {
		go s.m.Run(ctx)
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
