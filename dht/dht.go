package dht

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	anacrolix "github.com/anacrolix/dht/v2"
	"github.com/anacrolix/dht/v2/krpc"
	peer_store "github.com/anacrolix/dht/v2/peer-store"
	alog "github.com/anacrolix/log"
	"golang.org/x/crypto/blake2b"
	"golang.org/x/time/rate"
)

// Topic is the infohash fieldsync announces a project under: the first 20
// bytes of BLAKE2b-256 keyed with the discovery key over a domain tag.
func Topic(discoveryKey [32]byte) [20]byte {
	h, _ := blake2b.New256(discoveryKey[:])
	h.Write([]byte("fieldsync dht topic v1"))
	var t [20]byte
	copy(t[:], h.Sum(nil))
	return t
}

// Config of a Node.
type Config struct {
	// Listen is the UDP address of the DHT node (":0": any port).
	Listen string
	// Bootstrap are HOST:PORT of DHT nodes to start from; empty: the
	// public routers (router.bittorrent.com...).
	Bootstrap []string
	// NodesFile keeps the routing table between runs (empty: none).
	NodesFile string
	// Port is the TCP port announced (where serve/sync accept).
	Port int
	// Interval between announces and lookups (5 minutes).
	Interval time.Duration
	// Found is called with every peer address found under the topic
	// (this device's own announce aside).
	Found func(addr string)
	Log   *slog.Logger
	// Private: a test network on private or loopback addresses (no
	// node-id security, immediate resends, an unshared send limiter).
	Private bool
}

// Status is what `fieldsync status` shows.
type Status struct {
	Nodes        int       `json:"nodes"`
	LastAnnounce time.Time `json:"lastAnnounce"`
	PeersFound   int       `json:"peersFound"`
	Listen       string    `json:"listen"`
}

// Node is a DHT node announcing and looking up one topic.
type Node struct {
	cfg   Config
	topic [20]byte
	srv   *anacrolix.Server
	conn  net.PacketConn

	mu     sync.Mutex
	status Status
	seen   map[string]bool
}

// New starts a DHT node for topic.
func New(cfg Config, topic [20]byte) (*Node, error) {
	if cfg.Interval <= 0 {
		cfg.Interval = 5 * time.Minute
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Listen == "" {
		cfg.Listen = ":0"
	}
	conn, err := net.ListenPacket("udp4", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("dht: listen on %s: %w", cfg.Listen, err)
	}
	sc := anacrolix.NewDefaultServerConfig()
	sc.Conn = conn
	sc.PeerStore = newPeerStore()
	sc.NoSecurity = true
	sc.Logger = quietLogger()
	if cfg.Private {
		sc.QueryResendDelay = func() time.Duration { return 200 * time.Millisecond }
		sc.SendLimiter = rate.NewLimiter(rate.Inf, 0)
	}
	boot := cfg.Bootstrap
	sc.StartingNodes = func() ([]anacrolix.Addr, error) {
		var addrs []anacrolix.Addr
		if cfg.NodesFile != "" {
			if ns, err := anacrolix.ReadNodesFromFile(cfg.NodesFile); err == nil {
				for _, n := range ns {
					addrs = append(addrs, anacrolix.NewAddr(n.Addr.UDP()))
				}
			}
		}
		if len(boot) == 0 {
			g, err := anacrolix.GlobalBootstrapAddrs("udp4")
			return append(addrs, g...), err
		}
		for _, hp := range boot {
			ua, err := net.ResolveUDPAddr("udp4", hp)
			if err != nil {
				return nil, fmt.Errorf("dht bootstrap %s: %w", hp, err)
			}
			addrs = append(addrs, anacrolix.NewAddr(ua))
		}
		return addrs, nil
	}
	srv, err := anacrolix.NewServer(sc)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("dht: %w", err)
	}
	n := &Node{cfg: cfg, topic: topic, srv: srv, conn: conn, seen: map[string]bool{}}
	n.status.Listen = conn.LocalAddr().String()
	return n, nil
}

// Addr is the node's UDP address.
func (n *Node) Addr() net.Addr { return n.conn.LocalAddr() }

// Status reports the node's state.
func (n *Node) Status() Status {
	n.mu.Lock()
	defer n.mu.Unlock()
	st := n.status
	st.Nodes = n.srv.NumNodes()
	return st
}

// Run bootstraps, then announces and looks up the topic every Interval
// until ctx ends; then it saves the routing table and closes.
func (n *Node) Run(ctx context.Context) error {
	defer n.close()
	if _, err := n.srv.BootstrapContext(ctx); err != nil && ctx.Err() == nil {
		n.cfg.Log.Warn("dht bootstrap", "err", err)
	}
	self := fmt.Sprintf(":%d", n.cfg.Port)
	for {
		if err := n.announce(ctx, self); err != nil && ctx.Err() == nil {
			n.cfg.Log.Warn("dht announce", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(n.cfg.Interval):
		}
	}
}

// announce runs one get_peers traversal, announcing this device's port to
// the closest nodes, and reports the peers it hears of.
func (n *Node) announce(ctx context.Context, self string) error {
	var opts []anacrolix.AnnounceOpt
	if n.cfg.Port > 0 {
		opts = append(opts, anacrolix.AnnouncePeer(anacrolix.AnnouncePeerOpts{Port: n.cfg.Port}))
	}
	a, err := n.srv.AnnounceTraversal(n.topic, opts...)
	if err != nil {
		return err
	}
	defer a.Close()
	localIPs := map[string]bool{}
	if ifaddrs, err := net.InterfaceAddrs(); err == nil {
		for _, ia := range ifaddrs {
			if ipn, ok := ia.(*net.IPNet); ok {
				localIPs[ipn.IP.String()] = true
			}
		}
	}
	timeout := time.After(min(n.cfg.Interval, time.Minute))
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timeout:
			n.announced()
			return nil
		case pv, ok := <-a.Peers:
			if !ok {
				n.announced()
				return nil
			}
			for _, p := range pv.Peers {
				addr := p.String()
				if localIPs[p.IP.String()] && p.Port == n.cfg.Port {
					continue // ourselves
				}
				n.mu.Lock()
				isNew := !n.seen[addr]
				n.seen[addr] = true
				n.status.PeersFound = len(n.seen)
				n.mu.Unlock()
				if isNew {
					n.cfg.Log.Info("dht peer found", "addr", addr)
				}
				if n.cfg.Found != nil {
					n.cfg.Found(addr)
				}
			}
		}
	}
}

func (n *Node) announced() {
	n.mu.Lock()
	n.status.LastAnnounce = time.Now()
	n.mu.Unlock()
}

func (n *Node) close() {
	if n.cfg.NodesFile != "" {
		if ns := n.srv.Nodes(); len(ns) > 0 {
			tmp := n.cfg.NodesFile + ".tmp"
			if err := anacrolix.WriteNodesToFile(ns, tmp); err == nil {
				os.Rename(tmp, n.cfg.NodesFile)
			} else {
				n.cfg.Log.Warn("dht: save nodes", "err", err)
			}
		}
	}
	n.srv.Close()
	n.conn.Close()
}

// peerStore keeps announces for others (every fieldsync DHT node is a
// full DHT node), keyed by ip:port, at most 64 peers per topic and 10,000
// topics, each for an hour.
type peerStore struct {
	mu    sync.Mutex
	peers map[peer_store.InfoHash]map[string]stored
}

type stored struct {
	addr krpc.NodeAddr
	at   time.Time
}

const (
	maxPeersPerTopic = 64
	maxTopics        = 10000
	peerTTL          = time.Hour
)

func newPeerStore() *peerStore {
	return &peerStore{peers: map[peer_store.InfoHash]map[string]stored{}}
}

func (s *peerStore) AddPeer(ih peer_store.InfoHash, na krpc.NodeAddr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.peers[ih]
	if m == nil {
		if len(s.peers) >= maxTopics {
			return
		}
		m = map[string]stored{}
		s.peers[ih] = m
	}
	if _, ok := m[na.String()]; !ok && len(m) >= maxPeersPerTopic {
		return
	}
	m[na.String()] = stored{na, time.Now()}
}

func (s *peerStore) GetPeers(ih peer_store.InfoHash) []krpc.NodeAddr {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []krpc.NodeAddr
	for k, p := range s.peers[ih] {
		if time.Since(p.at) > peerTTL {
			delete(s.peers[ih], k)
			continue
		}
		out = append(out, p.addr)
	}
	return out
}

// quietLogger keeps anacrolix/dht's own log out of fieldsync's output
// (what matters is reported through Config.Log).
func quietLogger() alog.Logger {
	l := alog.NewLogger("dht")
	l.SetHandlers(alog.DiscardHandler)
	return l
}
