package main

import (
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/fieldsync/fieldsync/dht"
	"github.com/fieldsync/fieldsync/observations"
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

// options are the DHT options of the flags (nodes() checked them), or nil
// when --dht is off.
func (df *dhtFlags) options() *observations.DHTOptions {
	if !df.on {
		return nil
	}
	boot, _ := df.nodes()
	return &observations.DHTOptions{Listen: df.listen, Bootstrap: boot}
}

func dhtStatusLine(st dht.Status) string {
	last := "never"
	if !st.LastAnnounce.IsZero() {
		last = st.LastAnnounce.UTC().Format("15:04:05")
	}
	return fmt.Sprintf("%d nodes known, last announce %s, %d peer(s) found", st.Nodes, last, st.PeersFound)
}
