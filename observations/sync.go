package observations

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/fieldsync/fieldsync/dht"
	"github.com/fieldsync/fieldsync/hypercore/replicate"
	"github.com/fieldsync/fieldsync/hypercore/secretstream"
	"github.com/fieldsync/fieldsync/lansync"
	"github.com/fieldsync/fieldsync/observations/index"
	"github.com/fieldsync/fieldsync/observations/projectsync"
	"github.com/fieldsync/fieldsync/observations/usbsync"
)

// KeepAlive is how often an idle connection sends an empty message (as
// hypercore does), so peers with idle timeouts keep it.
const KeepAlive = 5 * time.Second

// How often the DHT topic is announced and looked up: a one-shot sync
// waits for peers and looks often; a base station is found.
const (
	syncDHTInterval  = 10 * time.Second
	serveDHTInterval = 5 * time.Minute
)

// DHTOptions turn on finding teammates through the BitTorrent Mainline DHT.
type DHTOptions struct {
	Listen    string   // UDP address of the DHT node (":0": any port)
	Bootstrap []string // HOST:PORT of nodes to start from (nil: the public routers)
}

// SyncOptions say how to find and meet teammates.
type SyncOptions struct {
	Listen  string      // also accept connections here ("": none)
	Peers   []string    // HOST:PORT to dial
	MDNS    bool        // advertise and look on the local network
	NoMedia bool        // do not download attachments
	DHT     *DHTOptions // nil: no DHT
	Log     *slog.Logger

	// Sync only.
	Timeout time.Duration // give up after this long (required)
	// OnPeer, if set, is told of connections coming and going.
	OnPeer func(lansync.PeerEvent)
	// OnProgress, if set, gets the sessions with members that are running,
	// by peer key (hex), whenever one changes and every 250 ms.
	OnProgress func(live map[string]projectsync.Progress)
	// Listening, if set, is called with the address accepted on.
	Listening func(addr net.Addr)
}

// PeerResult is what a sync did with one member, over every connection.
type PeerResult struct {
	Key        string   `json:"key"`
	Complete   bool     `json:"complete"`
	Downloaded uint64   `json:"blocksDownloaded"`
	BytesIn    uint64   `json:"bytesDownloaded"`
	Uploaded   uint64   `json:"blocksUploaded"`
	BytesOut   uint64   `json:"bytesUploaded"`
	Behind     []string `json:"behind,omitempty"` // "core: n here, m there"
	Error      string   `json:"error,omitempty"`
}

// SyncResult is the outcome of one Sync.
type SyncResult struct {
	Peers           []PeerResult // every member met, by key
	Strangers       int          // connections that were not members
	NewObservations int
	BytesIn         uint64
	BytesOut        uint64
	Complete        bool        // met at least one member, and every one completed
	IndexErr        error       // the index could not be brought up to date
	DHT             *dht.Status // with DHT options
	Elapsed         time.Duration
}

// Errors of Sync, besides failures to start.
var (
	ErrNoPeer     = errors.New("no peer of the project found")
	ErrIncomplete = errors.New("sync incomplete")
)

// syncError is an error that is one of the sentinels above, in its own words.
type syncError struct {
	is  error
	msg string
}

func (e *syncError) Error() string        { return e.msg }
func (e *syncError) Is(target error) bool { return target == e.is }

// Sync finds teammates and replicates every core of the project with them
// once: it stops when every named peer (at least one peer without names)
// has completed a session and none is running, waiting a moment more for
// others when peers are found by mDNS or the DHT; when every named peer
// answered and none is a member; or at the timeout. Then the index is
// brought up to date. The result is returned with ErrNoPeer, ErrIncomplete
// or an *IndexError too.
func (p *Project) Sync(ctx context.Context, o SyncOptions) (*SyncResult, error) {
	start := time.Now()
	if o.Timeout <= 0 {
		return nil, errors.New("sync: no timeout")
	}
	id, err := p.Identity()
	if err != nil {
		return nil, err
	}
	store, err := projectsync.OpenStore(p.Project, p.Durability)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	before := p.indexedCount()
	sr := newSyncRun()
	tctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	n, err := p.startNetwork(tctx, id, o, sr.handler(store, projectsync.Options{NoMedia: o.NoMedia}), false)
	if err != nil {
		return nil, err
	}
	runErr := p.syncUntilDone(tctx, n, sr, o)
	dhtStatus := n.dhtStatus()
	if err := errors.Join(runErr, n.stop()); err != nil {
		return nil, err
	}
	store.Close()
	_, done, strangers := sr.snapshot()
	res := &SyncResult{Peers: done, Strangers: strangers, DHT: dhtStatus, Complete: len(done) > 0}
	for _, d := range done {
		res.BytesIn += d.BytesIn
		res.BytesOut += d.BytesOut
		res.Complete = res.Complete && d.Complete
	}
	after, idxErr := p.countAfterSync(ctx)
	res.NewObservations, res.IndexErr = max(after-before, 0), idxErr
	res.Elapsed = time.Since(start)
	switch {
	case len(done) == 0:
		return res, &syncError{ErrNoPeer, fmt.Sprintf("no peer of project %q found within %v (%d other device(s) answered but hold no project in common)", p.Name, o.Timeout, strangers)}
	case !res.Complete:
		var behind []string
		for _, d := range done {
			behind = append(behind, d.Behind...)
			if d.Error != "" {
				behind = append(behind, d.Key[:8]+": "+d.Error)
			}
		}
		return res, &syncError{ErrIncomplete, fmt.Sprintf("sync incomplete after %v: %v", o.Timeout, behind)}
	case idxErr != nil:
		return res, fmt.Errorf("synced, but %w", &IndexError{idxErr})
	}
	return res, nil
}

// syncUntilDone waits for the sessions of a one-shot sync to be done (see
// Sync), reporting progress; it returns lansync's failure, if any.
func (p *Project) syncUntilDone(ctx context.Context, n *network, sr *syncRun, o SyncOptions) error {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	lookingAround := o.MDNS || o.DHT != nil
	want := max(len(o.Peers), 1)
	var idleSince time.Time
	for {
		select {
		case <-n.done:
			if err := n.err(); err != nil {
				return err
			}
			return nil
		case <-ctx.Done():
			return nil
		case <-sr.changed:
		case <-tick.C:
		}
		live, done, strangers := sr.snapshot()
		if o.OnProgress != nil {
			o.OnProgress(live)
		}
		completed := 0
		for _, d := range done {
			if d.Complete {
				completed++
			}
		}
		// Complete: every named peer (and with mDNS at least one peer) has
		// finished a session, and none is running.
		if len(live) == 0 && completed >= want {
			if idleSince.IsZero() {
				idleSince = time.Now()
			}
			// With mDNS or the DHT, a moment for other teammates to show up.
			if !lookingAround || time.Since(idleSince) > time.Second {
				return nil
			}
		} else {
			idleSince = time.Time{}
		}
		// Every named peer answered, and none holds the project: no point
		// in waiting for the timeout.
		if !lookingAround && len(live) == 0 && completed == 0 && strangers >= want {
			return nil
		}
	}
}

// indexedCount is how many observations the index holds (0 if none yet).
func (p *Project) indexedCount() int {
	x, err := index.Open(p.IndexPath())
	if err != nil {
		return 0
	}
	defer x.Close()
	c, err := counts(x)
	if err != nil {
		return 0
	}
	return c.Current + c.Deleted
}

// countAfterSync brings the index up to date and counts observations.
func (p *Project) countAfterSync(ctx context.Context) (int, error) {
	x, err := p.OpenIndex(ctx)
	if err != nil {
		return 0, err
	}
	defer x.Close()
	c, err := counts(x)
	return c.Current + c.Deleted, err
}

// network is lansync, and the DHT node if asked for, running for one Sync
// or Serve. stop ends both and waits for them.
type network struct {
	m      *lansync.Manager
	node   *dht.Node
	cancel context.CancelFunc
	wg     sync.WaitGroup
	done   chan struct{} // closed when lansync's Run returned
	runErr error         // what it returned
}

func (p *Project) startNetwork(ctx context.Context, id ed25519.PrivateKey, o SyncOptions, h lansync.Handler, live bool) (*network, error) {
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg := lansync.Config{
		Identity: id, Listen: o.Listen, Peers: o.Peers, MDNS: o.MDNS, Redial: live, Log: o.Log,
		Handler: h, MaxMessageSize: replicate.MaxMessageSize, KeepAlive: KeepAlive, OnPeer: o.OnPeer,
	}
	ctx, cancel := context.WithCancel(ctx)
	n := &network{m: lansync.New(cfg), cancel: cancel, done: make(chan struct{})}
	n.wg.Go(func() {
		defer close(n.done)
		n.runErr = n.m.Run(ctx)
	})
	<-n.m.Ready()
	if n.m.Addr() == nil {
		return n, nil
	}
	if o.Listening != nil {
		o.Listening(n.m.Addr())
	}
	if o.DHT == nil {
		return n, nil
	}
	interval := syncDHTInterval
	if live {
		interval = serveDHTInterval
	}
	port := n.m.Addr().(*net.TCPAddr).Port
	private := false
	for _, b := range o.DHT.Bootstrap {
		host, _, _ := net.SplitHostPort(b)
		if ip := net.ParseIP(host); ip != nil && (ip.IsLoopback() || ip.IsPrivate()) {
			private = true
		}
	}
	node, err := dht.New(dht.Config{Listen: o.DHT.Listen, Bootstrap: o.DHT.Bootstrap, NodesFile: filepath.Join(p.Home.Dir, "dht-nodes"),
		Port: port, Interval: interval, Found: n.m.AddPeer, Log: log, Private: private}, dht.Topic(p.DiscoveryKey()))
	if err != nil {
		n.stop()
		return nil, err
	}
	n.node = node
	n.wg.Go(func() { node.Run(ctx) })
	log.Info("dht on", "udp", node.Addr().String(), "announcing tcp port", port)
	return n, nil
}

// err is what lansync's Run returned, once done is closed.
func (n *network) err() error {
	<-n.done
	return n.runErr
}

// stop ends lansync and the DHT node and waits for both (the node saves
// its routing table); it returns lansync's failure, if any.
func (n *network) stop() error {
	n.cancel()
	n.wg.Wait()
	return n.runErr
}

func (n *network) dhtStatus() *dht.Status {
	if n.node == nil {
		return nil
	}
	st := n.node.Status()
	return &st
}

// syncRun tracks the sessions of one Sync or Serve.
type syncRun struct {
	mu        sync.Mutex
	sessions  map[string]*projectsync.Session // live, by peer key
	peers     map[string]*PeerResult          // every member seen
	strangers int                             // connections that were not members
	changed   chan struct{}
}

func newSyncRun() *syncRun {
	return &syncRun{sessions: map[string]*projectsync.Session{}, peers: map[string]*PeerResult{}, changed: make(chan struct{}, 1)}
}

func (sr *syncRun) poke() {
	select {
	case sr.changed <- struct{}{}:
	default:
	}
}

// handler runs one connection's session.
func (sr *syncRun) handler(store *projectsync.Store, opts projectsync.Options) lansync.Handler {
	return func(ctx context.Context, s *secretstream.Stream) error {
		sess := projectsync.New(s, store, opts)
		key := hex.EncodeToString(s.RemotePublicKey())
		sr.mu.Lock()
		sr.sessions[key] = sess
		sr.mu.Unlock()
		sr.poke()
		err := sess.Run(ctx)
		sr.ended(key, sess.Progress(), err, opts.Live)
		sr.poke()
		return err
	}
}

// ended records a finished session with peer key.
func (sr *syncRun) ended(key string, pr projectsync.Progress, err error, live bool) {
	sr.mu.Lock()
	defer sr.mu.Unlock()
	delete(sr.sessions, key)
	if errors.Is(err, projectsync.ErrNotMember) || errors.Is(err, projectsync.ErrCapability) {
		sr.strangers++
		return
	}
	p := sr.peers[key]
	if p == nil {
		p = &PeerResult{Key: key}
		sr.peers[key] = p
	}
	p.Downloaded += pr.BlocksDownloaded
	p.BytesIn += pr.BytesDownload
	p.Uploaded += pr.BlocksUploaded
	p.BytesOut += pr.BytesUploaded
	// A peer is complete once any connection with it completed; a
	// duplicate connection closed meanwhile (context canceled) says
	// nothing about it.
	switch {
	case err == nil && !live:
		p.Complete, p.Behind, p.Error = true, nil, ""
	case err != nil && !errors.Is(err, context.Canceled) && !p.Complete:
		p.Behind, p.Error = lagging(pr), err.Error()
	}
}

func lagging(pr projectsync.Progress) []string {
	var out []string
	for _, l := range pr.Lagging {
		out = append(out, fmt.Sprintf("%x: %d here, %d there", l.Key[:4], l.Local, l.Remote))
	}
	return out
}

// snapshot is the state for progress and summaries.
func (sr *syncRun) snapshot() (live map[string]projectsync.Progress, done []PeerResult, strangers int) {
	sr.mu.Lock()
	defer sr.mu.Unlock()
	live = map[string]projectsync.Progress{}
	for k, s := range sr.sessions {
		if s.Member() {
			live[k] = s.Progress()
		}
	}
	for _, p := range sr.peers {
		done = append(done, *p)
	}
	sort.Slice(done, func(i, j int) bool { return done[i].Key < done[j].Key })
	return live, done, sr.strangers
}

// SyncVia exchanges everything with the sync folder in dir, on removable
// media (see usbsync; o.Durability is the project's), then brings the index
// up to date. It returns the folder's result, the observations new here,
// and an *IndexError if only the indexing failed.
func (p *Project) SyncVia(ctx context.Context, dir string, o usbsync.Options) (*usbsync.Result, int, error) {
	before := p.indexedCount()
	o.Durability = p.Durability
	res, err := usbsync.Sync(ctx, p.Project, dir, o)
	if err != nil {
		if res != nil && res.BlocksIn > 0 {
			p.countAfterSync(ctx) // what was verified and stored is listed
		}
		return res, 0, err
	}
	after, err := p.countAfterSync(ctx)
	if err != nil {
		return res, max(after-before, 0), &IndexError{err}
	}
	return res, max(after-before, 0), nil
}
