package interop

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/hypercore"
)

// coreCase is one core made by Go and by JS from the same seed and blocks.
type coreCase struct {
	name   string
	seed   byte  // the 32-byte signing seed is this byte repeated
	compat bool  // --compat core
	sizes  []int // block i has sizes[i] bytes (content: blockBytes)
	// batches groups the blocks into `core append --batch` calls; nil means
	// one `core append` per block (a signed head at every length).
	batches []int
	// stdin appends each block through "-" (one block per call only).
	stdin bool
	// durability is passed as --durability to create and append ("" = the
	// default, fsync). "os" keeps the long one-by-one cases off the disk's
	// fsync queue; the signed heads do not depend on it.
	durability string
	// checkpoints are the lengths at which a JS core is compared with Go's
	// head; nil means every length Go signed, and 0.
	checkpoints []int
}

func repeat(n, size int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = size
	}
	return s
}

func sizesFunc(n int, f func(i int) int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = f(i)
	}
	return s
}

var coreCases = []coreCase{
	{
		name:  "default/one-by-one",
		seed:  0x01,
		sizes: []int{5, 1, 64, 100, 1024, 7, 33, 3, 4096, 2, 512, 9},
	},
	{
		name:   "compat/one-by-one-stdin",
		seed:   0x02,
		compat: true,
		sizes:  []int{32, 1, 17, 200, 64, 65, 1000, 8, 3, 256},
		stdin:  true,
	},
	{
		name:  "empty-and-300-byte-blocks",
		seed:  0x03,
		sizes: []int{0, 300, 0, 0, 1, 300, 300, 0},
	},
	{
		name:    "batches",
		seed:    0x04,
		sizes:   sizesFunc(37, func(i int) int { return 50 + 37*i%211 }),
		batches: []int{1, 2, 3, 5, 8, 13, 4, 1},
	},
	{
		name:    "compat/batches",
		seed:    0x05,
		compat:  true,
		sizes:   sizesFunc(33, func(i int) int { return i % 5 * 40 }),
		batches: []int{3, 1, 7, 20, 2},
	},
	{
		// 40 heads: the roots go through every shape up to 5 of them.
		name:       "roots-40-one-by-one",
		seed:       0x06,
		sizes:      sizesFunc(40, func(i int) int { return 1 + i%17*13 }),
		durability: "os",
	},
	{
		// A signed head at each of 200 lengths, all checked by the JS
		// verifier; JS serves the lengths around each change of root shape.
		name:        "200x1KiB-one-by-one",
		seed:        0x08,
		sizes:       repeat(200, 1024),
		checkpoints: []int{0, 1, 2, 3, 31, 32, 33, 63, 64, 65, 127, 128, 129, 191, 192, 193, 199, 200},
		durability:  "os",
	},
	{
		name:    "200x1KiB-batches",
		seed:    0x07,
		sizes:   repeat(200, 1024),
		batches: []int{1, 1, 30, 32, 64, 72},
	},
}

// blockBytes is block i of a case: deterministic, different per case.
func blockBytes(caseName string, i, size int) []byte {
	out := make([]byte, 0, size+sha256.Size)
	for ctr := 0; len(out) < size; ctr++ {
		h := sha256.Sum256(fmt.Appendf(nil, "%s/%d/%d", caseName, i, ctr))
		out = append(out, h[:]...)
	}
	return out[:size]
}

// goInfo is `fieldsync core info --json` (and create/append --json).
type goInfo struct {
	Key          string `json:"key"`
	DiscoveryKey string `json:"discoveryKey"`
	PublicKey    string `json:"publicKey"`
	Length       uint64 `json:"length"`
	ByteLength   uint64 `json:"byteLength"`
	Contiguous   uint64 `json:"contiguous"`
	Fork         uint64 `json:"fork"`
	TreeHash     string `json:"treeHash"`
	Signature    string `json:"signature"`
	Compat       bool   `json:"compat"`
	Writable     bool   `json:"writable"`
}

var goInfoFields = []string{"key", "discoveryKey", "publicKey", "length", "byteLength", "contiguous", "fork",
	"treeHash", "signature", "compat", "writable"}

func parseGoInfo(t *testing.T, what string, b []byte) goInfo {
	t.Helper()
	var g goInfo
	decodeStrict(t, what, b, goInfoFields, &g)
	return g
}

func coreInfo(t *testing.T, dir string) goInfo {
	t.Helper()
	return parseGoInfo(t, "fieldsync core info", fieldsync(t, nil, "core", "info", dir, "--json"))
}

// diffHeads lists every field in which a Go head and a JS core differ.
// The one representation difference allowed: an empty core has no
// signature, which Go prints as "" and JS as null.
func diffHeads(g goInfo, j jsState) []string {
	var d []string
	field := func(name string, gv, jv any) {
		if gv != jv {
			d = append(d, fmt.Sprintf("%s: Go %v, JS %v", name, gv, jv))
		}
	}
	field("key", g.Key, j.Key)
	field("discoveryKey", g.DiscoveryKey, j.DiscoveryKey)
	field("publicKey", g.PublicKey, j.PublicKey)
	field("length", g.Length, j.Length)
	field("byteLength", g.ByteLength, j.ByteLength)
	field("fork", g.Fork, j.Fork)
	field("treeHash", g.TreeHash, j.TreeHash)
	switch {
	case j.Signature == nil && !(g.Length == 0 && g.Signature == ""):
		d = append(d, fmt.Sprintf("signature: Go %q, JS null", g.Signature))
	case j.Signature != nil:
		field("signature", g.Signature, *j.Signature)
	}
	field("compat", g.Compat, j.Compat)
	return d
}

// TestCoreMatchesJS makes each case's core with the fieldsync CLI, checks
// it on the Go side (info after every append, verify, get of every block),
// then compares it with the JS reference: a JS core grown through the
// checkpoint lengths (peer.mjs serve), and the JS verifier run over Go's
// manifest, blocks and every signed head (verify-go.mjs).
func TestCoreMatchesJS(t *testing.T) {
	for _, tc := range coreCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			testCoreCase(t, tc)
		})
	}
}

func testCoreCase(t *testing.T, tc coreCase) {
	tmp := t.TempDir()
	seed := bytes.Repeat([]byte{tc.seed}, 32)
	blocks := make([][]byte, len(tc.sizes))
	files := make([]string, len(tc.sizes))
	if err := os.Mkdir(filepath.Join(tmp, "blocks"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i, size := range tc.sizes {
		blocks[i] = blockBytes(tc.name, i, size)
		files[i] = filepath.Join(tmp, "blocks", fmt.Sprintf("%04d.bin", i))
		if err := os.WriteFile(files[i], blocks[i], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	batches := tc.batches
	if batches == nil {
		batches = repeat(len(blocks), 1)
	}
	sum := 0
	for _, n := range batches {
		sum += n
	}
	if sum != len(blocks) || (tc.stdin && tc.batches != nil) {
		t.Fatalf("bad case: batches sum to %d for %d blocks (stdin %v)", sum, len(blocks), tc.stdin)
	}

	// --- Go: create, append, and record the head after every append.
	goDir := filepath.Join(tmp, "go")
	args := []string{"core", "create", goDir, "--seed", hex.EncodeToString(seed), "--json"}
	if tc.compat {
		args = append(args, "--compat")
	}
	var durability []string
	if tc.durability != "" {
		durability = []string{"--durability", tc.durability}
	}
	args = append(args, durability...)
	created := parseGoInfo(t, "fieldsync core create", fieldsync(t, nil, args...))
	heads := map[uint64]goInfo{0: coreInfo(t, goDir)}
	if created != heads[0] {
		t.Errorf("create --json %+v differs from info --json %+v", created, heads[0])
	}
	checkGoHead(t, heads[0], tc, blocks[:0])
	// hypercore-crypto keyPair(seed) is the RFC 8032 key pair of the seed.
	if pk := hex.EncodeToString(ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)); heads[0].PublicKey != pk {
		t.Errorf("public key %s, want %s (Ed25519 of the seed)", heads[0].PublicKey, pk)
	}
	signed := []uint64{0}
	next := 0
	for _, n := range batches {
		args := []string{"core", "append", goDir}
		var stdin []byte
		switch {
		case tc.stdin:
			args, stdin = append(args, "-"), blocks[next]
		case tc.batches != nil:
			args = append(append(args, files[next:next+n]...), "--batch")
		default:
			args = append(args, files[next:next+n]...)
		}
		next += n
		args = append(append(args, durability...), "--json")
		appended := parseGoInfo(t, "fieldsync core append", fieldsync(t, stdin, args...))
		info := coreInfo(t, goDir)
		if appended != info {
			t.Errorf("length %d: append --json %+v differs from info --json %+v", next, appended, info)
		}
		checkGoHead(t, info, tc, blocks[:next])
		if info.Key != heads[0].Key || info.PublicKey != heads[0].PublicKey {
			t.Fatalf("length %d: key or public key changed: %+v, created as %+v", next, info, heads[0])
		}
		if res := run(t, timeoutGo, nil, fieldsyncBin, "core", "verify", goDir); res.code != 0 {
			t.Errorf("length %d: fieldsync core verify: %v", next, res)
		}
		heads[uint64(next)] = info
		signed = append(signed, uint64(next))
	}
	if t.Failed() {
		return
	}

	// Every block reads back as written.
	got := make([][]byte, len(blocks))
	for i := range blocks {
		got[i] = fieldsync(t, nil, "core", "get", goDir, strconv.Itoa(i))
		if !bytes.Equal(got[i], blocks[i]) {
			t.Errorf("core get %d: %d bytes %.16x..., want %d bytes %.16x...", i, len(got[i]), got[i], len(blocks[i]), blocks[i])
		}
	}
	var verify struct {
		OK     bool   `json:"ok"`
		Length uint64 `json:"length"`
		Blocks uint64 `json:"blocksVerified"`
	}
	if err := json.Unmarshal(fieldsync(t, nil, "core", "verify", goDir, "--json"), &verify); err != nil {
		t.Fatalf("core verify --json: %v", err)
	}
	if !verify.OK || verify.Length != uint64(len(blocks)) || verify.Blocks != uint64(len(blocks)) {
		t.Errorf("core verify --json = %+v, want ok with %d blocks", verify, len(blocks))
	}
	if t.Failed() {
		return
	}

	// --- JS.
	e := needJS(t)

	// 1. The JS verifier reads what Go wrote: manifest, blocks, signatures.
	c, err := hypercore.Open(goDir, hypercore.OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	manifest := c.Manifest().Encode()
	c.Close()
	in := verifyGoInput{Key: heads[0].Key, Manifest: hex.EncodeToString(manifest), Compat: tc.compat, PublicKey: heads[0].PublicKey}
	for _, b := range got {
		in.Blocks = append(in.Blocks, hex.EncodeToString(b))
	}
	for _, n := range signed {
		in.Heads = append(in.Heads, goHeadInput{Length: n, Fork: heads[n].Fork, Signature: heads[n].Signature})
	}
	vo := e.verifyGo(t, in, tmp)
	if vo.Key != heads[0].Key || vo.DiscoveryKey != heads[0].DiscoveryKey || vo.Compat != tc.compat {
		t.Errorf("JS derives key %s, discovery key %s, compat %v from Go's manifest %x; Go says %s, %s, %v",
			vo.Key, vo.DiscoveryKey, vo.Compat, manifest, heads[0].Key, heads[0].DiscoveryKey, tc.compat)
	}
	if !vo.ManifestIsDefault {
		t.Errorf("Go's manifest %x is not the one JS makes for public key %s", manifest, heads[0].PublicKey)
	}
	if len(vo.Heads) != len(signed) {
		t.Fatalf("verify-go.mjs returned %d heads, want %d", len(vo.Heads), len(signed))
	}
	for i, h := range vo.Heads {
		g := heads[signed[i]]
		switch {
		case h.Length != g.Length || h.ByteLength != g.ByteLength || h.TreeHash != g.TreeHash:
			t.Errorf("length %d: JS recomputes length %d, byteLength %d, tree hash %s from Go's blocks; Go signed byteLength %d, tree hash %s",
				g.Length, h.Length, h.ByteLength, h.TreeHash, g.ByteLength, g.TreeHash)
		case g.Length == 0:
		case h.SignatureValid == nil || !*h.SignatureValid:
			t.Errorf("length %d: the JS verifier rejects Go's signature %s", g.Length, g.Signature)
		case h.TamperedValid == nil || *h.TamperedValid:
			t.Errorf("length %d: the JS verifier accepts Go's signature with a flipped bit (the check is vacuous)", g.Length)
		}
	}

	// 2. A JS core grown through the checkpoints has Go's head at each.
	checkpoints := tc.checkpoints
	if checkpoints == nil {
		for _, n := range signed {
			checkpoints = append(checkpoints, int(n))
		}
	}
	if !slices.IsSorted(checkpoints) {
		t.Fatalf("bad case: checkpoints %v not sorted", checkpoints)
	}
	jsDir := filepath.Join(tmp, "js")
	for _, n := range checkpoints {
		g, ok := heads[uint64(n)]
		if !ok {
			t.Fatalf("bad case: checkpoint %d is not a length Go signed (%v)", n, signed)
		}
		j := e.serve(t, seed, tc.compat, blocks[:n], jsDir)
		if d := diffHeads(g, j); len(d) > 0 {
			t.Errorf("length %d: Go and JS differ:\n\t%s", n, strings.Join(d, "\n\t"))
		}
		if want := concatSHA256(blocks[:n]); j.BlocksSha256 != want {
			t.Errorf("length %d: JS blocksSha256 %s, sha256 of the blocks %s", n, j.BlocksSha256, want)
		}
	}
	t.Logf("%d blocks, %d bytes: JS verified Go's %d signed heads; JS and Go agree at %d lengths %v",
		len(blocks), heads[uint64(len(blocks))].ByteLength, len(signed)-1, len(checkpoints), checkpoints)
}

// checkGoHead checks what a Go head must say without asking JS.
func checkGoHead(t *testing.T, g goInfo, tc coreCase, blocks [][]byte) {
	t.Helper()
	var bytes uint64
	for _, b := range blocks {
		bytes += uint64(len(b))
	}
	sigLen := 68 // multisig wrapper around one Ed25519 signature
	if tc.compat {
		sigLen = 64
	}
	if len(blocks) == 0 {
		sigLen = 0
	}
	if g.Length != uint64(len(blocks)) || g.ByteLength != bytes || g.Fork != 0 || g.Compat != tc.compat ||
		!g.Writable || len(g.Signature) != 2*sigLen {
		t.Errorf("Go head %+v, want length %d, byteLength %d, fork 0, compat %v, writable, %d-byte signature",
			g, len(blocks), bytes, tc.compat, sigLen)
	}
}

func concatSHA256(blocks [][]byte) string {
	h := sha256.New()
	for _, b := range blocks {
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}
