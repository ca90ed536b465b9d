package main

import (
	"encoding/hex"
	"log/slog"
	"net"

	"github.com/fieldsync/fieldsync/observations"
	"github.com/spf13/cobra"
)

// serveState is what a running serve writes to serve.json (status shows it).
type serveState = observations.ServeState

const serveStateFile = observations.ServeStateFile

func newServeCmd(g *globals) *cobra.Command {
	var listen, logFormat string
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
			p, err := openProject(cmd, g)
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
			o := observations.SyncOptions{Listen: listen, Peers: peers, MDNS: !noMDNS, NoMedia: noMedia, Log: log, DHT: df.options()}
			return p.Serve(cmd.Context(), o, func(r observations.Ready) (func(), error) {
				ready := map[string]any{"listen": r.Listen.String(), "port": r.Listen.(*net.TCPAddr).Port, "device": hex.EncodeToString(r.Device), "project": r.Project}
				webReady, stopWeb, err := serveWeb(cmd.Context(), hf, p, r, log)
				if err != nil {
					return nil, err
				}
				for k, v := range webReady {
					ready[k] = v
				}
				if err := writeJSON(g.stdout, ready); err != nil {
					stopWeb()
					return nil, err
				}
				return stopWeb, nil
			})
		},
	}
	c.Flags().StringVar(&listen, "listen", "0.0.0.0:7400", "address to accept connections on (port 0: any free port)")
	c.Flags().StringArrayVar(&peers, "peer", nil, "a peer to keep dialling, HOST:PORT (repeatable)")
	c.Flags().BoolVar(&noMDNS, "no-mdns", false, "do not advertise or look for peers on the local network")
	c.Flags().BoolVar(&noMedia, "no-media", false, "do not download attachments")
	c.Flags().StringVar(&logFormat, "log-format", "text", "text or json")
	durabilityFlag(c, &g.durability)
	df.add(c)
	hf.add(c, "")
	return c
}
