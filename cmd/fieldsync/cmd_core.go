package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/fieldsync/fieldsync/hypercore"
	"github.com/spf13/cobra"
)

func newCoreCmd(g *globals) *cobra.Command {
	c := groupCmd(&cobra.Command{
		Use:   "core",
		Short: "Plumbing: create, append to, read and verify a single Hypercore",
		Long: `Plumbing commands on one Hypercore directory, for tests, audits and
interop checks with other Hypercore 11 implementations.`,
	})
	c.AddCommand(newCoreCreateCmd(g), newCoreAppendCmd(g), newCoreInfoCmd(g), newCoreGetCmd(g), newCoreVerifyCmd(g), newCoreServeCmd(g), newCoreDownloadCmd(g))
	return c
}

// durabilityFlag adds --durability to a command that writes.
func durabilityFlag(c *cobra.Command, v *string) {
	c.Flags().StringVar(v, "durability", "fsync", `"fsync": every append is on disk when the command returns (survives power loss); "os": leave flushing to the OS (survives a crash of fieldsync, not power loss)`)
}

func parseDurability(s string) (hypercore.Durability, error) {
	switch s {
	case "fsync":
		return hypercore.DurabilityFsync, nil
	case "os":
		return hypercore.DurabilityOS, nil
	}
	return 0, usageErr("--durability must be fsync or os, not %q", s)
}

func encryptionFlag(c *cobra.Command, v *string) {
	c.Flags().StringVar(v, "encryption-key", "", "32-byte block encryption key in hex (hypercore's encryption option; CoMapeo's per-namespace key): blocks are stored encrypted, the tree and signatures cover the encrypted bytes")
}

// parseEncryptionKey checks --encryption-key; nil when absent.
func parseEncryptionKey(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != hypercore.EncryptionKeySize {
		return nil, usageErr("--encryption-key must be 64 hex digits (32 bytes)")
	}
	return b, nil
}

// coreEncryption derives core's block encryption from key (nil: none) and
// checks it against the core's last block: its pad must unblind to a fork
// the core has had. A wrong key fails here instead of appending blocks
// nobody can read or printing garbage.
func coreEncryption(core *hypercore.Core, key []byte) (*hypercore.Encryption, error) {
	if key == nil {
		return nil, nil
	}
	enc, err := core.Encryption(key)
	if err != nil {
		return nil, usageErr("%v", err)
	}
	if n := core.Contiguous(); n > 0 {
		b, err := core.Get(n - 1)
		if err != nil {
			return nil, inputErr(err)
		}
		fork, err := enc.Fork(n-1, b)
		if err != nil || fork > core.Head().Fork {
			return nil, usageErr("--encryption-key does not open core %s: its blocks were encrypted with another key, or not encrypted", core.Dir())
		}
	}
	return enc, nil
}

func newCoreCreateCmd(g *globals) *cobra.Command {
	var seedHex, durability, encHex string
	var compat, asJSON bool
	c := &cobra.Command{
		Use:   "create DIR",
		Short: "Create a new writable core in DIR",
		Long: `Create a new writable Hypercore 11 core in DIR (which must not exist or be
empty). The signing key pair comes from --seed (32 bytes, hex), as
hypercore-crypto keyPair(seed) makes it, or from a random seed. The secret
seed is stored in DIR/secret with mode 0600.

With --encryption-key the core's block key is derived from that key and the
core key (compat cores: as hypercore 10 and CoMapeo do) and printed
(blockKey). The key itself is not stored: give it again to "core append" and
"core get".`,
		Example: `  fieldsync core create ./mycore
  fieldsync core create ./secret-core --encryption-key 2222222222222222222222222222222222222222222222222222222222222222
  fieldsync core create ./mycore --seed 0101010101010101010101010101010101010101010101010101010101010101 --json`,
		Args: nArgs(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var seed []byte
			if seedHex != "" {
				b, err := hex.DecodeString(seedHex)
				if err != nil || len(b) != 32 {
					return usageErr("--seed must be 64 hex digits (32 bytes)")
				}
				seed = b
			}
			mode, err := parseDurability(durability)
			if err != nil {
				return err
			}
			encKey, err := parseEncryptionKey(encHex)
			if err != nil {
				return err
			}
			core, err := hypercore.Create(args[0], hypercore.CreateOptions{Seed: seed, Compat: compat, Durability: mode})
			if err != nil {
				return inputErr(err)
			}
			defer core.Close()
			enc, err := coreEncryption(core, encKey)
			if err != nil {
				return err
			}
			if asJSON {
				if enc == nil {
					return writeJSON(g.stdout, coreInfoOf(core))
				}
				bk := enc.BlockKey()
				return writeJSON(g.stdout, struct {
					coreInfo
					BlockKey string `json:"blockKey"`
				}{coreInfoOf(core), hex.EncodeToString(bk[:])})
			}
			k := core.Key()
			fmt.Fprintf(g.stdout, "created core %x in %s\n", k[:], args[0])
			if enc != nil {
				bk := enc.BlockKey()
				fmt.Fprintf(g.stdout, "blocks are encrypted (block key %x); append and read them with the same --encryption-key\n", bk[:])
			}
			return nil
		},
	}
	c.Flags().StringVar(&seedHex, "seed", "", "32-byte signing seed in hex (default: random)")
	c.Flags().BoolVar(&compat, "compat", false, "make a compat core: key = raw public key, bare 64-byte signatures (hypercore 10 style)")
	c.Flags().BoolVar(&asJSON, "json", false, "print the new core's info as JSON")
	durabilityFlag(c, &durability)
	encryptionFlag(c, &encHex)
	return c
}

func newCoreAppendCmd(g *globals) *cobra.Command {
	var batch, asJSON bool
	var durability, encHex string
	c := &cobra.Command{
		Use:   "append DIR FILE...",
		Short: "Append each file's bytes as one block",
		Long: `Append each FILE's bytes as one block, in order ("-" reads standard input).
Every file is read before anything is written: a missing or unreadable file
appends nothing. Each block is signed on its own, or all together with --batch.
With --encryption-key each block is encrypted for its index and the core's
fork (8 bytes more per block); the key is checked against the last block.`,
		Example: `  fieldsync core append ./mycore photo1.jpg photo2.jpg
  echo -n hello | fieldsync core append ./mycore -`,
		Args: nArgs(2, -1),
		RunE: func(cmd *cobra.Command, args []string) error {
			mode, err := parseDurability(durability)
			if err != nil {
				return err
			}
			encKey, err := parseEncryptionKey(encHex)
			if err != nil {
				return err
			}
			maxBlock := hypercore.MaxBlockSize
			if encKey != nil {
				maxBlock -= hypercore.EncryptionPadding
			}
			blocks := make([][]byte, 0, len(args)-1)
			for _, name := range args[1:] {
				b, err := readInput(g.stdin, name)
				if err != nil {
					return usageErr("read %s: %v", name, err)
				}
				if len(b) > maxBlock {
					return usageErr("%s is %d bytes; a block holds at most %d", name, len(b), maxBlock)
				}
				blocks = append(blocks, b)
			}
			core, err := hypercore.Open(args[0], hypercore.OpenOptions{Durability: mode})
			if err != nil {
				return inputErr(err)
			}
			defer core.Close()
			if !core.Writable() {
				return usageErr("core %s has no secret key here: it can be read, not appended to", args[0])
			}
			enc, err := coreEncryption(core, encKey)
			if err != nil {
				return err
			}
			appendBlocks := core.Append
			if enc != nil {
				appendBlocks = func(bs ...[]byte) (uint64, error) { return core.AppendEncrypted(enc, bs...) }
			}
			if batch {
				if _, err = appendBlocks(blocks...); err != nil {
					return fmt.Errorf("nothing appended: %w", err)
				}
			} else {
				for i, b := range blocks {
					if _, err = appendBlocks(b); err != nil {
						return fmt.Errorf("appended %d of %d blocks (each is whole and signed), then: %w", i, len(blocks), err)
					}
				}
			}
			if asJSON {
				return writeJSON(g.stdout, coreInfoOf(core))
			}
			h := core.Head()
			fmt.Fprintf(g.stdout, "appended %d block(s): length %d, %d bytes\n", len(blocks), h.Length, h.ByteLength)
			return nil
		},
	}
	c.Flags().BoolVar(&batch, "batch", false, "append all files as one batch (one signature)")
	c.Flags().BoolVar(&asJSON, "json", false, "print the core's info as JSON afterwards")
	durabilityFlag(c, &durability)
	encryptionFlag(c, &encHex)
	return c
}

func readInput(stdin io.Reader, name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(io.LimitReader(stdin, hypercore.MaxBlockSize+1))
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, hypercore.MaxBlockSize+1))
}

// coreInfo is the JSON shape of `core info` (field names are fixed: scripts
// and interop checks rely on them).
type coreInfo struct {
	Key          string `json:"key"`
	DiscoveryKey string `json:"discoveryKey"`
	PublicKey    string `json:"publicKey"`
	Length       uint64 `json:"length"`
	ByteLength   uint64 `json:"byteLength"`
	Contiguous   uint64 `json:"contiguous"` // blocks held (< length while a download is incomplete)
	Fork         uint64 `json:"fork"`
	TreeHash     string `json:"treeHash"`
	Signature    string `json:"signature"`
	Compat       bool   `json:"compat"`
	Writable     bool   `json:"writable"`
}

func coreInfoOf(c *hypercore.Core) coreInfo {
	h := c.Head()
	k, dk := c.Key(), c.DiscoveryKey()
	return coreInfo{
		Key: hex.EncodeToString(k[:]), DiscoveryKey: hex.EncodeToString(dk[:]), PublicKey: hex.EncodeToString(c.PublicKey()),
		Length: h.Length, ByteLength: h.ByteLength, Contiguous: c.Contiguous(), Fork: h.Fork,
		TreeHash: hex.EncodeToString(h.TreeHash[:]), Signature: hex.EncodeToString(h.Signature),
		Compat: c.Compat(), Writable: c.Writable(),
	}
}

func newCoreInfoCmd(g *globals) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "info DIR",
		Short: "Show a core's key, length and signed head",
		Long: `Show a core's keys and signed head. Opens the core read-only, so it works
while another process appends. JSON fields: key, discoveryKey, publicKey,
length, byteLength, contiguous (blocks held: less than length while a
download is incomplete), fork, treeHash, signature (the stored encoding: 64
bytes for compat cores, the 68-byte multisig wrapper otherwise), compat,
writable.`,
		Example: `  fieldsync core info ./mycore --json`,
		Args:    nArgs(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			core, err := hypercore.Open(args[0], hypercore.OpenOptions{ReadOnly: true})
			if err != nil {
				return inputErr(err)
			}
			defer core.Close()
			info := coreInfoOf(core)
			info.Writable = secretPresent(args[0])
			if asJSON {
				return writeJSON(g.stdout, info)
			}
			tw := newTable(g.stdout)
			tw.row("key", info.Key)
			tw.row("discovery key", info.DiscoveryKey)
			tw.row("public key", info.PublicKey)
			tw.row("length", strconv.FormatUint(info.Length, 10))
			tw.row("byte length", strconv.FormatUint(info.ByteLength, 10))
			if info.Contiguous < info.Length {
				tw.row("downloaded", fmt.Sprintf("first %d of %d blocks", info.Contiguous, info.Length))
			}
			tw.row("fork", strconv.FormatUint(info.Fork, 10))
			tw.row("tree hash", info.TreeHash)
			tw.row("signature", info.Signature)
			tw.row("compat", strconv.FormatBool(info.Compat))
			tw.row("writable", strconv.FormatBool(info.Writable))
			return tw.flush()
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	return c
}

func secretPresent(dir string) bool {
	_, err := os.Stat(dir + "/secret")
	return err == nil
}

func newCoreGetCmd(g *globals) *cobra.Command {
	var encHex string
	c := &cobra.Command{
		Use:   "get DIR INDEX",
		Short: "Write block INDEX's bytes to standard output",
		Long: `Write block INDEX's bytes to standard output. The bytes are checked against
the signed Merkle tree first: a corrupt block is an error, never output.
Without --encryption-key an encrypted core's block is output as stored (an
8-byte pad, then ciphertext); with it, decrypted.`,
		Example: `  fieldsync core get ./mycore 0 > block0.bin
  fieldsync core get ./secret-core 0 --encryption-key 2222222222222222222222222222222222222222222222222222222222222222`,
		Args: nArgs(2, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			idx, err := strconv.ParseUint(args[1], 10, 64)
			if err != nil {
				return usageErr("INDEX must be a block number, not %q", args[1])
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
			enc, err := coreEncryption(core, encKey)
			if err != nil {
				return err
			}
			var b []byte
			if enc != nil {
				b, err = core.GetDecrypted(enc, idx)
			} else {
				b, err = core.Get(idx)
			}
			if err != nil {
				return inputErr(err)
			}
			_, err = g.stdout.Write(b)
			return err
		},
	}
	encryptionFlag(c, &encHex)
	return c
}

// verifyReport is the JSON shape of `core verify --json`.
type verifyReport struct {
	OK         bool       `json:"ok"`
	Key        string     `json:"key"`
	Length     uint64     `json:"length"`
	ByteLength uint64     `json:"byteLength"`
	Fork       uint64     `json:"fork"`
	Blocks     uint64     `json:"blocksVerified"`
	Ms         int64      `json:"ms"`
	Error      *badReport `json:"error,omitempty"`
	Notes      []string   `json:"notes,omitempty"`
}

type badReport struct {
	File   string `json:"file"`
	Block  *int64 `json:"block,omitempty"`
	Node   *int64 `json:"node,omitempty"`
	Reason string `json:"reason"`
}

func newCoreVerifyCmd(g *globals) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "verify DIR",
		Short: "Re-hash every block and tree node and check the signed head",
		Long: `Re-read and re-hash every block and tree node of the core, check the signed
roots and the head signature. Exit 0 when everything checks out; exit 1 and
name the first bad block or node otherwise.`,
		Example: `  fieldsync core verify ./mycore
  fieldsync core verify ./mycore --json`,
		Args: nArgs(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCoreVerify(cmd.Context(), g, args[0], asJSON)
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print one JSON report")
	return c
}

func runCoreVerify(ctx context.Context, g *globals, dir string, asJSON bool) error {
	start := time.Now()
	core, err := hypercore.Open(dir, hypercore.OpenOptions{ReadOnly: true})
	if err != nil {
		if asJSON && errors.Is(err, hypercore.ErrCorrupt) {
			writeJSON(g.stdout, verifyReport{OK: false, Error: badOf(err)})
		}
		return inputErr(err)
	}
	defer core.Close()
	h := core.Head()
	k := core.Key()
	rep := verifyReport{Key: hex.EncodeToString(k[:]), Length: h.Length, ByteLength: h.ByteLength, Fork: h.Fork}
	prog := newProgress(g.stderr, "verify", h.Length)
	err = core.Verify(ctx, prog.update)
	prog.done()
	rep.Ms = time.Since(start).Milliseconds()
	if notes, nerr := core.Notes(); nerr == nil {
		rep.Notes = notes
	}
	if !asJSON {
		for _, n := range rep.Notes {
			fmt.Fprintf(g.stderr, "note: %s\n", n)
		}
	}
	if err != nil {
		if !errors.Is(err, hypercore.ErrCorrupt) {
			return err
		}
		rep.Error = badOf(err)
	} else {
		rep.OK, rep.Blocks = true, h.Length
	}
	if asJSON {
		if werr := writeJSON(g.stdout, rep); werr != nil {
			return werr
		}
	} else if rep.OK {
		fmt.Fprintf(g.stdout, "ok: %d blocks (%d bytes) and the signed head of %x verified\n", h.Length, h.ByteLength, k[:8])
	}
	if err != nil {
		return &exitError{code: exitFailure, err: fmt.Errorf("verify %s: %w", dir, err)}
	}
	return nil
}

func badOf(err error) *badReport {
	var ce *hypercore.CorruptError
	if !errors.As(err, &ce) {
		return &badReport{Reason: err.Error()}
	}
	r := &badReport{File: ce.File, Reason: ce.Reason}
	if ce.Block >= 0 {
		r.Block = &ce.Block
	}
	if ce.Node >= 0 {
		r.Node = &ce.Node
	}
	return r
}

// inputErr maps errors caused by what the user pointed us at (not a core,
// a bad index, a corrupt or locked core) to their exit codes.
func inputErr(err error) error {
	switch {
	case errors.Is(err, hypercore.ErrNotCore), errors.Is(err, hypercore.ErrBadInput), errors.Is(err, hypercore.ErrOutOfRange):
		return &exitError{code: exitUsage, err: err}
	default:
		return err
	}
}

func writeJSON(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// table prints aligned "name  value" rows.
type table struct {
	w    io.Writer
	rows [][2]string
}

func newTable(w io.Writer) *table { return &table{w: w} }

func (t *table) row(k, v string) { t.rows = append(t.rows, [2]string{k, v}) }

func (t *table) flush() error {
	width := 0
	for _, r := range t.rows {
		width = max(width, len(r[0]))
	}
	var b strings.Builder
	for _, r := range t.rows {
		fmt.Fprintf(&b, "%-*s  %s\n", width, r[0], r[1])
	}
	_, err := io.WriteString(t.w, b.String())
	return err
}
