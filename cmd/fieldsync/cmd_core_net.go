package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net"
	"time"

	"github.com/fieldsync/fieldsync/hypercore"
	"github.com/fieldsync/fieldsync/hypercore/corenet"
	"github.com/fieldsync/fieldsync/hypercore/replicate"
	"github.com/spf13/cobra"
)

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
	var listen, encHex string
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
Ctrl-C (exit 0). Connection problems are logged to stderr.

An encrypted core is served as stored (peers need the key to read it, not
to replicate it); --encryption-key only checks that the key opens it.`,
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
			encKey, err := parseEncryptionKey(encHex)
			if err != nil {
				return err
			}
			core, err := hypercore.Open(args[0], hypercore.OpenOptions{ReadOnly: true})
			if err != nil {
				return inputErr(err)
			}
			defer core.Close()
			if _, err := coreEncryption(core, encKey); err != nil {
				return err
			}
			return runServe(cmd.Context(), g, core, listen, maxConns)
		},
	}
	c.Flags().StringVar(&listen, "listen", "127.0.0.1:0", "address to listen on (port 0: any free port)")
	c.Flags().IntVar(&maxConns, "max-peers", 64, "connections served at once; more wait")
	encryptionFlag(c, &encHex)
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
	return corenet.Serve(ctx, core, ln, maxConns, func(addr net.Addr, err error) {
		fmt.Fprintf(g.stderr, "fieldsync: peer %s: %s\n", addr, oneLine(err.Error()))
	})
}

// downloadResult is the JSON line `core download` prints.
type downloadResult struct {
	Key          string `json:"key"`
	DiscoveryKey string `json:"discoveryKey"`
	Length       uint64 `json:"length"`
	ByteLength   uint64 `json:"byteLength"`
	Fork         uint64 `json:"fork"`
	TreeHash     string `json:"treeHash"`
	Signature    string `json:"signature"`
	BlocksSha256 string `json:"blocksSha256"`
	// PlaintextSha256 (with --encryption-key) hashes the decrypted blocks.
	PlaintextSha256 string  `json:"plaintextSha256,omitempty"`
	Fetched         uint64  `json:"fetched"`
	Ms              float64 `json:"ms"`           // from connecting to having every block
	FirstBlockMs    float64 `json:"firstBlockMs"` // from connecting to the first verified block (0: none fetched)
}

func newCoreDownloadCmd(g *globals) *cobra.Command {
	var connect, dir, durability, encHex string
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

An encrypted core downloads without its key: the copy stores and verifies
the encrypted blocks. With --encryption-key the key is checked against the
downloaded blocks and the line adds plaintextSha256 (of the decrypted
blocks).
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
			encKey, err := parseEncryptionKey(encHex)
			if err != nil {
				return err
			}
			return runDownload(cmd.Context(), g, downloadArgs{key: key, connect: connect, dir: dir, until: until, live: live, timeout: timeout, sync: mode, encKey: encKey})
		},
	}
	c.Flags().StringVar(&connect, "connect", "", "HOST:PORT of the peer")
	c.Flags().StringVar(&dir, "dir", "", "directory of the local copy")
	c.Flags().Uint64Var(&until, "until", 0, "wait until the peer has at least N blocks")
	c.Flags().BoolVar(&live, "live", false, "stay connected and follow new blocks")
	c.Flags().DurationVar(&timeout, "timeout", 60*time.Second, "give up after this long")
	durabilityFlag(c, &durability)
	encryptionFlag(c, &encHex)
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
	encKey  []byte // nil: not decrypting
}

func runDownload(ctx context.Context, g *globals, a downloadArgs) error {
	start := time.Now()
	var hasher blockHasher
	var bar *progress
	o := corenet.DownloadOptions{Key: a.key, Addr: a.connect, Dir: a.dir, Until: a.until, Live: a.live, Timeout: a.timeout, Durability: a.sync}
	if a.live {
		o.Caught = func(c *hypercore.Core, st replicate.Stats) error {
			res, err := describeDownload(c, &hasher, st, start, time.Now())
			if err != nil {
				return err
			}
			return writeJSON(g.stdout, res)
		}
	}
	if isTerminal(g.stderr) {
		o.Progress = func(st replicate.Stats) {
			if bar == nil && st.RemoteLength > 0 {
				bar = newProgress(g.stderr, "download", st.RemoteLength)
			}
			if bar != nil {
				bar.update(min(st.BlocksDownloaded, st.RemoteLength), st.RemoteLength)
			}
		}
	}
	d, err := corenet.Fetch(ctx, o)
	if bar != nil {
		bar.done()
	}
	var de *corenet.DirError
	switch {
	case errors.Is(err, corenet.ErrBadDir):
		return &exitError{code: exitUsage, err: err}
	case errors.As(err, &de):
		return inputErr(de.Err)
	case err != nil || d == nil: // d == nil: a live download stopped
		return err
	}
	defer d.Core.Close()
	res, err := describeDownload(d.Core, &hasher, d.Stats, start, d.Finished)
	if err != nil {
		return err
	}
	if a.encKey != nil {
		enc, err := coreEncryption(d.Core, a.encKey)
		if err != nil {
			return err
		}
		h := sha256.New()
		for i := range d.Core.Head().Length {
			b, err := d.Core.GetDecrypted(enc, i)
			if err != nil {
				return fmt.Errorf("read back block %d: %w", i, err)
			}
			h.Write(b)
		}
		res.PlaintextSha256 = hex.EncodeToString(h.Sum(nil))
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
