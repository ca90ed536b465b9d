package main

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"sync"
	"time"

	"github.com/fieldsync/fieldsync/hypercore"
	"github.com/fieldsync/fieldsync/hypercore/replicate"
	"github.com/fieldsync/fieldsync/hypercore/secretstream"
	"github.com/fieldsync/fieldsync/lansync"
	"github.com/fieldsync/fieldsync/observations/index"
	"github.com/fieldsync/fieldsync/observations/project"
	"github.com/fieldsync/fieldsync/observations/projectsync"
	"github.com/spf13/cobra"
)

// Exit codes of sync.
const (
	exitNoPeer     = 3
	exitIncomplete = 4
)

// syncPeer is one member connection of a sync, as reported.
type syncPeer struct {
	Key        string   `json:"key"`
	Complete   bool     `json:"complete"`
	Downloaded uint64   `json:"blocksDownloaded"`
	BytesIn    uint64   `json:"bytesDownloaded"`
	Uploaded   uint64   `json:"blocksUploaded"`
	BytesOut   uint64   `json:"bytesUploaded"`
	Behind     []string `json:"behind,omitempty"` // "core: local/remote"
	Error      string   `json:"error,omitempty"`
}

// syncRun tracks the sessions of one sync or serve.
type syncRun struct {
	mu        sync.Mutex
	sessions  map[string]*projectsync.Session // live, by peer key
	peers     map[string]*syncPeer            // every member seen
	strangers int                             // connections that were not members
	changed   chan struct{}
}

func newSyncRun() *syncRun {
	return &syncRun{sessions: map[string]*projectsync.Session{}, peers: map[string]*syncPeer{}, changed: make(chan struct{}, 1)}
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
		pr := sess.Progress()
		sr.mu.Lock()
		delete(sr.sessions, key)
		if errors.Is(err, projectsync.ErrNotMember) || errors.Is(err, projectsync.ErrCapability) {
			sr.strangers++
		} else {
			p := sr.peers[key]
			if p == nil {
				p = &syncPeer{Key: key}
				sr.peers[key] = p
			}
			p.Downloaded += pr.BlocksDownloaded
			p.BytesIn += pr.BytesDownload
			p.Uploaded += pr.BlocksUploaded
			p.BytesOut += pr.BytesUploaded
			// A peer is complete once any connection with it completed;
			// a duplicate connection closed meanwhile (context canceled)
			// says nothing about it.
			switch {
			case err == nil && !opts.Live:
				p.Complete, p.Behind, p.Error = true, nil, ""
			case err != nil && !errors.Is(err, context.Canceled) && !p.Complete:
				p.Behind, p.Error = lagging(pr), err.Error()
			}
		}
		sr.mu.Unlock()
		sr.poke()
		return err
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
func (sr *syncRun) snapshot() (live map[string]projectsync.Progress, done []syncPeer, strangers int) {
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

func newSyncCmd(g *globals) *cobra.Command {
	var peers []string
	var timeout time.Duration
	var noMDNS, noMedia, asJSON bool
	var listen, durability, via string
	var df dhtFlags
	c := &cobra.Command{
		Use:   "sync",
		Short: "Find teammates and sync the whole project with them, once",
		Long: `Find peers (mDNS on the local network unless --no-mdns, plus every --peer),
open an encrypted connection to each, check inside it that the peer holds
the project (a peer that does not learns nothing), and replicate every core
of the project — every device's observations and media, including devices
only the peer has met — both ways, verifying every block before storing it.
Stops when, for every core either side knows, both hold the same length;
then the index is brought up to date and a summary printed. A progress line
per peer is drawn on a terminal; --json prints one JSON event per line.

Exit codes: 0 complete, 3 no peer of this project found, 4 incomplete at
--timeout (the cores still behind are listed), 1 other failures.`,
		Example: `  fieldsync sync                               # teammates on this Wi-Fi
  fieldsync sync --peer 192.168.1.20:7400 --no-mdns
  fieldsync sync --timeout 5m --no-media --json`,
		Args: nArgs(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if via != "" {
				return syncVia(cmd, g, via, noMedia, asJSON, durability)
			}
			if timeout <= 0 {
				return usageErr("--timeout must be positive")
			}
			if noMDNS && len(peers) == 0 && !df.on {
				return usageErr("--no-mdns needs --dht or at least one --peer HOST:PORT")
			}
			if _, err := df.nodes(); err != nil {
				return err
			}
			for _, p := range peers {
				if _, _, err := net.SplitHostPort(p); err != nil {
					return usageErr("--peer must be HOST:PORT, not %q", p)
				}
			}
			if listen == "" && (!noMDNS || df.on) {
				listen = "0.0.0.0:0"
			}
			h, p, err := openProject(g)
			if err != nil {
				return err
			}
			mode, err := parseDurability(durability)
			if err != nil {
				return err
			}
			id, err := h.Identity()
			if err != nil {
				return err
			}
			return runSync(cmd.Context(), g, h, p, id, syncArgs{peers: peers, timeout: timeout, mdns: !noMDNS, noMedia: noMedia, json: asJSON, listen: listen, mode: mode, dht: df})
		},
	}
	c.Flags().StringArrayVar(&peers, "peer", nil, "a peer to dial, HOST:PORT (repeatable; any address)")
	c.Flags().DurationVar(&timeout, "timeout", 2*time.Minute, "give up after this long (exit 4 if a peer was found, 3 if none)")
	c.Flags().BoolVar(&noMDNS, "no-mdns", false, "do not look for peers on the local network")
	c.Flags().BoolVar(&noMedia, "no-media", false, "do not download photos and other attachments (observations only)")
	c.Flags().BoolVar(&asJSON, "json", false, "print NDJSON events instead of progress and a summary")
	c.Flags().StringVar(&listen, "listen", "", "also accept connections on this address (default with mDNS or --dht: 0.0.0.0:0)")
	df.add(c)
	durabilityFlag(c, &durability)
	viaFlag(c, &via)
	return c
}

type syncArgs struct {
	peers   []string
	timeout time.Duration
	mdns    bool
	noMedia bool
	json    bool
	listen  string
	mode    hypercore.Durability
	dht     dhtFlags
}

func runSync(ctx context.Context, g *globals, h *project.Home, p *project.Project, id ed25519.PrivateKey, a syncArgs) error {
	start := time.Now()
	store, err := projectsync.OpenStore(p, a.mode)
	if err != nil {
		return err
	}
	defer store.Close()
	before := indexedCount(p)
	sr := newSyncRun()
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	emit := func(v map[string]any) {
		if a.json {
			v["ms"] = time.Since(start).Milliseconds()
			writeJSON(g.stdout, v)
		}
	}
	m := lansync.New(lansync.Config{
		Identity: id, Listen: a.listen, Peers: a.peers, MDNS: a.mdns,
		Handler:        sr.handler(store, projectsync.Options{NoMedia: a.noMedia}),
		MaxMessageSize: replicate.MaxMessageSize, KeepAlive: keepAlive,
		OnPeer: func(ev lansync.PeerEvent) {
			e := map[string]any{"event": "connected", "peer": hex.EncodeToString(ev.Key), "addr": ev.Addr}
			if !ev.Up {
				e["event"] = "disconnected"
				if ev.Err != nil {
					e["error"] = ev.Err.Error()
				}
			}
			emit(e)
		},
	})
	mctx, mcancel := context.WithCancel(ctx)
	mdone := make(chan error, 1)
	go func() { mdone <- m.Run(mctx) }()
	var dr *dhtRun
	stopManager := func() error {
		mcancel()
		err := <-mdone
		dr.wait()
		return err
	}
	<-m.Ready()
	if a.dht.on && m.Addr() != nil {
		var err error
		if dr, err = a.dht.start(mctx, h, p, m, m.Addr().(*net.TCPAddr).Port, 10*time.Second, slog.New(slog.DiscardHandler)); err != nil {
			mcancel()
			<-mdone
			return err
		}
	}
	bars := map[string]*progress{}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var idleSince time.Time
	finished := false
	for !finished {
		select {
		case err := <-mdone:
			if err != nil {
				return err
			}
			mdone <- nil
			finished = true
		case <-ctx.Done():
			finished = true
		case <-sr.changed:
		case <-tick.C:
		}
		live, done, strangers := sr.snapshot()
		for k, pr := range live {
			if a.json {
				emit(map[string]any{"event": "progress", "peer": k, "cores": pr.Cores, "behind": pr.Behind, "blocksWanted": pr.BlocksWanted,
					"blocksDownloaded": pr.BlocksDownloaded, "bytesDownloaded": pr.BytesDownload, "blocksUploaded": pr.BlocksUploaded, "bytesUploaded": pr.BytesUploaded})
				continue
			}
			b := bars[k]
			if b == nil {
				b = newProgress(g.stderr, "peer "+k[:8], 1)
				bars[k] = b
			}
			b.setSuffix(fmt.Sprintf(" blocks, %s in, %s out", sizeOf(pr.BytesDownload), sizeOf(pr.BytesUploaded)))
			b.update(pr.BlocksDownloaded, pr.BlocksDownloaded+pr.BlocksWanted)
		}
		// Complete: every named peer (and with mDNS at least one peer) has
		// finished a session, and none is running.
		completed := 0
		for _, d := range done {
			if d.Complete {
				completed++
			}
		}
		want := max(len(a.peers), 1)
		if len(live) == 0 && completed >= want {
			if idleSince.IsZero() {
				idleSince = time.Now()
			}
			// With mDNS or the DHT, a moment for other teammates to show up.
			if !a.mdns && !a.dht.on || time.Since(idleSince) > time.Second {
				finished = true
			}
		} else {
			idleSince = time.Time{}
		}
		// Every named peer answered, and none holds the project: no point
		// in waiting for the timeout.
		if !a.mdns && !a.dht.on && len(live) == 0 && completed == 0 && strangers >= want {
			finished = true
		}
	}
	for _, b := range bars {
		b.done()
	}
	dhtStatus := dr.status()
	if err := stopManager(); err != nil {
		return err
	}
	store.Close()
	live, done, strangers := sr.snapshot()
	_ = live
	after, idxErr := indexAfterSync(p)
	sum := map[string]any{"event": "summary", "peers": done, "strangers": strangers, "newObservations": max(after-before, 0),
		"seconds": time.Since(start).Seconds()}
	var in, out uint64
	complete := len(done) > 0
	for _, d := range done {
		in += d.BytesIn
		out += d.BytesOut
		complete = complete && d.Complete
	}
	sum["bytesDownloaded"], sum["bytesUploaded"], sum["complete"] = in, out, complete
	if idxErr != nil {
		sum["indexError"] = idxErr.Error()
	}
	if dhtStatus != nil {
		sum["dht"] = dhtStatus
	}
	if a.json {
		emit(sum)
	} else {
		printSyncSummary(g, done, strangers, max(after-before, 0), in, out, time.Since(start))
	}
	switch {
	case len(done) == 0:
		return &exitError{code: exitNoPeer, err: fmt.Errorf("no peer of project %q found within %v (%d other device(s) answered but hold no project in common)", p.Name, a.timeout, strangers)}
	case !complete:
		var behind []string
		for _, d := range done {
			behind = append(behind, d.Behind...)
			if d.Error != "" {
				behind = append(behind, d.Key[:8]+": "+d.Error)
			}
		}
		return &exitError{code: exitIncomplete, err: fmt.Errorf("sync incomplete after %v: %v", a.timeout, behind)}
	}
	if idxErr != nil {
		return fmt.Errorf("synced, but indexing failed: %w", idxErr)
	}
	return nil
}

func printSyncSummary(g *globals, done []syncPeer, strangers, newObs int, in, out uint64, took time.Duration) {
	for _, d := range done {
		state := "complete"
		if !d.Complete {
			state = "incomplete"
		}
		fmt.Fprintf(g.stdout, "peer %s: %s, %d blocks (%s) in, %d blocks (%s) out\n", d.Key[:8], state, d.Downloaded, sizeOf(d.BytesIn), d.Uploaded, sizeOf(d.BytesOut))
	}
	fmt.Fprintf(g.stdout, "synced with %d peer(s) in %.1fs: %d new observation(s), %s received, %s sent\n", len(done), took.Seconds(), newObs, sizeOf(in), sizeOf(out))
	if strangers > 0 {
		fmt.Fprintf(g.stdout, "%d other device(s) answered but hold no project in common (nothing exchanged)\n", strangers)
	}
}

func sizeOf(n uint64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// indexedCount is how many observations the index holds (0 if none yet).
func indexedCount(p *project.Project) int {
	x, err := index.Open(p.IndexPath())
	if err != nil {
		return 0
	}
	defer x.Close()
	cur, del, _, _, err := x.Counts()
	if err != nil {
		return 0
	}
	return cur + del
}

// indexAfterSync brings the index up to date and counts observations.
func indexAfterSync(p *project.Project) (int, error) {
	x, err := openIndex(p)
	if err != nil {
		return 0, err
	}
	defer x.Close()
	cur, del, _, _, err := x.Counts()
	return cur + del, err
}
