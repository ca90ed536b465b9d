package dht

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/dht/dhttest"
	"github.com/fieldsync/fieldsync/internal/testutil"
)

func TestTopicIsKeyedAndStable(t *testing.T) {
	a, b := [32]byte{1}, [32]byte{2}
	if Topic(a) == Topic(b) || Topic(a) != Topic(a) {
		t.Fatal("topics")
	}
	// The topic is not a prefix of the discovery key (nor the key of any
	// other fieldsync use).
	ta := Topic(a)
	if string(ta[:]) == string(a[:20]) {
		t.Fatal("the topic reveals the discovery key")
	}
}

// TestPrivateDHTFindsPeers: two devices of one project find each other's
// ports through a private DHT on loopback; a device announcing another
// project's topic is never reported.
func TestPrivateDHTFindsPeers(t *testing.T) {
	testutil.CheckGoroutines(t)
	boot := dhttest.Network(t, 5)
	topic, other := Topic([32]byte{7}), Topic([32]byte{8})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	// Every Run this test starts has returned before the test ends.
	var runs sync.WaitGroup
	defer runs.Wait()
	defer cancel()
	type found struct {
		mu    sync.Mutex
		addrs map[string]bool
	}
	start := time.Now()
	node := func(port int, tp [20]byte) (*Node, *found) {
		f := &found{addrs: map[string]bool{}}
		n, err := New(Config{Listen: "127.0.0.1:0", Bootstrap: boot, Port: port, Interval: 300 * time.Millisecond, Private: true,
			NodesFile: t.TempDir() + "/nodes",
			Found:     func(a string) { f.mu.Lock(); f.addrs[a] = true; f.mu.Unlock() }}, tp)
		if err != nil {
			t.Fatal(err)
		}
		runs.Go(func() { n.Run(ctx) })
		return n, f
	}
	_, fa := node(7001, topic)
	nb, fb := node(7002, topic)
	_, fx := node(7003, other)
	for {
		fa.mu.Lock()
		fb.mu.Lock()
		ok := fa.addrs["127.0.0.1:7002"] && fb.addrs["127.0.0.1:7001"]
		fa.mu.Unlock()
		fb.mu.Unlock()
		if ok {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("not found: a %v, b %v", fa.addrs, fb.addrs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("found each other %v after start", time.Since(start).Round(time.Millisecond))
	time.Sleep(time.Second) // more rounds: the other topic must never appear
	for _, f := range []*found{fa, fb} {
		f.mu.Lock()
		if f.addrs["127.0.0.1:7003"] {
			t.Fatal("a device of another topic was reported")
		}
		f.mu.Unlock()
	}
	fx.mu.Lock()
	if fx.addrs["127.0.0.1:7001"] || fx.addrs["127.0.0.1:7002"] {
		t.Fatal("the other topic's device heard of this one")
	}
	fx.mu.Unlock()
	st := nb.Status()
	if st.Nodes == 0 || st.LastAnnounce.IsZero() || st.PeersFound == 0 {
		t.Fatalf("status %+v", st)
	}

}
