package observations

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"time"

	"github.com/fieldsync/fieldsync/dht"
	"github.com/fieldsync/fieldsync/internal/atomicfile"
	"github.com/fieldsync/fieldsync/observations/index"
	"github.com/fieldsync/fieldsync/observations/projectsync"
	"github.com/fieldsync/fieldsync/observations/record"
)

// ServeState is what a running Serve writes to serve.json in the project
// directory every second, for Status in another process.
type ServeState struct {
	PID     int              `json:"pid"`
	Listen  string           `json:"listen"`
	Started string           `json:"started"`
	Updated string           `json:"updated"`
	Peers   []ServeStatePeer `json:"peers"`
	Cores   []ServeStateCore `json:"cores"`
	// For watching a long-running base station: goroutines and heap in use.
	Goroutines int     `json:"goroutines"`
	HeapMB     float64 `json:"heapMB"`
	// With the DHT: nodes known, last announce, peers found.
	DHT *dht.Status `json:"dht,omitempty"`
}

// ServeStatePeer is one connected member.
type ServeStatePeer struct {
	Key              string `json:"key"`
	Behind           int    `json:"coresBehind"`
	BlocksDownloaded uint64 `json:"blocksDownloaded"`
	BlocksUploaded   uint64 `json:"blocksUploaded"`
}

// ServeStateCore is one core held.
type ServeStateCore struct {
	Key    string          `json:"key"`
	Kind   record.CoreKind `json:"kind"`
	Length uint64          `json:"length"`
}

// ServeStateFile is the name of the file in the project directory that a
// running Serve keeps up to date.
const ServeStateFile = "serve.json"

// Ready is what Serve tells its caller once it accepts connections.
type Ready struct {
	Listen   net.Addr
	Device   ed25519.PublicKey
	Project  string
	Identity ed25519.PrivateKey
	// Index is the project's index, kept up to date while Serve runs (for
	// readers such as a map served alongside).
	Index *index.Index
	// Live gives the sessions with members that are running, by peer key.
	Live func() map[string]projectsync.Progress
}

// Serve keeps the project in sync with every teammate that comes by, as a
// base station: it accepts on o.Listen, advertises and browses over mDNS
// (o.MDNS), dials every o.Peers (again after they go, with backoff), finds
// teammates through the DHT (o.DHT), and replicates every core live, both
// ways. New blocks are indexed as they land (at most every 200 ms), and
// serve.json tells Status who is connected. ready is called once it
// listens; an error from it stops Serve; the stop it returns (if not nil)
// is called before Serve closes the index. Serve returns when ctx ends (nil)
// or on a failure, after every goroutine it started has returned and what
// the sessions stored is indexed.
func (p *Project) Serve(ctx context.Context, o SyncOptions, ready func(Ready) (stop func(), err error)) error {
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	id, err := p.Identity()
	if err != nil {
		return err
	}
	store, err := projectsync.OpenStore(p.Project, p.Durability)
	if err != nil {
		return err
	}
	defer store.Close()
	x, err := p.OpenIndex(ctx)
	if err != nil {
		return err
	}
	defer x.Close()
	stored := make(chan struct{}, 1)
	store.Stored = func() {
		select {
		case stored <- struct{}{}:
		default:
		}
	}
	sr := newSyncRun()
	n, err := p.startNetwork(ctx, id, o, sr.handler(store, projectsync.Options{Live: true, NoMedia: o.NoMedia}), true)
	if err != nil {
		return err
	}
	defer n.stop()
	if n.m.Addr() == nil {
		return n.err()
	}
	stop, err := ready(Ready{Listen: n.m.Addr(), Device: id.Public().(ed25519.PublicKey), Project: p.Name, Identity: id, Index: x,
		Live: func() map[string]projectsync.Progress { live, _, _ := sr.snapshot(); return live }})
	if err != nil {
		return err
	}
	if stop != nil {
		defer stop()
	}
	log.Info("serving", "project", p.Name, "listen", n.m.Addr().String(), "mdns", o.MDNS)
	s := &serving{p: p, x: x, n: n, sr: sr, store: store, log: log,
		path: filepath.Join(p.Dir, ServeStateFile), started: time.Now().UTC().Format(time.RFC3339)}
	defer os.Remove(s.path)
	return s.loop(ctx, stored)
}

// serving is one running Serve.
type serving struct {
	p       *Project
	x       *index.Index
	n       *network
	sr      *syncRun
	store   *projectsync.Store
	log     *slog.Logger
	path    string
	started string
}

// loop indexes what sessions store and writes serve.json each second
// until lansync ends (after ctx ended, or on a failure).
func (s *serving) loop(ctx context.Context, stored <-chan struct{}) error {
	s.writeState()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var lastIndex time.Time
	pending := false
	stop := ctx.Done()
	for {
		select {
		case <-s.n.done:
			// Every session has written what it verified: index it,
			// even though ctx has ended.
			s.reindex(context.WithoutCancel(ctx))
			if err := s.n.err(); err != nil {
				return err
			}
			s.log.Info("stopped")
			return nil
		case <-stop:
			// Stop accepting, let every session end, index, and go.
			s.n.cancel()
			stop = nil
		case <-stored:
			pending = true
		case <-tick.C:
			s.writeState()
		}
		if pending && time.Since(lastIndex) > 200*time.Millisecond {
			s.reindex(ctx)
			lastIndex, pending = time.Now(), false
		}
	}
}

func (s *serving) reindex(ctx context.Context) {
	st, err := s.p.updateIndex(ctx, s.x)
	if err != nil {
		s.log.Error("index", "err", err)
		return
	}
	if st.Versions > 0 {
		s.log.Info("indexed", "versions", st.Versions, "observations", st.Observations)
	}
}

// writeState replaces serve.json; a failure is logged, not fatal.
func (s *serving) writeState() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	st := ServeState{PID: os.Getpid(), Listen: s.n.m.Addr().String(), Started: s.started, Updated: time.Now().UTC().Format(time.RFC3339),
		Goroutines: runtime.NumGoroutine(), HeapMB: float64(ms.HeapInuse) / (1 << 20), DHT: s.n.dhtStatus()}
	live, _, _ := s.sr.snapshot()
	for k, pr := range live {
		st.Peers = append(st.Peers, ServeStatePeer{Key: k, Behind: pr.Behind, BlocksDownloaded: pr.BlocksDownloaded, BlocksUploaded: pr.BlocksUploaded})
	}
	sort.Slice(st.Peers, func(i, j int) bool { return st.Peers[i].Key < st.Peers[j].Key })
	for _, c := range s.store.List() {
		st.Cores = append(st.Cores, ServeStateCore{Key: hex.EncodeToString(c.Key[:]), Kind: c.Kind, Length: c.Length})
	}
	b, _ := json.MarshalIndent(st, "", "  ")
	if err := atomicfile.WriteFile(s.path, b, 0o644); err != nil {
		s.log.Warn("serve state", "err", err)
	}
}

// RunningServe returns the state of a Serve running on the project, if
// one is (its process alive and its file fresh).
func (p *Project) RunningServe() (*ServeState, bool) {
	b, err := os.ReadFile(filepath.Join(p.Dir, ServeStateFile))
	if err != nil {
		return nil, false
	}
	var st ServeState
	if json.Unmarshal(b, &st) != nil {
		return nil, false
	}
	if !processAlive(st.PID) {
		return nil, false
	}
	if t, err := time.Parse(time.RFC3339, st.Updated); err != nil || time.Since(t) > 10*time.Second {
		return nil, false
	}
	return &st, true
}
