package lansync

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/fieldsync/fieldsync/hypercore/secretstream"
	"github.com/grandcat/zeroconf"
)

// Service is the mDNS service type fieldsync advertises.
const Service = "_fieldsync._tcp"

// Handler runs one established connection until it is done or ctx ends.
type Handler func(ctx context.Context, s *secretstream.Stream) error

// Config of a Manager.
type Config struct {
	Identity ed25519.PrivateKey // this device's key: its Noise static key
	Listen   string             // TCP address to accept on ("" : none)
	Peers    []string           // HOST:PORT to dial, any address
	MDNS     bool               // advertise and browse on the local network
	// Interfaces for mDNS (nil: every multicast interface).
	Interfaces []net.Interface
	// MDNSAddrs, if set, are the addresses advertised (else the
	// interfaces' own); a loopback-only namespace needs 127.0.0.1.
	MDNSAddrs []string
	// Redial dials named and discovered peers again after a connection
	// ends or fails, with backoff (1 s doubling to 30 s); without it each
	// address is dialled until one connection to it succeeds.
	Redial         bool
	Handler        Handler
	Log            *slog.Logger
	MaxMessageSize int
	KeepAlive      time.Duration
	// OnPeer, if set, is told of connections coming and going.
	OnPeer func(ev PeerEvent)
}

// PeerEvent reports a connection established or ended.
type PeerEvent struct {
	Key     []byte // the peer's device key
	Addr    string
	Dialled bool  // we dialled it
	Up      bool  // established (false: ended)
	Err     error // why it ended
}

// Manager keeps the connections.
type Manager struct {
	cfg      Config
	ready    chan struct{}
	addr     net.Addr
	instance string

	mu     sync.Mutex
	runCtx context.Context  // set while Run runs (nil before and after)
	conns  map[string]*conn // by remote key
	addrs  map[string]bool  // addresses dialled or being dialled
	// wg counts every goroutine Run starts, directly or through dial and
	// accept; Run returns only after wg.Wait. A goroutine is added to it
	// only under mu while runCtx is set, so none is added once Run has
	// begun to wait.
	wg sync.WaitGroup
}

type conn struct {
	s       *secretstream.Stream
	cancel  context.CancelFunc
	dialler []byte // the key of the side that dialled
}

// New makes a Manager.
func New(cfg Config) *Manager {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	var b [8]byte
	rand.Read(b[:])
	return &Manager{cfg: cfg, ready: make(chan struct{}), instance: "fieldsync-" + hex.EncodeToString(b[:]),
		conns: map[string]*conn{}, addrs: map[string]bool{}}
}

// Ready is closed once the listener (if any) is up.
func (m *Manager) Ready() <-chan struct{} { return m.ready }

// Addr is the listening address (after Ready; nil without a listener).
func (m *Manager) Addr() net.Addr { return m.addr }

// Connected is the number of live connections.
func (m *Manager) Connected() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.conns)
}

// AddPeer dials addr (any address: found by the DHT, say), as Peers are,
// while Run runs; again after failures with backoff. Before Run starts
// and after it returned, it does nothing.
func (m *Manager) AddPeer(addr string) {
	m.dial(addr, true)
}

// Run listens, advertises, browses and dials until ctx ends, then closes
// every connection and returns once every goroutine it started (listener,
// dialers, handlers, mDNS) has exited.
func (m *Manager) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	m.mu.Lock()
	m.runCtx = ctx
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		m.runCtx = nil // no dial starts from now on
		m.mu.Unlock()
		cancel()
		m.wg.Wait()
	}()
	if m.cfg.Listen != "" {
		var lc net.ListenConfig
		ln, err := lc.Listen(ctx, "tcp", m.cfg.Listen)
		if err != nil {
			close(m.ready)
			return fmt.Errorf("listen on %s: %w", m.cfg.Listen, err)
		}
		m.addr = ln.Addr()
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			<-ctx.Done()
			ln.Close()
		}()
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			m.accept(ctx, ln)
		}()
	}
	close(m.ready)
	if m.cfg.MDNS {
		if err := m.mdns(ctx); err != nil {
			return err
		}
	}
	for _, a := range m.cfg.Peers {
		m.dial(a, true)
	}
	<-ctx.Done()
	return nil
}

func (m *Manager) accept(ctx context.Context, ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() == nil {
				m.cfg.Log.Warn("accept", "err", err)
			}
			return
		}
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			s, err := secretstream.Server(hctx, c, m.streamConfig())
			cancel()
			if err != nil {
				m.cfg.Log.Info("handshake failed", "peer", c.RemoteAddr().String(), "err", err)
				c.Close()
				return
			}
			m.run(ctx, s, c.RemoteAddr().String(), false)
		}()
	}
}

func (m *Manager) streamConfig() secretstream.Config {
	return secretstream.Config{Static: m.cfg.Identity, MaxMessageSize: m.cfg.MaxMessageSize, KeepAlive: m.cfg.KeepAlive}
}

// dial connects to addr (once at a time), again after failures with
// backoff, and again after the connection ends when Redial is set. It
// does nothing unless Run is running; the dialer is one of Run's
// goroutines.
func (m *Manager) dial(addr string, named bool) {
	m.mu.Lock()
	ctx := m.runCtx
	if ctx == nil || m.addrs[addr] {
		m.mu.Unlock()
		return
	}
	m.addrs[addr] = true
	m.wg.Add(1)
	m.mu.Unlock()
	go func() {
		defer m.wg.Done()
		defer func() {
			m.mu.Lock()
			delete(m.addrs, addr)
			m.mu.Unlock()
		}()
		wait := time.Second
		for ctx.Err() == nil {
			key, ok := m.dialOnce(ctx, addr)
			if ok && !m.cfg.Redial {
				return
			}
			if ok {
				wait = time.Second
				// The device may still be connected the other way (this
				// connection was the duplicate): dial again only once it
				// is gone, or every duplicate would come back each second.
				for m.connected(key) {
					select {
					case <-ctx.Done():
						return
					case <-time.After(time.Second):
					}
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			wait = min(2*wait, 30*time.Second)
		}
	}()
}

// connected says whether a connection to the device with key is live.
func (m *Manager) connected(key string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return key != "" && m.conns[key] != nil
}

// dialOnce dials addr and runs the connection; ok: it was established
// (with the device whose key is returned).
func (m *Manager) dialOnce(ctx context.Context, addr string) (key string, ok bool) {
	d := net.Dialer{Timeout: 5 * time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		m.cfg.Log.Debug("dial failed", "peer", addr, "err", err)
		return "", false
	}
	hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	s, err := secretstream.Client(hctx, c, m.streamConfig())
	cancel()
	if err != nil {
		m.cfg.Log.Info("handshake failed", "peer", addr, "err", err)
		c.Close()
		return "", false
	}
	m.run(ctx, s, addr, true)
	return string(s.RemotePublicKey()), true
}

// run keeps one connection per device pair and runs the handler.
func (m *Manager) run(ctx context.Context, s *secretstream.Stream, addr string, dialled bool) {
	remote := s.RemotePublicKey()
	if bytes.Equal(remote, m.cfg.Identity.Public().(ed25519.PublicKey)) {
		s.Close() // ourselves, seen over mDNS
		return
	}
	dialler := remote
	if dialled {
		dialler = m.cfg.Identity.Public().(ed25519.PublicKey)
	}
	key := string(remote)
	cctx, cancel := context.WithCancel(ctx)
	c := &conn{s: s, cancel: cancel, dialler: dialler}
	m.mu.Lock()
	if old := m.conns[key]; old != nil {
		// Two connections between the same devices: the one dialled by
		// the smaller key survives (both ends decide the same).
		if bytes.Compare(old.dialler, dialler) <= 0 {
			m.mu.Unlock()
			cancel()
			s.Close()
			return
		}
		old.cancel()
		old.s.Close()
	}
	m.conns[key] = c
	m.mu.Unlock()
	m.cfg.Log.Info("peer connected", "peer", addr, "key", hex.EncodeToString(remote[:4]), "dialled", dialled)
	if m.cfg.OnPeer != nil {
		m.cfg.OnPeer(PeerEvent{Key: remote, Addr: addr, Dialled: dialled, Up: true})
	}
	err := m.cfg.Handler(cctx, s)
	cancel()
	s.Close()
	m.mu.Lock()
	if m.conns[key] == c {
		delete(m.conns, key)
	}
	m.mu.Unlock()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	m.cfg.Log.Info("peer disconnected", "peer", addr, "key", hex.EncodeToString(remote[:4]), "err", err)
	if m.cfg.OnPeer != nil {
		m.cfg.OnPeer(PeerEvent{Key: remote, Addr: addr, Dialled: dialled, Err: err})
	}
}

// mdns advertises this device and dials the fieldsync services it sees.
func (m *Manager) mdns(ctx context.Context) error {
	if m.addr == nil {
		return errors.New("mDNS needs a listener")
	}
	port := m.addr.(*net.TCPAddr).Port
	var srv *zeroconf.Server
	var err error
	if len(m.cfg.MDNSAddrs) > 0 {
		srv, err = zeroconf.RegisterProxy(m.instance, Service, "local.", port, m.instance, m.cfg.MDNSAddrs, []string{"v=1"}, m.cfg.Interfaces)
	} else {
		srv, err = zeroconf.Register(m.instance, Service, "local.", port, []string{"v=1"}, m.cfg.Interfaces)
	}
	if err != nil {
		return fmt.Errorf("mDNS advertise: %w", err)
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		<-ctx.Done()
		srv.Shutdown()
	}()
	var opts []zeroconf.ClientOption
	if m.cfg.Interfaces != nil {
		opts = append(opts, zeroconf.SelectIfaces(m.cfg.Interfaces))
	}
	res, err := zeroconf.NewResolver(opts...)
	if err != nil {
		return fmt.Errorf("mDNS browse: %w", err)
	}
	entries := make(chan *zeroconf.ServiceEntry, 16)
	if err := res.Browse(ctx, Service, "local.", entries); err != nil {
		return fmt.Errorf("mDNS browse: %w", err)
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		for e := range entries {
			if e.Instance == m.instance {
				continue
			}
			for _, ip := range e.AddrIPv4 {
				if !dialable(ip) {
					continue
				}
				m.dial(net.JoinHostPort(ip.String(), strconv.Itoa(e.Port)), false)
				break
			}
		}
	}()
	return nil
}

// dialable: private, link-local or loopback addresses only (a
// discovered address could point anywhere).
func dialable(ip net.IP) bool {
	return ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLoopback()
}
