package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/fieldsync/fieldsync/hypercore"
	"github.com/fieldsync/fieldsync/hypercore/replicate"
	"github.com/fieldsync/fieldsync/hypercore/secretstream"
	"github.com/spf13/cobra"
)

// keepAlive is how often an idle connection sends an empty message (as
// hypercore does), so peers with idle timeouts keep it.
const keepAlive = 5 * time.Second

// serveReady is the JSON line `core serve` prints when it listens.
type serveReady struct {
	Key          string `json:"key"`
	DiscoveryKey string `json:"discoveryKey"`
	Port         int    `json:"port"`
	Length       uint64 `json:"length"`
	ByteLength   uint64 `json:"byteLength"`
	Fork         uint64 `json:"fork"`
	TreeHash     string `json:"treeHash"`
}

func newCoreServeCmd(g *globals) *cobra.Command {
	var listen string
	var maxConns int
	c := &cobra.Command{
		Use:   "serve DIR",
		Short: "Serve a core to Hypercore peers over TCP until stopped",
		Long: `Serve the core in DIR over TCP with the Hypercore 11 wire protocol (Noise
secret stream, protomux, hypercore/alpha), so that "fieldsync core download"
or any Hypercore 11 peer can replicate it. Prints one JSON line when ready:
{key, discoveryKey, port, length, byteLength, fork, treeHash}. The core is
opened read-only: another process may append to it meanwhile, and connected
peers are told of new blocks within ~50 ms (live). Stops on SIGTERM or
Ctrl-C (exit 0). Connection problems are logged to stderr.`,
		Example: `  fieldsync core serve ./mycore --listen 127.0.0.1:0
  fieldsync core serve ./mycore --listen 0.0.0.0:7000`,
		Args: nArgs(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if maxConns < 1 {
				return usageErr("--max-peers must be at least 1")
			}
			if _, _, err := net.SplitHostPort(listen); err != nil {
				return usageErr("--listen must be HOST:PORT, not %q", listen)
			}
			core, err := hypercore.Open(args[0], hypercore.OpenOptions{ReadOnly: true})
			if err != nil {
				return inputErr(err)
			}
			defer core.Close()
			return runServe(cmd.Context(), g, core, listen, maxConns)
		},
	}
	c.Flags().StringVar(&listen, "listen", "127.0.0.1:0", "address to listen on (port 0: any free port)")
	c.Flags().IntVar(&maxConns, "max-peers", 64, "connections served at once; more wait")
	return c
}

func runServe(ctx context.Context, g *globals, core *hypercore.Core, listen string, maxConns int) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", listen, err)
	}
	defer ln.Close()
	h := core.Head()
	k, dk := core.Key(), core.DiscoveryKey()
	if err := writeJSON(g.stdout, serveReady{
		Key: hex.EncodeToString(k[:]), DiscoveryKey: hex.EncodeToString(dk[:]),
		Port: ln.Addr().(*net.TCPAddr).Port, Length: h.Length, ByteLength: h.ByteLength, Fork: h.Fork,
		TreeHash: hex.EncodeToString(h.TreeHash[:]),
	}); err != nil {
		return err
	}
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	slots := make(chan struct{}, maxConns)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil // stopped by a signal: a normal end
			}
			return fmt.Errorf("accept: %w", err)
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			conn.Close()
			return nil
		}
		wg.Go(func() {
			defer func() { <-slots }()
			if err := serveConn(ctx, core, conn); err != nil && ctx.Err() == nil {
				fmt.Fprintf(g.stderr, "fieldsync: peer %s: %s\n", conn.RemoteAddr(), oneLine(err.Error()))
			}
		})
	}
}

func serveConn(ctx context.Context, core *hypercore.Core, conn net.Conn) error {
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	s, err := secretstream.Server(ctx, conn, secretstream.Config{MaxMessageSize: replicate.MaxMessageSize, KeepAlive: keepAlive})
	if err != nil {
		conn.Close()
		return err
	}
	p := replicate.NewPeer(s, replicate.Options{})
	if _, err := p.Add(replicate.CoreConfig{Key: core.Key(), Core: core, Upload: true, Live: true}); err != nil {
		s.Close()
		return err
	}
	err = p.Run(ctx)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// downloadResult is the JSON line `core download` prints.
type downloadResult struct {
	Key          string  `json:"key"`
	DiscoveryKey string  `json:"discoveryKey"`
	Length       uint64  `json:"length"`
	ByteLength   uint64  `json:"byteLength"`
	Fork         uint64  `json:"fork"`
	TreeHash     string  `json:"treeHash"`
	Signature    string  `json:"signature"`
	BlocksSha256 string  `json:"blocksSha256"`
	Fetched      uint64  `json:"fetched"`
	Ms           float64 `json:"ms"`           // from connecting to having every block
	FirstBlockMs float64 `json:"firstBlockMs"` // from connecting to the first verified block (0: none fetched)
}

func newCoreDownloadCmd(g *globals) *cobra.Command {
	var connect, dir, durability string
	var until uint64
	var live bool
	var timeout time.Duration
	c := &cobra.Command{
		Use:   "download KEY --connect HOST:PORT --dir DIR",
		Short: "Download a core from a Hypercore peer, verifying every block",
		Long: `Connect to a Hypercore 11 peer (fieldsync core serve, or any Hypercore
peer on TCP), download the core with key KEY (64 hex digits) into DIR and
print one JSON line: {key, discoveryKey, length, byteLength, fork, treeHash,
signature, blocksSha256, fetched, ms, firstBlockMs}. Every block is verified against the
writer's signed Merkle tree before it is stored; a peer that sends anything
else is dropped and nothing it sent is kept.

DIR is created if needed. If it already holds part of this core (an earlier
download that was interrupted), only the missing blocks are fetched.

--until N waits until the peer has at least N blocks. --live keeps the
connection and downloads new blocks as the peer appends them, printing a
JSON line each time it has caught up, until stopped (SIGTERM, Ctrl-C).
--timeout bounds the download (with --live: until the first catch-up).
Exit 0: done; 1: failed (the peer went away, broke the protocol, timed
out); 2: bad command line or DIR holds another core.`,
		Example: `  fieldsync core download 3b1f...e0 --connect 127.0.0.1:7000 --dir ./copy
  fieldsync core download 3b1f...e0 --connect 10.0.0.5:7000 --dir ./copy --live`,
		Args: nArgs(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			kb, err := hex.DecodeString(args[0])
			if err != nil || len(kb) != 32 {
				return usageErr("KEY must be 64 hex digits (a 32-byte core key), not %q", args[0])
			}
			var key hypercore.Hash
			copy(key[:], kb)
			if connect == "" {
				return usageErr("--connect HOST:PORT is required")
			}
			if _, _, err := net.SplitHostPort(connect); err != nil {
				return usageErr("--connect must be HOST:PORT, not %q", connect)
			}
			if dir == "" {
				return usageErr("--dir is required")
			}
			if timeout <= 0 {
				return usageErr("--timeout must be positive, e.g. 60s")
			}
			mode, err := parseDurability(durability)
			if err != nil {
				return err
			}
			return runDownload(cmd.Context(), g, downloadArgs{key: key, connect: connect, dir: dir, until: until, live: live, timeout: timeout, sync: mode})
		},
	}
	c.Flags().StringVar(&connect, "connect", "", "HOST:PORT of the peer")
	c.Flags().StringVar(&dir, "dir", "", "directory of the local copy")
	c.Flags().Uint64Var(&until, "until", 0, "wait until the peer has at least N blocks")
	c.Flags().BoolVar(&live, "live", false, "stay connected and follow new blocks")
	c.Flags().DurationVar(&timeout, "timeout", 60*time.Second, "give up after this long")
	durabilityFlag(c, &durability)
	return c
}

type downloadArgs struct {
	key     hypercore.Hash
	connect string
	dir     string
	until   uint64
	live    bool
	timeout time.Duration
	sync    hypercore.Durability
}

// openReplica opens the copy of key in dir, or returns nil if dir holds
// no core yet.
func openReplica(dir string, key hypercore.Hash, mode hypercore.Durability) (*hypercore.Core, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) || err == nil && len(entries) == 0 {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", dir, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "secret")); err == nil {
		return nil, usageErr("%s holds the writer's own copy of a core: download into another directory", dir)
	}
	c, err := hypercore.Open(dir, hypercore.OpenOptions{Durability: mode})
	if err != nil {
		return nil, inputErr(err)
	}
	if c.Key() != key {
		k := c.Key()
		c.Close()
		return nil, usageErr("%s holds core %x, not %x", dir, k[:], key[:])
	}
	return c, nil
}

func runDownload(ctx context.Context, g *globals, a downloadArgs) error {
	start := time.Now()
	core, err := openReplica(a.dir, a.key, a.sync)
	if err != nil {
		return err
	}
	var mu sync.Mutex // guards core
	defer func() {
		mu.Lock()
		if core != nil {
			core.Close()
		}
		mu.Unlock()
	}()
	first, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(first, "tcp", a.connect)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", a.connect, err)
	}
	conn.(*net.TCPConn).SetNoDelay(true)
	s, err := secretstream.Client(first, conn, secretstream.Config{MaxMessageSize: replicate.MaxMessageSize, KeepAlive: keepAlive})
	if err != nil {
		conn.Close()
		return fmt.Errorf("connect to %s: %w", a.connect, err)
	}
	p := replicate.NewPeer(s, replicate.Options{})
	var hasher blockHasher
	var lineErr error
	cfg := replicate.CoreConfig{
		Key: a.key, Core: core, Upload: true, Download: true, MinLength: a.until, Live: a.live,
		Create: func(m *hypercore.Manifest) (*hypercore.Core, error) {
			c, err := hypercore.CreateReplica(a.dir, a.key, m, a.sync)
			if err == nil {
				mu.Lock()
				core = c
				mu.Unlock()
			}
			return c, err
		},
	}
	var rep *replicate.Replication
	caught := make(chan struct{}) // closed at the first catch-up (--live)
	if a.live {
		var once sync.Once
		cfg.Caught = func(c *hypercore.Core) {
			once.Do(func() { close(caught) }) // the --timeout is met
			res, err := describeDownload(c, &hasher, rep.Stats(), start, time.Now())
			if err == nil {
				err = writeJSON(g.stdout, res)
			}
			if err != nil && lineErr == nil {
				lineErr = err
				p.Close()
			}
		}
	}
	rep, err = p.Add(cfg)
	if err != nil {
		s.Close()
		return err
	}
	runErr := make(chan error, 1)
	go func() { runErr <- p.Run(ctx) }()
	prog := newDownloadProgress(g, rep)
	defer prog.stop()
	var finished time.Time
	select {
	case <-rep.Done():
		finished = time.Now()
	case <-caught:
	case <-first.Done():
		if ctx.Err() == nil {
			p.Close()
			<-runErr
			have := uint64(0)
			if c := rep.Core(); c != nil {
				have = c.Contiguous()
			}
			return fmt.Errorf("timeout after %v: the copy holds %d of the peer's %d blocks (run again to resume)", a.timeout, have, rep.Stats().RemoteLength)
		}
	case err := <-runErr:
		runErr <- err
	}
	if a.live {
		// Follow until stopped; a signal is a normal end.
		err := <-runErr
		prog.stop()
		if lineErr != nil {
			return lineErr
		}
		if ctx.Err() != nil {
			return nil
		}
		if rerr := rep.Err(); rerr != nil {
			return rerr
		}
		if err == nil {
			err = errors.New("peer closed the connection")
		}
		return err
	}
	p.Close()
	err = <-runErr
	prog.stop()
	if rerr := rep.Err(); rerr != nil {
		return rerr
	}
	if err != nil {
		return err
	}
	c := rep.Core()
	if c == nil {
		return fmt.Errorf("peer has no data for core %x", a.key[:])
	}
	res, err := describeDownload(c, &hasher, rep.Stats(), start, finished)
	if err != nil {
		return err
	}
	return writeJSON(g.stdout, res)
}

// blockHasher keeps a running SHA-256 of a core's blocks.
type blockHasher struct {
	h    hash.Hash
	upTo uint64
}

func describeDownload(c *hypercore.Core, bh *blockHasher, st replicate.Stats, start, finished time.Time) (downloadResult, error) {
	if bh.h == nil {
		bh.h = sha256.New()
	}
	h := c.Head()
	for ; bh.upTo < h.Length; bh.upTo++ {
		b, err := c.Get(bh.upTo)
		if err != nil {
			return downloadResult{}, fmt.Errorf("read back block %d: %w", bh.upTo, err)
		}
		bh.h.Write(b)
	}
	k, dk := c.Key(), c.DiscoveryKey()
	return downloadResult{
		Key: hex.EncodeToString(k[:]), DiscoveryKey: hex.EncodeToString(dk[:]),
		Length: h.Length, ByteLength: h.ByteLength, Fork: h.Fork,
		TreeHash: hex.EncodeToString(h.TreeHash[:]), Signature: hex.EncodeToString(h.Signature),
		BlocksSha256: hex.EncodeToString(bh.h.Sum(nil)), Fetched: st.BlocksDownloaded,
		Ms: msSince(start, finished), FirstBlockMs: msSince(start, st.FirstBlock),
	}, nil
}

func msSince(start, t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.Sub(start).Microseconds()) / 1000
}

// downloadProgress draws a progress bar on a terminal while a download runs.
type downloadProgress struct {
	stopOnce sync.Once
	quit     chan struct{}
	wg       sync.WaitGroup
}

func newDownloadProgress(g *globals, rep *replicate.Replication) *downloadProgress {
	dp := &downloadProgress{quit: make(chan struct{})}
	if !isTerminal(g.stderr) {
		return dp
	}
	dp.wg.Go(func() {
		var bar *progress
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-dp.quit:
				if bar != nil {
					bar.done()
				}
				return
			case <-t.C:
				st := rep.Stats()
				if bar == nil && st.RemoteLength > 0 {
					bar = newProgress(g.stderr, "download", st.RemoteLength)
				}
				if bar != nil {
					bar.update(min(st.BlocksDownloaded, st.RemoteLength), st.RemoteLength)
				}
			}
		}
	})
	return dp
}

func (dp *downloadProgress) stop() {
	dp.stopOnce.Do(func() { close(dp.quit) })
	dp.wg.Wait()
}
