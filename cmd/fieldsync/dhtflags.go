package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fieldsync/fieldsync/dht"
	"github.com/fieldsync/fieldsync/lansync"
	"github.com/fieldsync/fieldsync/observations/project"
	"github.com/spf13/cobra"
)

// dhtFlags are --dht and --dht-bootstrap, shared by sync and serve.
type dhtFlags struct {
	on        bool
	bootstrap string
	listen    string
}

const dhtHelp = `look for teammates across the internet through the BitTorrent Mainline DHT; ` +
	`this announces this device's IP address and port to the world (under a topic derived from the project, which reveals nothing about it)`

func (df *dhtFlags) add(c *cobra.Command) {
	c.Flags().BoolVar(&df.on, "dht", false, dhtHelp)
	c.Flags().StringVar(&df.bootstrap, "dht-bootstrap", "", "DHT nodes to start from, HOST:PORT,... (default $FIELDSYNC_DHT_BOOTSTRAP, else the public routers)")
	c.Flags().StringVar(&df.listen, "dht-listen", ":0", "UDP address of the DHT node")
}

// nodes is the bootstrap list (flag, then environment); nil: public.
func (df *dhtFlags) nodes() ([]string, error) {
	s := df.bootstrap
	if s == "" {
		s = os.Getenv("FIELDSYNC_DHT_BOOTSTRAP")
	}
	if s == "" {
		return nil, nil
	}
	var out []string
	for _, hp := range strings.Split(s, ",") {
		hp = strings.TrimSpace(hp)
		if _, _, err := net.SplitHostPort(hp); err != nil {
			return nil, usageErr("--dht-bootstrap: %q is not HOST:PORT", hp)
		}
		out = append(out, hp)
	}
	return out, nil
}

// dhtRun is a running DHT node; wait returns once it has saved its
// routing table after ctx ended.
type dhtRun struct {
	node *dht.Node
	done chan struct{}
}

func (r *dhtRun) wait() {
	if r != nil {
		<-r.done
	}
}

func (r *dhtRun) status() *dht.Status {
	if r == nil {
		return nil
	}
	st := r.node.Status()
	return &st
}

// start runs a DHT node announcing the project's topic on port and handing
// found addresses to m, until ctx ends. It returns nil when --dht is off.
// interval is how often the topic is announced and looked up (sync, which
// waits for peers, looks more often than serve, which is found).
func (df *dhtFlags) start(ctx context.Context, h *project.Home, p *project.Project, m *lansync.Manager, port int, interval time.Duration, log *slog.Logger) (*dhtRun, error) {
	if !df.on {
		return nil, nil
	}
	boot, err := df.nodes()
	if err != nil {
		return nil, err
	}
	private := false
	for _, b := range boot {
		host, _, _ := net.SplitHostPort(b)
		if ip := net.ParseIP(host); ip != nil && (ip.IsLoopback() || ip.IsPrivate()) {
			private = true
		}
	}
	dk := p.DiscoveryKey()
	n, err := dht.New(dht.Config{Listen: df.listen, Bootstrap: boot, NodesFile: filepath.Join(h.Dir, "dht-nodes"), Port: port, Interval: interval,
		Found: m.AddPeer, Log: log, Private: private}, dht.Topic(dk))
	if err != nil {
		return nil, err
	}
	r := &dhtRun{node: n, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		n.Run(ctx)
	}()
	log.Info("dht on", "udp", n.Addr().String(), "announcing tcp port", port)
	return r, nil
}

func dhtStatusLine(st dht.Status) string {
	last := "never"
	if !st.LastAnnounce.IsZero() {
		last = st.LastAnnounce.UTC().Format("15:04:05")
	}
	return fmt.Sprintf("%d nodes known, last announce %s, %d peer(s) found", st.Nodes, last, st.PeersFound)
}
