package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/fieldsync/fieldsync/observations"
	"github.com/fieldsync/fieldsync/observations/index"
	"github.com/fieldsync/fieldsync/web"
	"github.com/spf13/cobra"
)

// httpFlags are the map's flags, shared by web and serve.
type httpFlags struct {
	addr, password, basemap string
}

func (hf *httpFlags) add(c *cobra.Command, def string) {
	fl := c.Flags()
	help := "serve the map on HOST:PORT (:0 picks a free port on 127.0.0.1)"
	if def == "" {
		help = "also serve the map on HOST:PORT (127.0.0.1:8080; :0 picks a free port on 127.0.0.1)"
	}
	fl.StringVar(&hf.addr, "http", def, help)
	fl.StringVar(&hf.password, "http-password", "", "password for the map (needed to listen on anything but loopback; without it one is made up and printed once)")
	fl.StringVar(&hf.basemap, "basemap", "", "an MBTiles or PMTiles (v3) file of raster tiles to draw under the observations")
}

// check validates the flags and returns the address to listen on.
func (hf *httpFlags) check() (string, error) {
	host, port, err := net.SplitHostPort(hf.addr)
	if err != nil {
		return "", usageErr("--http must be HOST:PORT or :PORT, not %q", hf.addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return "", usageErr("--http: %q is not a port", port)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}

// webRun is a map being served.
type webRun struct {
	url, token string
	done       chan error
	srv        *web.Server
}

// wait waits for the server to stop (after its context ends).
func (wr *webRun) wait() error {
	err := <-wr.done
	wr.srv.Close()
	return err
}

// startWeb listens and serves the map until ctx ends.
func startWeb(ctx context.Context, hf httpFlags, p *observations.Project, x *index.Index, id ed25519.PrivateKey, sync func() *web.SyncState, log *slog.Logger) (*webRun, error) {
	addr, err := hf.check()
	if err != nil {
		return nil, err
	}
	loopback := web.IsLoopback(addr)
	pw, token := hf.password, ""
	if !loopback && pw == "" {
		b := make([]byte, 15)
		rand.Read(b)
		token = strings.ToLower(base32.StdEncoding.EncodeToString(b))
		pw = token
	}
	srv, err := web.New(web.Config{Project: p, Index: x, Identity: id, Sync: sync, Basemap: hf.basemap, Password: pw, Loopback: loopback, Log: log})
	if err != nil {
		return nil, usageErr("%v", err)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		srv.Close()
		return nil, fmt.Errorf("cannot serve the map on %s: %w", addr, err)
	}
	host, _, _ := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = lanAddress()
	}
	port := ln.Addr().(*net.TCPAddr).Port
	wr := &webRun{url: "http://" + net.JoinHostPort(host, strconv.Itoa(port)) + "/", token: token, done: make(chan error, 1), srv: srv}
	go func() { wr.done <- web.Serve(ctx, ln, srv) }()
	return wr, nil
}

// lanAddress is an address of this machine others on the network can
// use, for printing (127.0.0.1 if it has none).
func lanAddress() string {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil && n.IP.IsGlobalUnicast() {
			return n.IP.String()
		}
	}
	return "127.0.0.1"
}

// syncFromServeState is what another process's serve wrote, for the map.
func syncFromServeState(p *observations.Project) func() *web.SyncState {
	return func() *web.SyncState {
		st, ok := p.RunningServe()
		if !ok {
			return nil
		}
		return serveStateWeb(st)
	}
}

func serveStateWeb(st *serveState) *web.SyncState {
	out := &web.SyncState{Listen: st.Listen, Started: st.Started, Updated: st.Updated, Peers: []web.SyncPeer{}}
	for _, pr := range st.Peers {
		out.Peers = append(out.Peers, web.SyncPeer{Key: pr.Key, Behind: pr.Behind, BlocksDownloaded: pr.BlocksDownloaded, BlocksUploaded: pr.BlocksUploaded})
	}
	return out
}

func newWebCmd(g *globals) *cobra.Command {
	var hf httpFlags
	var asJSON bool
	c := &cobra.Command{
		Use:   "web",
		Short: "Show the project's observations on a map in the browser (offline)",
		Long: `Serve a map of the project's observations on this machine: open the
address it prints in any browser. Nothing is fetched from the internet:
the map library and a world outline are inside fieldsync (--basemap FILE
draws your own raster tiles underneath: MBTiles or PMTiles). Filter by time,
tags, device and text; click an observation to see its photos and every
version; download the selection as GeoJSON, GeoPackage or an evidence
bundle. New observations appear as they are synced (by fieldsync sync, or
a fieldsync serve running on the same project, whose connections the
page shows). The map is read-only. It listens on 127.0.0.1 unless told
otherwise; on any other address a password is required (--http-password,
or one is made up and printed once). --json prints one line,
{"url": "http://HOST:PORT/"}, when ready. Ctrl-C stops it.`,
		Example: `  fieldsync web
  fieldsync web --http :0 --json
  fieldsync web --http 0.0.0.0:8080 --basemap region.mbtiles`,
		Args: nArgs(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := hf.check(); err != nil {
				return err
			}
			p, err := openProject(cmd, g)
			if err != nil {
				return err
			}
			id, err := p.Identity()
			if err != nil {
				return err
			}
			x, err := p.OpenIndex(cmd.Context())
			if err != nil {
				return err
			}
			defer x.Close()
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			log := slog.New(slog.NewTextHandler(g.stderr, nil))
			wr, err := startWeb(ctx, hf, p, x, id, syncFromServeState(p), log)
			if err != nil {
				return err
			}
			if err := printWebReady(g, wr, asJSON); err != nil {
				cancel()
				wr.wait()
				return err
			}
			// Keep the index current with what other processes (sync,
			// serve) write to the cores.
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for {
				select {
				case err := <-wr.done:
					wr.srv.Close()
					return err
				case <-ctx.Done():
					wr.wait()
					return nil
				case <-tick.C:
					if err := p.UpdateIndex(ctx, x); err != nil {
						log.Error("index", "err", err)
					}
				}
			}
		},
	}
	hf.add(c, "127.0.0.1:8080")
	c.Flags().BoolVar(&asJSON, "json", false, `print one line {"url": ...} when ready`)
	return c
}

func printWebReady(g *globals, wr *webRun, asJSON bool) error {
	if asJSON {
		m := map[string]string{"url": wr.url}
		if wr.token != "" {
			m["password"] = wr.token
		}
		return writeJSON(g.stdout, m)
	}
	msg := fmt.Sprintf("The map is at %s (open it in a browser; Ctrl-C stops it)\n", wr.url)
	if wr.token != "" {
		msg += fmt.Sprintf("It is reachable from other machines, so it asks for a password: %s (any user name). It is shown only this once.\n", wr.token)
	}
	_, err := fmt.Fprint(g.stdout, msg)
	return err
}

// serveWeb starts the map for serve --http, with serve's live peers; the
// returned stop ends it and waits. Without --http it does nothing.
func serveWeb(ctx context.Context, hf httpFlags, p *observations.Project, r observations.Ready, log *slog.Logger) (map[string]any, func(), error) {
	if hf.addr == "" {
		return nil, func() {}, nil
	}
	started := time.Now().UTC().Format(time.RFC3339)
	live := func() *web.SyncState {
		st := &web.SyncState{Listen: r.Listen.String(), Started: started, Updated: time.Now().UTC().Format(time.RFC3339), Peers: []web.SyncPeer{}}
		for k, pr := range r.Live() {
			st.Peers = append(st.Peers, web.SyncPeer{Key: k, Behind: pr.Behind, BlocksDownloaded: pr.BlocksDownloaded, BlocksUploaded: pr.BlocksUploaded})
		}
		return st
	}
	wctx, cancel := context.WithCancel(ctx)
	wr, err := startWeb(wctx, hf, p, r.Index, r.Identity, live, log)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	ready := map[string]any{"url": wr.url}
	if wr.token != "" {
		ready["password"] = wr.token
	}
	return ready, func() { cancel(); wr.wait() }, nil
}
