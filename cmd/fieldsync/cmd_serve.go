package main

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
	"syscall"
	"time"

	"github.com/fieldsync/fieldsync/dht"
	"github.com/fieldsync/fieldsync/hypercore"
	"github.com/fieldsync/fieldsync/hypercore/replicate"
	"github.com/fieldsync/fieldsync/lansync"
	"github.com/fieldsync/fieldsync/observations/index"
	"github.com/fieldsync/fieldsync/observations/project"
	"github.com/fieldsync/fieldsync/observations/projectsync"
	"github.com/spf13/cobra"
)

// serveState is what a running serve writes to serve.json in the project
// directory every second, for `fieldsync status` in another shell.
type serveState struct {
	PID     int              `json:"pid"`
	Listen  string           `json:"listen"`
	Started string           `json:"started"`
	Updated string           `json:"updated"`
	Peers   []serveStatePeer `json:"peers"`
	Cores   []serveStateCore `json:"cores"`
	// For watching a long-running base station: goroutines and heap in use.
	Goroutines int     `json:"goroutines"`
	HeapMB     float64 `json:"heapMB"`
	// With --dht: nodes known, last announce, peers found.
	DHT *dht.Status `json:"dht,omitempty"`
}

type serveStatePeer struct {
	Key              string `json:"key"`
	Behind           int    `json:"coresBehind"`
	BlocksDownloaded uint64 `json:"blocksDownloaded"`
	BlocksUploaded   uint64 `json:"blocksUploaded"`
}

type serveStateCore struct {
	Key    string `json:"key"`
	Kind   string `json:"kind"`
	Length uint64 `json:"length"`
}

const serveStateFile = "serve.json"

func newServeCmd(g *globals) *cobra.Command {
	var listen, logFormat, durability string
	var peers []string
	var noMDNS, noMedia bool
	var df dhtFlags
	var hf httpFlags
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run as a base station: advertise, accept and sync the project continuously",
		Long: `Keep the project in sync with every teammate that comes by: listen on
--listen, advertise on the local network over mDNS (unless --no-mdns),
dial the mDNS services it sees and every --peer (again after they go, with
backoff), and replicate every core of the project live, both ways. New data
is indexed at once: "fieldsync list" in another shell sees it, and
"fieldsync status" shows the connected peers. Prints one JSON line when
ready ({listen, port, device, project}); logs go to stderr (--log-format
json for machines). SIGTERM or Ctrl-C stops it cleanly within seconds.
--http ADDR also serves the map (see fieldsync web) with the live state
of every connection; the ready line then carries its "url".`,
		Example: `  fieldsync serve
  fieldsync serve --http 127.0.0.1:8080
  fieldsync serve --listen 127.0.0.1:7400 --no-mdns --log-format json`,
		Args: nArgs(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, _, err := net.SplitHostPort(listen); err != nil {
				return usageErr("--listen must be HOST:PORT, not %q", listen)
			}
			for _, p := range peers {
				if _, _, err := net.SplitHostPort(p); err != nil {
					return usageErr("--peer must be HOST:PORT, not %q", p)
				}
			}
			var log *slog.Logger
			switch logFormat {
			case "text":
				log = slog.New(slog.NewTextHandler(g.stderr, nil))
			case "json":
				log = slog.New(slog.NewJSONHandler(g.stderr, nil))
			default:
				return usageErr("--log-format must be text or json, not %q", logFormat)
			}
			mode, err := parseDurability(durability)
			if err != nil {
				return err
			}
			h, p, err := openProject(g)
			if err != nil {
				return err
			}
			if _, err := df.nodes(); err != nil {
				return err
			}
			if hf.addr != "" {
				if _, err := hf.check(); err != nil {
					return err
				}
			}
			return runProjectServe(cmd.Context(), g, h, p, serveArgs{listen: listen, peers: peers, mdns: !noMDNS, noMedia: noMedia, log: log, mode: mode, dht: df, http: hf})
		},
	}
	c.Flags().StringVar(&listen, "listen", "0.0.0.0:7400", "address to accept connections on (port 0: any free port)")
	c.Flags().StringArrayVar(&peers, "peer", nil, "a peer to keep dialling, HOST:PORT (repeatable)")
	c.Flags().BoolVar(&noMDNS, "no-mdns", false, "do not advertise or look for peers on the local network")
	c.Flags().BoolVar(&noMedia, "no-media", false, "do not download attachments")
	c.Flags().StringVar(&logFormat, "log-format", "text", "text or json")
	durabilityFlag(c, &durability)
	df.add(c)
	hf.add(c, "")
	return c
}

type serveArgs struct {
	listen  string
	peers   []string
	mdns    bool
	noMedia bool
	log     *slog.Logger
	mode    hypercore.Durability
	dht     dhtFlags
	http    httpFlags // --http: also serve the map
}

func runProjectServe(ctx context.Context, g *globals, h *project.Home, p *project.Project, a serveArgs) error {
	id, err := h.Identity()
	if err != nil {
		return err
	}
	store, err := projectsync.OpenStore(p, a.mode)
	if err != nil {
		return err
	}
	defer store.Close()
	x, err := openIndex(p)
	if err != nil {
		return err
	}
	defer x.Close()
	// New blocks are indexed as they land (at most every 200 ms).
	stored := make(chan struct{}, 1)
	store.Stored = func() {
		select {
		case stored <- struct{}{}:
		default:
		}
	}
	sr := newSyncRun()
	m := lansync.New(lansync.Config{
		Identity: id, Listen: a.listen, Peers: a.peers, MDNS: a.mdns, Redial: true, Log: a.log,
		Handler:        sr.handler(store, projectsync.Options{Live: true, NoMedia: a.noMedia}),
		MaxMessageSize: replicate.MaxMessageSize, KeepAlive: keepAlive,
	})
	mctx, cancel := context.WithCancel(ctx)
	defer cancel()
	mdone := make(chan error, 1)
	go func() { mdone <- m.Run(mctx) }()
	<-m.Ready()
	if m.Addr() == nil {
		return <-mdone
	}
	port := m.Addr().(*net.TCPAddr).Port
	dr, err := a.dht.start(mctx, h, p, m, port, 5*time.Minute, a.log)
	if err != nil {
		cancel()
		<-mdone
		return err
	}
	defer dr.wait()
	ready := map[string]any{"listen": m.Addr().String(), "port": port, "device": hex.EncodeToString(id.Public().(ed25519.PublicKey)), "project": p.Name}
	webReady, stopWeb, err := serveWeb(mctx, a.http, p, x, id, sr, m.Addr().String(), a.log)
	if err != nil {
		cancel()
		<-mdone
		return err
	}
	defer stopWeb()
	for k, v := range webReady {
		ready[k] = v
	}
	if err := writeJSON(g.stdout, ready); err != nil {
		return err
	}
	a.log.Info("serving", "project", p.Name, "listen", m.Addr().String(), "mdns", a.mdns)
	statePath := filepath.Join(p.Dir, serveStateFile)
	defer os.Remove(statePath)
	started := time.Now().UTC().Format(time.RFC3339)
	reindex := func() {
		dirs, err := p.CoreDirs()
		if err == nil {
			var st index.Stats
			if st, err = x.Update(dirs); err == nil && st.Versions > 0 {
				a.log.Info("indexed", "versions", st.Versions, "observations", st.Observations)
			}
		}
		if err != nil {
			a.log.Error("index", "err", err)
		}
	}
	writeServeState(statePath, m.Addr().String(), started, sr, store, dr.status())
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var lastIndex time.Time
	pending := false
	for {
		select {
		case err := <-mdone:
			reindex()
			if err != nil {
				return err
			}
			a.log.Info("stopped")
			return nil
		case <-ctx.Done():
			// Stop accepting, let every session write what it verified,
			// index it, and go.
			cancel()
		case <-stored:
			pending = true
		case <-tick.C:
			writeServeState(statePath, m.Addr().String(), started, sr, store, dr.status())
		}
		if pending && time.Since(lastIndex) > 200*time.Millisecond {
			reindex()
			lastIndex, pending = time.Now(), false
		}
	}
}

func writeServeState(path, listen, started string, sr *syncRun, store *projectsync.Store, dhtStatus *dht.Status) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	st := serveState{PID: os.Getpid(), Listen: listen, Started: started, Updated: time.Now().UTC().Format(time.RFC3339),
		Goroutines: runtime.NumGoroutine(), HeapMB: float64(ms.HeapInuse) / (1 << 20), DHT: dhtStatus}
	live, _, _ := sr.snapshot()
	for k, pr := range live {
		st.Peers = append(st.Peers, serveStatePeer{Key: k, Behind: pr.Behind, BlocksDownloaded: pr.BlocksDownloaded, BlocksUploaded: pr.BlocksUploaded})
	}
	sort.Slice(st.Peers, func(i, j int) bool { return st.Peers[i].Key < st.Peers[j].Key })
	for _, c := range store.List() {
		kind := "data"
		if c.Kind == projectsync.KindMedia {
			kind = "media"
		}
		st.Cores = append(st.Cores, serveStateCore{Key: hex.EncodeToString(c.Key[:]), Kind: kind, Length: c.Length})
	}
	b, _ := json.MarshalIndent(st, "", "  ")
	tmp := path + ".tmp"
	if os.WriteFile(tmp, b, 0o644) == nil {
		os.Rename(tmp, path)
	}
}

// readServeState returns the state of a serve running on the project, if
// one is (its process alive and its file fresh).
func readServeState(p *project.Project) (*serveState, bool) {
	b, err := os.ReadFile(filepath.Join(p.Dir, serveStateFile))
	if err != nil {
		return nil, false
	}
	var st serveState
	if json.Unmarshal(b, &st) != nil {
		return nil, false
	}
	if syscall.Kill(st.PID, 0) != nil {
		return nil, false
	}
	if t, err := time.Parse(time.RFC3339, st.Updated); err != nil || time.Since(t) > 10*time.Second {
		return nil, false
	}
	return &st, true
}
