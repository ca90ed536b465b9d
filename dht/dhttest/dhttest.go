// Package dhttest runs a private Mainline DHT on 127.0.0.1 for tests: a
// few plain anacrolix/dht nodes that know only each other, so nothing
// leaves the machine.
//
// It imports nothing from fieldsync; only tests import it.
package dhttest

import (
	"net"
	"sync"
	"testing"
	"time"

	anacrolix "github.com/anacrolix/dht/v2"
	"github.com/anacrolix/dht/v2/krpc"
	peer_store "github.com/anacrolix/dht/v2/peer-store"
	alog "github.com/anacrolix/log"
	"golang.org/x/time/rate"
)

// Network starts n DHT nodes on 127.0.0.1 and returns their addresses, to
// give as bootstrap nodes. When the test ends the nodes are closed and the
// goroutines started here have exited.
func Network(t testing.TB, n int) []string {
	t.Helper()
	var conns []net.PacketConn
	var addrs []string
	for range n {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		addrs = append(addrs, c.LocalAddr().String())
	}
	logger := alog.NewLogger("dhttest")
	logger.SetHandlers(alog.DiscardHandler)
	for _, c := range conns {
		sc := anacrolix.NewDefaultServerConfig()
		sc.Conn = c
		sc.NoSecurity = true
		sc.PeerStore = &store{m: map[peer_store.InfoHash]map[string]krpc.NodeAddr{}}
		sc.Logger = logger
		sc.QueryResendDelay = func() time.Duration { return 200 * time.Millisecond }
		sc.SendLimiter = rate.NewLimiter(rate.Inf, 0)
		sc.StartingNodes = func() ([]anacrolix.Addr, error) {
			var out []anacrolix.Addr
			for _, a := range addrs {
				ua, _ := net.ResolveUDPAddr("udp4", a)
				out = append(out, anacrolix.NewAddr(ua))
			}
			return out, nil
		}
		s, err := anacrolix.NewServer(sc)
		if err != nil {
			t.Fatal(err)
		}
		// The bootstrap goroutine is owned here: the cleanup closes the
		// node, which ends the bootstrap, and waits for it.
		var wg sync.WaitGroup
		t.Cleanup(func() { s.Close(); wg.Wait() })
		wg.Go(func() { s.Bootstrap() })
	}
	return addrs
}

// store keeps announces by ip:port (the bundled one keys by IP only).
type store struct {
	mu sync.Mutex
	m  map[peer_store.InfoHash]map[string]krpc.NodeAddr
}

func (s *store) AddPeer(ih peer_store.InfoHash, na krpc.NodeAddr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m[ih] == nil {
		s.m[ih] = map[string]krpc.NodeAddr{}
	}
	s.m[ih][na.String()] = na
}

func (s *store) GetPeers(ih peer_store.InfoHash) []krpc.NodeAddr {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []krpc.NodeAddr
	for _, na := range s.m[ih] {
		out = append(out, na)
	}
	return out
}
