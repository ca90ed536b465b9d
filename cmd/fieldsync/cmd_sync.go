package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/fieldsync/fieldsync/lansync"
	"github.com/fieldsync/fieldsync/observations"
	"github.com/fieldsync/fieldsync/observations/projectsync"
	"github.com/spf13/cobra"
)

// Exit codes of sync.
const (
	exitNoPeer     = 3
	exitIncomplete = 4
)

func newSyncCmd(g *globals) *cobra.Command {
	var peers []string
	var timeout time.Duration
	var noMDNS, noMedia, asJSON bool
	var listen, via string
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
				return syncVia(cmd, g, via, noMedia, asJSON)
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
			p, err := openProject(cmd, g)
			if err != nil {
				return err
			}
			return runSync(cmd.Context(), g, p, asJSON, observations.SyncOptions{Peers: peers, Timeout: timeout, MDNS: !noMDNS, NoMedia: noMedia, Listen: listen, DHT: df.options()})
		},
	}
	c.Flags().StringArrayVar(&peers, "peer", nil, "a peer to dial, HOST:PORT (repeatable; any address)")
	c.Flags().DurationVar(&timeout, "timeout", 2*time.Minute, "give up after this long (exit 4 if a peer was found, 3 if none)")
	c.Flags().BoolVar(&noMDNS, "no-mdns", false, "do not look for peers on the local network")
	c.Flags().BoolVar(&noMedia, "no-media", false, "do not download photos and other attachments (observations only)")
	c.Flags().BoolVar(&asJSON, "json", false, "print NDJSON events instead of progress and a summary")
	c.Flags().StringVar(&listen, "listen", "", "also accept connections on this address (default with mDNS or --dht: 0.0.0.0:0)")
	df.add(c)
	durabilityFlag(c, &g.durability)
	viaFlag(c, &via)
	return c
}

// runSync syncs once, drawing a progress bar per peer on a terminal (or
// printing NDJSON events), then prints the summary.
func runSync(ctx context.Context, g *globals, p *observations.Project, asJSON bool, o observations.SyncOptions) error {
	start := time.Now()
	emit := func(v map[string]any) {
		if asJSON {
			v["ms"] = time.Since(start).Milliseconds()
			writeJSON(g.stdout, v)
		}
	}
	o.OnPeer = func(ev lansync.PeerEvent) {
		e := map[string]any{"event": "connected", "peer": hex.EncodeToString(ev.Key), "addr": ev.Addr}
		if !ev.Up {
			e["event"] = "disconnected"
			if ev.Err != nil {
				e["error"] = ev.Err.Error()
			}
		}
		emit(e)
	}
	bars := map[string]*progress{}
	o.OnProgress = func(live map[string]projectsync.Progress) {
		for k, pr := range live {
			if asJSON {
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
	}
	res, err := p.Sync(ctx, o)
	for _, b := range bars {
		b.done()
	}
	if res == nil {
		return err
	}
	if asJSON {
		sum := map[string]any{"event": "summary", "peers": res.Peers, "strangers": res.Strangers, "newObservations": res.NewObservations,
			"seconds": res.Elapsed.Seconds(), "bytesDownloaded": res.BytesIn, "bytesUploaded": res.BytesOut, "complete": res.Complete}
		if res.IndexErr != nil {
			sum["indexError"] = res.IndexErr.Error()
		}
		if res.DHT != nil {
			sum["dht"] = res.DHT
		}
		emit(sum)
	} else {
		printSyncSummary(g, res)
	}
	switch {
	case errors.Is(err, observations.ErrNoPeer):
		return &exitError{code: exitNoPeer, err: err}
	case errors.Is(err, observations.ErrIncomplete):
		return &exitError{code: exitIncomplete, err: err}
	}
	return err
}

func printSyncSummary(g *globals, res *observations.SyncResult) {
	for _, d := range res.Peers {
		state := "complete"
		if !d.Complete {
			state = "incomplete"
		}
		fmt.Fprintf(g.stdout, "peer %s: %s, %d blocks (%s) in, %d blocks (%s) out\n", d.Key[:8], state, d.Downloaded, sizeOf(d.BytesIn), d.Uploaded, sizeOf(d.BytesOut))
	}
	fmt.Fprintf(g.stdout, "synced with %d peer(s) in %.1fs: %d new observation(s), %s received, %s sent\n", len(res.Peers), res.Elapsed.Seconds(), res.NewObservations, sizeOf(res.BytesIn), sizeOf(res.BytesOut))
	if res.Strangers > 0 {
		fmt.Fprintf(g.stdout, "%d other device(s) answered but hold no project in common (nothing exchanged)\n", res.Strangers)
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
