package hypercore_test

// Corruption tests: a flipped byte anywhere in a core (header, secret, data,
// tree, head), a file cut short, a missing file or a directory that is not
// a core must be reported by Open, Get or Verify with an error wrapping
// ErrCorrupt or ErrNotCore, never returned as data, never panic, and never
// make Open, Get or Verify write into the directory.
//
// The positions come from the on-disk layout documented in storage.go; each
// is classed as meaningful (it must be detected) or unused (padding, a
// never-written slot, holes in the tree file: it must be harmless).

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"math/bits"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	hc "github.com/fieldsync/fieldsync/hypercore"
)

const nodeRecord = 56 // tree record size (storage.go)

// goldenCore is an intact core and everything the tests know about it.
type goldenCore struct {
	name       string
	dir        string
	blocks     [][]byte
	offsets    []uint64 // byte offset of each block in the data file
	byteLength uint64
	seq        int    // signed heads written; the current one is in slot seq&1
	prevLength uint64 // length of the head in the other slot (seq-1)
	key        hc.Hash
	pub        []byte
	roots      map[uint64]bool // flat indices of the current head's roots
}

func (g *goldenCore) length() uint64 { return uint64(len(g.blocks)) }

// op is an append of blocks or, with truncate set, a truncate to n.
type coreOp struct {
	blocks   [][]byte
	truncate bool
	n        uint64
}

func appendOp(bs ...[]byte) coreOp { return coreOp{blocks: bs} }

func makeGolden(t testing.TB, base, name string, ops []coreOp) *goldenCore {
	t.Helper()
	g := &goldenCore{name: name, dir: filepath.Join(base, name), roots: map[uint64]bool{}}
	c, err := hc.Create(g.dir, hc.CreateOptions{Seed: bytes.Repeat([]byte{byte(len(name))}, 32), Durability: hc.DurabilityOS})
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range ops {
		g.prevLength = c.Length()
		if op.truncate {
			if err := c.Truncate(op.n); err != nil {
				t.Fatal(err)
			}
			g.blocks = g.blocks[:op.n]
		} else {
			if _, err := c.Append(op.blocks...); err != nil {
				t.Fatal(err)
			}
			g.blocks = append(g.blocks, op.blocks...)
		}
		g.seq++
	}
	var off uint64
	for _, b := range g.blocks {
		g.offsets = append(g.offsets, off)
		off += uint64(len(b))
	}
	g.byteLength = off
	if h := c.Head(); h.Length != g.length() || h.ByteLength != g.byteLength {
		t.Fatalf("%s: head %d/%d, want %d/%d", name, h.Length, h.ByteLength, g.length(), g.byteLength)
	}
	for _, r := range c.Roots() {
		g.roots[r.Index] = true
	}
	g.key, g.pub = c.Key(), slices.Clone(c.PublicKey())
	if err := c.Verify(context.Background(), nil); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	return g
}

// goldenCores builds the cores the corruption tests damage: one, two and
// seven signed heads (with the old two-slot layout: the newest head in
// either slot, the other one never written or written once), one truncated
// and appended again (fork 1, stale bytes past the head), and one of 9000
// blocks (more than one verify chunk).
func goldenCores(t testing.TB, withBig bool) []*goldenCore {
	base := t.TempDir()
	bl := func(from, n int) [][]byte { return blocksFrom(uint64(from), n) }
	var gs []*goldenCore
	gs = append(gs, makeGolden(t, base, "heads=1", []coreOp{appendOp(bl(0, 3)...)}))
	gs = append(gs, makeGolden(t, base, "heads=2", []coreOp{appendOp(bl(0, 2)...), appendOp(bl(2, 3)...)}))
	var ops []coreOp
	n := 0
	for _, k := range []int{1, 4, 1, 2, 1, 3, 2} {
		ops = append(ops, appendOp(bl(n, k)...))
		n += k
	}
	gs = append(gs, makeGolden(t, base, "heads=7", ops))
	gs = append(gs, makeGolden(t, base, "truncated", []coreOp{
		appendOp(bl(0, 6)...), appendOp(bl(6, 3)...), {truncate: true, n: 5}, appendOp(bl(1005, 2)...),
	}))
	if !withBig {
		return gs
	}
	big := make([][]byte, 9000)
	for i := range big {
		h := mix64(uint64(i) + 77)
		big[i] = make([]byte, 1+h%16)
		for j := range big[i] {
			big[i][j] = byte(h >> (j % 8 * 8))
		}
	}
	gs = append(gs, makeGolden(t, base, "blocks=9000", []coreOp{appendOp(big[:4000]...), appendOp(big[4000:8500]...), appendOp(big[8500:]...)}))
	return gs
}

// ---------------------------------------------------------------------------
// Directory snapshots: Open, Get and Verify must never write.

type fileState struct {
	size  int64
	mode  fs.FileMode
	mtime time.Time
	sum   [32]byte
}

func snapshotDir(t testing.TB, dir string) map[string]fileState {
	t.Helper()
	m := map[string]fileState{}
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		st := fileState{size: fi.Size(), mode: fi.Mode(), mtime: fi.ModTime()}
		if fi.Mode().IsRegular() {
			st.sum = sha256.Sum256(readFileT(t, filepath.Join(dir, e.Name())))
		}
		m[e.Name()] = st
	}
	return m
}

func diffSnapshots(a, b map[string]fileState) string {
	var d []string
	for n, sa := range a {
		sb, ok := b[n]
		switch {
		case !ok:
			d = append(d, n+" removed")
		case sa.sum != sb.sum || sa.size != sb.size:
			d = append(d, n+" content changed")
		case !sa.mtime.Equal(sb.mtime):
			d = append(d, n+" mtime changed")
		case sa.mode != sb.mode:
			d = append(d, n+" mode changed")
		}
	}
	for n := range b {
		if _, ok := a[n]; !ok {
			d = append(d, n+" created")
		}
	}
	slices.Sort(d)
	return strings.Join(d, ", ")
}

// ---------------------------------------------------------------------------
// Examining a damaged core.

// examined is what Open, Get, Verify and Notes said about a damaged core,
// opened one way (read-only or writable).
type examined struct {
	openErr   error
	length    uint64
	badBlocks []uint64 // blocks whose Get failed (with ErrCorrupt)
	verifyErr error
	notes     []string
	writable  bool
	pub       []byte
	key       hc.Hash
}

func (e examined) detected() bool {
	return e.openErr != nil || len(e.badBlocks) > 0 || e.verifyErr != nil
}

func (e examined) String() string {
	if e.openErr != nil {
		return fmt.Sprintf("open: %v", e.openErr)
	}
	return fmt.Sprintf("length %d, bad blocks %v, verify: %v, notes %q", e.length, e.badBlocks, e.verifyErr, e.notes)
}

// examine opens dir (read-only or not), Gets every block and Verifies. It
// reports as errors everything that must never happen whatever the damage:
// wrong bytes, errors that do not wrap the sentinels, a length past the
// golden one, lost blocks that Verify does not report, any write.
func examine(t testing.TB, g *goldenCore, dir string, readOnly bool, what string, near uint64) examined {
	t.Helper()
	var ex examined
	before := snapshotDir(t, dir)
	defer func() {
		if d := diffSnapshots(before, snapshotDir(t, dir)); d != "" {
			t.Errorf("%s: open/get/verify (read-only %v) WROTE into the core: %s", what, readOnly, d)
		}
	}()
	c, err := hc.Open(dir, hc.OpenOptions{ReadOnly: readOnly, Durability: hc.DurabilityOS})
	if err != nil {
		ex.openErr = err
		if !errors.Is(err, hc.ErrCorrupt) && !errors.Is(err, hc.ErrNotCore) {
			t.Errorf("%s: open (read-only %v): %v: want an error wrapping ErrCorrupt or ErrNotCore", what, readOnly, err)
		}
		return ex
	}
	defer c.Close()
	ex.length, ex.writable, ex.pub, ex.key = c.Length(), c.Writable(), c.PublicKey(), c.Key()
	if ex.length > g.length() {
		t.Errorf("%s: opened at length %d, the core only ever had %d blocks", what, ex.length, g.length())
	}
	for i := uint64(0); i < ex.length && i < g.length(); i++ {
		if g.length() > 100 && i%61 != 0 && (i+3 < near || i > near+3) {
			continue // big core: a sample, and every block near the damage
		}
		got, err := c.Get(i)
		if err != nil {
			if !errors.Is(err, hc.ErrCorrupt) {
				t.Errorf("%s: get %d: %v: want an error wrapping ErrCorrupt", what, i, err)
			}
			ex.badBlocks = append(ex.badBlocks, i)
			continue
		}
		if !bytes.Equal(got, g.blocks[i]) {
			t.Errorf("%s: GET RETURNED WRONG BYTES for block %d: %s, want %s", what, i, short(got), short(g.blocks[i]))
		}
	}
	if _, err := c.Get(ex.length); !errors.Is(err, hc.ErrOutOfRange) {
		t.Errorf("%s: get past the end: %v", what, err)
	}
	ex.verifyErr = c.Verify(context.Background(), nil)
	if ex.verifyErr != nil && !errors.Is(ex.verifyErr, hc.ErrCorrupt) {
		t.Errorf("%s: verify: %v: want an error wrapping ErrCorrupt", what, ex.verifyErr)
	}
	if ex.notes, err = c.Notes(); err != nil {
		t.Errorf("%s: notes: %v", what, err)
	}
	if len(ex.badBlocks) > 0 && ex.verifyErr == nil {
		t.Errorf("%s: Get failed on blocks %v but Verify passed", what, ex.badBlocks)
	}
	if ex.length < g.length() && ex.verifyErr == nil {
		t.Errorf("%s: ACKNOWLEDGED BLOCKS SILENTLY LOST: opened at length %d of %d and Verify passed (notes %q)", what, ex.length, g.length(), ex.notes)
	}
	return ex
}

// workDir is a copy of a golden core that is damaged one file at a time;
// before each damage the previous one is undone (or the whole copy redone if
// a check failed, in case something was written).
type workDir struct {
	g     *goldenCore
	dir   string
	orig  map[string][]byte
	dirty string
}

func newWorkDir(t *testing.T, g *goldenCore, dir string) *workDir {
	w := &workDir{g: g, dir: dir, orig: map[string][]byte{}}
	copyDir(t, g.dir, dir)
	ents, err := os.ReadDir(g.dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		w.orig[e.Name()] = readFileT(t, filepath.Join(g.dir, e.Name()))
	}
	return w
}

// damage applies f to a pristine copy of file.
func (w *workDir) damage(t *testing.T, file string, f func([]byte) []byte) {
	t.Helper()
	if t.Failed() {
		if err := os.RemoveAll(w.dir); err != nil {
			t.Fatal(err)
		}
		copyDir(t, w.g.dir, w.dir)
	} else if w.dirty != "" {
		if err := os.WriteFile(filepath.Join(w.dir, w.dirty), w.orig[w.dirty], 0o600); err != nil {
			t.Fatal(err)
		}
	}
	w.dirty = file
	if err := os.WriteFile(filepath.Join(w.dir, file), f(bytes.Clone(w.orig[file])), 0o600); err != nil {
		t.Fatal(err)
	}
	// Backdate every file so that a write by Open shows in the mtimes too.
	old := time.Now().Add(-time.Hour)
	for name := range w.orig {
		os.Chtimes(filepath.Join(w.dir, name), old, old)
	}
}

// ---------------------------------------------------------------------------
// Flipped bytes.

type flipClass int

const (
	flipHeader      flipClass = iota // must fail every Open
	flipSecret                       // must fail the writable Open; read-only is unaffected
	flipData                         // Get and Verify name the block
	flipTreeNode                     // Verify names the node (leaf: the block)
	flipTreeRoot                     // a root of the current head: Open fails or falls back, Verify reports
	flipHeadCurrent                  // the only slot holding the current head: must be reported
	flipHeadCopy                     // a slot while the other holds the current head: nothing lost; reported by Open, Verify or Notes
	flipUnused                       // bytes nothing reads: must be harmless
)

var flipClassNames = []string{"header", "secret", "data", "tree-node", "tree-root", "head-current", "head-copy", "unused"}

type flip struct {
	file  string
	off   int
	mask  byte
	class flipClass
	index uint64 // block (flipData) or node (flipTree*)
}

// headSlotClass says whether slot s of head is the only one holding the
// current (highest-seq) head, or whether the other slot holds it too or
// holds a newer one.
func headSlotClass(head []byte, s int) flipClass {
	var seqs [2]uint64
	var used [2]bool
	for i := 0; i < 2; i++ {
		if sl := head[i*headSlot : (i+1)*headSlot]; slotUsed(sl) > 0 {
			seqs[i], used[i] = slotSeq(sl), true
		}
	}
	if used[1-s] && seqs[1-s] >= seqs[s] {
		return flipHeadCopy
	}
	return flipHeadCurrent
}

// nodeSpanEnd is the last block under flat-tree node x.
func nodeSpanEnd(x uint64) uint64 {
	d := uint64(0)
	for x>>d&1 == 1 {
		d++
	}
	return (x>>(d+1)+1)<<d - 1 // offset(x) = x >> (d+1); blocks [offset<<d, (offset+1)<<d)
}

func flipsFor(t testing.TB, g *goldenCore, rng *rand.Rand, every bool) []flip {
	var fl []flip
	add := func(f flip, masks ...byte) {
		for _, m := range masks {
			f.mask = m
			fl = append(fl, f)
		}
	}
	// header and secret: every byte when every, else a sample.
	for _, file := range []string{"header", "secret"} {
		b := readFileT(t, filepath.Join(g.dir, file))
		for off := range b {
			if !every && rng.IntN(8) != 0 {
				continue
			}
			class := flipHeader
			if file == "secret" {
				class = flipSecret
			}
			add(flip{file: file, off: off, class: class}, 0x01, 0x80)
		}
	}
	// data: first, last and a few inner bytes of every block; beyond the
	// head (stale bytes of the truncated core): unused.
	data := readFileT(t, filepath.Join(g.dir, "data"))
	step := 1
	if g.length() > 100 {
		step = 1499 // the big core: a sample of blocks, across both verify chunks
	}
	for i := 0; i < len(g.blocks); i += step {
		n := len(g.blocks[i])
		if n == 0 {
			continue
		}
		offs := []int{0, n - 1, n / 2}
		if n > 2 {
			offs = append(offs, 1+rng.IntN(n-2))
		}
		for _, o := range offs {
			add(flip{file: "data", off: int(g.offsets[i]) + o, class: flipData, index: uint64(i)}, 0x01)
		}
		add(flip{file: "data", off: int(g.offsets[i]) + offs[len(offs)-1], class: flipData, index: uint64(i)}, 0xff)
	}
	if g.length() > 100 {
		for _, i := range []int{4095, 4096, 8191, 8192, 8999} {
			add(flip{file: "data", off: int(g.offsets[i]), class: flipData, index: uint64(i)}, 0x01)
		}
	}
	for off := int(g.byteLength); off < len(data); off += 1 + rng.IntN(7) {
		add(flip{file: "data", off: off, class: flipUnused}, 0x01)
	}
	// tree: every field of every node record (a sample of nodes in the big
	// core); records of nodes outside the current tree are unused.
	tree := readFileT(t, filepath.Join(g.dir, "tree"))
	recs := uint64(len(tree) / nodeRecord)
	nodes := []uint64{}
	if g.length() > 100 {
		// leaves either side of the verify chunk boundary (4096 blocks),
		// the parent joining the chunks, deep parents, the last leaf
		nodes = []uint64{0, 1, 8189, 8190, 8192, 4095, 8191, 12287, 16382, 16383, 16384, 17998, 17999}
	} else {
		for x := uint64(0); x < recs; x++ {
			nodes = append(nodes, x)
		}
	}
	for _, x := range nodes {
		if x >= recs {
			continue
		}
		class := flipTreeNode
		switch {
		case nodeSpanEnd(x) >= g.length():
			class = flipUnused
		case g.roots[x]:
			class = flipTreeRoot
		}
		fields := []int{0, 7, 8, 20, 39, 40, 47, 48, 51} // size, hash, aux, crc
		if g.length() > 100 {
			fields = []int{0, 20, 40, 51}
		}
		for _, o := range fields {
			add(flip{file: "tree", off: int(x)*nodeRecord + o, class: class, index: x}, 0x01)
		}
		add(flip{file: "tree", off: int(x)*nodeRecord + 30, class: class, index: x}, 0xff)
	}
	// head: every meaningful byte of both slots, a sample of the padding
	// and of a never-written slot.
	head := readFileT(t, filepath.Join(g.dir, "head"))
	for s := 0; s < 2; s++ {
		slot := head[s*headSlot : (s+1)*headSlot]
		used := slotUsed(slot)
		class := headSlotClass(head, s)
		for o := 0; o < headSlot; o++ {
			c := class
			if o >= used {
				c = flipUnused
				if o%97 != 0 && o != used {
					continue
				}
			} else if !every && o%3 != 0 && o > 8 {
				continue
			}
			add(flip{file: "head", off: s*headSlot + o, class: c}, 0x01)
		}
	}
	return fl
}

// TestCorruptFlipHeader .. TestCorruptFlipHead flip single bytes (masks
// 0x01, 0x80, 0xff) at positions all over each file of several cores.
func TestCorruptFlipHeader(t *testing.T) { runFlips(t, false, "header", "secret") }
func TestCorruptFlipData(t *testing.T)   { runFlips(t, true, "data") }
func TestCorruptFlipTree(t *testing.T)   { runFlips(t, true, "tree") }

// TestCorruptFlipHead damages the head file. It failed at commits 0a702c8
// and 7c1ee2b (two alternating head slots): a flipped byte in the slot
// holding the newest head made Open fall back silently to the older slot,
// one acknowledged append gone, Verify passed and Notes() said "the current
// head is intact". Since 7a2ba57 every head is written to both slots, and
// this passes.
func TestCorruptFlipHead(t *testing.T) { runFlips(t, false, "head") }

func runFlips(t *testing.T, withBig bool, files ...string) {
	gs := goldenCores(t, withBig)
	rng := rand.New(rand.NewPCG(1, 2))
	base := t.TempDir()
	for gi, g := range gs {
		t.Run(g.name, func(t *testing.T) {
			w := newWorkDir(t, g, filepath.Join(base, g.name))
			// every byte of header, secret and head slots on the seven-head
			// core; samples on the others.
			all := flipsFor(t, g, rng, gi == 2)
			counts := map[string]int{}
			failedCounts := map[string]int{}
			undetectedUnused := 0
			failures, cases := 0, 0
			ct := &caseT{T: t}
			for _, f := range all {
				if !slices.Contains(files, f.file) {
					continue
				}
				cases++
				w.damage(t, f.file, func(b []byte) []byte { b[f.off] ^= f.mask; return b })
				what := fmt.Sprintf("%s: %s byte %d ^%#02x (%s)", g.name, f.file, f.off, f.mask, flipClassNames[f.class])
				if f.class == flipTreeNode || f.class == flipTreeRoot {
					what += fmt.Sprintf(" node %d", f.index)
				} else if f.class == flipData {
					what += fmt.Sprintf(" block %d", f.index)
				}
				before := ct.errs
				if !checkFlip(ct, g, w.dir, f, what) && f.class == flipUnused {
					undetectedUnused++
				}
				counts[flipClassNames[f.class]]++
				if ct.errs > before {
					failures++
					failedCounts[flipClassNames[f.class]]++
					ct.quiet = failures >= 3 // show the first few only
				}
			}
			t.Logf("%s: flips per class %v; unused bytes flipped without any report (harmless): %d", g.name, counts, undetectedUnused)
			if failures > 0 {
				t.Errorf("%s: %d of %d flipped bytes FAILED (the first 3 are shown above); failures per class: %v", g.name, failures, cases, failedCounts)
			}
		})
	}
}

// caseT counts the errors of one case and can silence them once enough
// have been shown.
type caseT struct {
	*testing.T
	errs  int
	quiet bool
}

func (c *caseT) Errorf(format string, args ...any) {
	c.errs++
	if !c.quiet {
		c.T.Helper()
		c.T.Errorf(format, args...)
	}
}

func (c *caseT) Error(args ...any) { c.Errorf("%s", fmt.Sprint(args...)) }

// checkFlip checks one flipped byte; it returns whether it was reported.
func checkFlip(t testing.TB, g *goldenCore, dir string, f flip, what string) bool {
	t.Helper()
	near := f.index
	if f.class == flipTreeNode || f.class == flipTreeRoot {
		near = f.index / 2
	}
	rw := examine(t, g, dir, false, what, near)
	ro := examine(t, g, dir, true, what, near)
	full := func(e examined, mode string) bool { // opened at full length, all blocks fine
		t.Helper()
		if e.openErr != nil || e.length != g.length() || len(e.badBlocks) > 0 {
			t.Errorf("%s (%s): %v: want the full intact core (length %d)", what, mode, e, g.length())
			return false
		}
		return true
	}
	switch f.class {
	case flipHeader:
		for _, e := range []examined{rw, ro} {
			if e.openErr == nil {
				if e.key != g.key || e.verifyErr != nil {
					t.Errorf("%s: opened (%v) with a damaged header", what, e)
				} else {
					t.Logf("%s: header flip without effect: same key, core intact", what)
				}
			} else if !errors.Is(e.openErr, hc.ErrCorrupt) {
				t.Errorf("%s: open: %v, want ErrCorrupt", what, e.openErr)
			}
		}
		return rw.detected()
	case flipSecret:
		if rw.openErr == nil {
			if !rw.writable || !bytes.Equal(rw.pub, g.pub) {
				t.Errorf("%s: writable open with a damaged secret: writable %v, public key %x", what, rw.writable, rw.pub)
			}
			full(rw, "writable")
			t.Logf("%s: secret flip without effect (same seed after trimming)", what)
		} else if !errors.Is(rw.openErr, hc.ErrCorrupt) {
			t.Errorf("%s: open: %v, want ErrCorrupt", what, rw.openErr)
		}
		if full(ro, "read-only") && ro.verifyErr != nil {
			t.Errorf("%s: read-only verify: %v (the secret is not part of the data)", what, ro.verifyErr)
		}
		return rw.openErr != nil
	case flipData:
		for i, e := range []examined{rw, ro} {
			if e.openErr != nil || e.length != g.length() {
				t.Errorf("%s: %v: a damaged block must not stop Open", what, e)
				continue
			}
			if !slices.Equal(e.badBlocks, []uint64{f.index}) {
				t.Errorf("%s: Get failed on blocks %v, want exactly [%d]", what, e.badBlocks, f.index)
			}
			var ce *hc.CorruptError
			if !errors.As(e.verifyErr, &ce) || ce.Block != int64(f.index) || ce.File != "data" {
				t.Errorf("%s: verify (read-only %v) = %v, want a *CorruptError naming block %d of data", what, i == 1, e.verifyErr, f.index)
			}
		}
		return true
	case flipTreeNode:
		for i, e := range []examined{rw, ro} {
			if e.openErr != nil || e.length != g.length() {
				t.Errorf("%s: %v: a damaged non-root node must not stop Open", what, e)
				continue
			}
			var ce *hc.CorruptError
			ok := errors.As(e.verifyErr, &ce) && ce.File == "tree"
			// Get proves each block up to a signed root, so a damaged node
			// can fail only blocks whose path reads it: blocks under its
			// parent (itself and its sibling). A damaged parent that no
			// proof needs (its value is recomputed) fails none.
			lo, hi := parentBlockSpan(f.index)
			for _, b := range e.badBlocks {
				if b < lo || b > hi {
					t.Errorf("%s: Get failed on block %d, outside blocks %d..%d under the damaged node's parent", what, b, lo, hi)
				}
			}
			if f.index%2 == 0 {
				ok = ok && ce.Block == int64(f.index/2)
				if !slices.Contains(e.badBlocks, f.index/2) {
					t.Errorf("%s: Get failed on blocks %v, not on the damaged leaf's block %d", what, e.badBlocks, f.index/2)
				}
			} else {
				ok = ok && ce.Node == int64(f.index)
			}
			if !ok {
				t.Errorf("%s: verify (read-only %v) = %v, want a *CorruptError naming node %d (block %d if a leaf) of tree", what, i == 1, e.verifyErr, f.index, f.index/2)
			}
		}
		return true
	case flipTreeRoot, flipHeadCurrent:
		for i, e := range []examined{rw, ro} {
			if !e.detected() {
				t.Errorf("%s (read-only %v): NOT DETECTED: %v", what, i == 1, e)
			}
			var ce *hc.CorruptError
			if f.class == flipTreeRoot && e.openErr != nil && (!errors.As(e.openErr, &ce) || (ce.Node != int64(f.index) && ce.Block != int64(f.index/2))) {
				t.Errorf("%s: open: %v: want a *CorruptError naming node %d", what, e.openErr, f.index)
			}
		}
		return true
	case flipHeadCopy:
		for i, e := range []examined{rw, ro} {
			if e.openErr != nil {
				continue // reported (examine checked it wraps ErrCorrupt)
			}
			full(e, "")
			if e.verifyErr == nil && len(e.notes) == 0 {
				t.Errorf("%s (read-only %v): the damaged head slot is reported by none of Open, Verify, Notes", what, i == 1)
			}
		}
		return true
	case flipUnused:
		full(rw, "writable")
		full(ro, "read-only")
		return rw.verifyErr != nil || len(rw.notes) > 0
	}
	return false
}

// ---------------------------------------------------------------------------
// Files cut short, missing files, directories that are not cores.

// TestCorruptTruncatedFile cuts data, tree and head short at many sizes. A
// cut that removes meaningful bytes must be reported by Open or Verify, and
// no cut may make Open silently drop acknowledged blocks.
//
// It failed at commits 0a702c8 and 7c1ee2b, where the size of the head file
// was not checked: cut to 0 bytes the core opened EMPTY with Verify passing;
// cut to 4096 bytes while the newest head was in slot 1 it opened at the
// previous head with Verify passing. Passes since 7a2ba57 (the head file is
// 8192 bytes from Create on, and a shorter one is ErrCorrupt).
func TestCorruptTruncatedFile(t *testing.T) {
	gs := goldenCores(t, false)
	base := t.TempDir()
	for _, g := range gs {
		w := newWorkDir(t, g, filepath.Join(base, g.name))
		head := readFileT(t, filepath.Join(g.dir, "head"))
		tree := readFileT(t, filepath.Join(g.dir, "tree"))
		data := readFileT(t, filepath.Join(g.dir, "data"))
		cuts := map[string][]int{
			"data": {0, 1, int(g.byteLength) / 2, int(g.byteLength) - 1, len(data) - 1},
			"tree": {0, 1, nodeRecord, len(tree) / 2, len(tree) - nodeRecord, len(tree) - 1},
			"head": {0, 1, 100, headSlot - 1, headSlot, headSlot + 100, headSlot + slotUsed(head[headSlot:]) - 1, headSlot + slotUsed(head[headSlot:]), 2*headSlot - 1},
		}
		for _, file := range []string{"data", "tree", "head"} {
			full := readFileT(t, filepath.Join(g.dir, file))
			slices.Sort(cuts[file])
			for _, n := range slices.Compact(cuts[file]) {
				if n < 0 || n >= len(full) {
					continue
				}
				what := fmt.Sprintf("%s: %s cut from %d to %d bytes", g.name, file, len(full), n)
				t.Run(fmt.Sprintf("%s/%s/%d", file, g.name, n), func(t *testing.T) {
					w.damage(t, file, func(b []byte) []byte { return b[:n] })
					dir := w.dir
					// What did the cut remove?
					lostCurrent, lostCopy := false, false
					switch file {
					case "data":
						lostCurrent = uint64(n) < g.byteLength
					case "tree":
						lostCurrent = uint64(n) < (2*g.length()-1)*nodeRecord
					case "head":
						for s := 0; s < 2; s++ {
							if used := slotUsed(head[s*headSlot:]); used > 0 && n < s*headSlot+used {
								if headSlotClass(head, s) == flipHeadCurrent {
									lostCurrent = true
								} else {
									lostCopy = true
								}
							}
						}
					}
					for _, ro := range []bool{false, true} {
						e := examine(t, g, dir, ro, what, 0)
						switch {
						case lostCurrent:
							if !e.detected() {
								t.Errorf("%s (read-only %v): NOT DETECTED: %v", what, ro, e)
							}
						case lostCopy:
							if e.openErr != nil {
								break // reported
							}
							if e.length != g.length() || len(e.badBlocks) > 0 {
								t.Errorf("%s: %v: the other head slot holds the current head, want the full intact core", what, e)
							}
							if e.verifyErr == nil && len(e.notes) == 0 {
								t.Errorf("%s (read-only %v): the cut head slot is reported by none of Open, Verify, Notes", what, ro)
							}
						default: // only unused bytes cut: Open may call the file damaged, but nothing may be lost
							if e.openErr == nil && (e.length != g.length() || len(e.badBlocks) > 0) {
								t.Errorf("%s: %v: only unused bytes were cut, want the full intact core", what, e)
							}
						}
					}
				})
			}
		}
	}
}

// TestCorruptMissingFile removes each file of a core in turn.
func TestCorruptMissingFile(t *testing.T) {
	g := goldenCores(t, false)[2]
	base := t.TempDir()
	for _, tc := range []struct {
		file string
		want error
	}{{"header", hc.ErrNotCore}, {"data", hc.ErrCorrupt}, {"tree", hc.ErrCorrupt}, {"head", hc.ErrCorrupt}} {
		t.Run(tc.file, func(t *testing.T) {
			dir := filepath.Join(base, tc.file)
			copyDir(t, g.dir, dir)
			if err := os.Remove(filepath.Join(dir, tc.file)); err != nil {
				t.Fatal(err)
			}
			for _, ro := range []bool{false, true} {
				e := examine(t, g, dir, ro, "no "+tc.file, 0)
				if !errors.Is(e.openErr, tc.want) {
					t.Errorf("open (read-only %v) without %s: %v, want an error wrapping %v", ro, tc.file, e.openErr, tc.want)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, tc.file)); err == nil {
				t.Errorf("Open recreated %s", tc.file)
			}
		})
	}

	t.Run("secret", func(t *testing.T) {
		dir := filepath.Join(base, "secret")
		copyDir(t, g.dir, dir)
		if err := os.Remove(filepath.Join(dir, "secret")); err != nil {
			t.Fatal(err)
		}
		before := snapshotDir(t, dir)
		for _, ro := range []bool{false, true} {
			e := examine(t, g, dir, ro, "no secret", 0)
			if e.openErr != nil || e.length != g.length() || len(e.badBlocks) > 0 || e.verifyErr != nil || e.writable {
				t.Errorf("no secret (read-only %v): %v, writable %v: want a readable, read-only intact core", ro, e, e.writable)
			}
		}
		c, err := hc.Open(dir, hc.OpenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if n, err := c.Append([]byte("x")); !errors.Is(err, hc.ErrReadOnly) || n != g.length() {
			t.Errorf("append without the secret: %d, %v: want ErrReadOnly", n, err)
		}
		if err := c.Truncate(1); !errors.Is(err, hc.ErrReadOnly) {
			t.Errorf("truncate without the secret: %v: want ErrReadOnly", err)
		}
		if got, err := c.Get(0); err != nil || !bytes.Equal(got, g.blocks[0]) {
			t.Errorf("get without the secret: %s, %v", short(got), err)
		}
		c.Close()
		if d := diffSnapshots(before, snapshotDir(t, dir)); d != "" {
			t.Errorf("a core without its secret was written to: %s", d)
		}
	})

	t.Run("read-only-option", func(t *testing.T) {
		// ReadOnly with the secret present: no Append, no lock taken (a
		// missing lock file is not created).
		dir := filepath.Join(base, "ro")
		copyDir(t, g.dir, dir)
		os.Remove(filepath.Join(dir, "lock"))
		before := snapshotDir(t, dir)
		c, err := hc.Open(dir, hc.OpenOptions{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		if c.Writable() {
			t.Error("a core opened ReadOnly says it is writable")
		}
		if _, err := c.Append([]byte("x")); !errors.Is(err, hc.ErrReadOnly) {
			t.Errorf("append on a ReadOnly core: %v: want ErrReadOnly", err)
		}
		if got, err := c.Get(g.length() - 1); err != nil || !bytes.Equal(got, g.blocks[g.length()-1]) {
			t.Errorf("get on a ReadOnly core: %s, %v", short(got), err)
		}
		c.Close()
		if d := diffSnapshots(before, snapshotDir(t, dir)); d != "" {
			t.Errorf("ReadOnly open wrote into the core: %s", d)
		}
	})
}

// TestCorruptNotACore opens directories that do not hold a core.
func TestCorruptNotACore(t *testing.T) {
	base := t.TempDir()
	mk := func(name string, files map[string]string) string {
		dir := filepath.Join(base, name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		for n, content := range files {
			if err := os.WriteFile(filepath.Join(dir, n), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	// What a Create killed before it wrote the header leaves.
	half := filepath.Join(base, "half-created")
	makeBlockCore(t, half, 3)
	os.Remove(filepath.Join(half, "header"))

	for _, tc := range []struct {
		name string
		dir  string
		want error
	}{
		{"missing", filepath.Join(base, "does-not-exist"), hc.ErrNotCore},
		{"empty", mk("empty", nil), hc.ErrNotCore},
		{"other-files", mk("other", map[string]string{"README": "hello", "data": "not a core", "notes.txt": ""}), hc.ErrNotCore},
		{"no-header", half, hc.ErrNotCore},
		{"empty-header", mk("empty-header", map[string]string{"header": ""}), hc.ErrCorrupt},
		{"json-header", mk("json-header", map[string]string{"header": `{"format":"something-else","key":"00"}`}), hc.ErrCorrupt},
		{"garbage-header", mk("garbage-header", map[string]string{"header": "\x00\xff\x10garbage"}), hc.ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, ro := range []bool{false, true} {
				before := snapshotDir(t, tc.dir)
				c, err := hc.Open(tc.dir, hc.OpenOptions{ReadOnly: ro})
				if err == nil {
					c.Close()
				}
				if !errors.Is(err, tc.want) {
					t.Errorf("open %s (read-only %v): %v, want an error wrapping %v", tc.name, ro, err, tc.want)
				}
				if d := diffSnapshots(before, snapshotDir(t, tc.dir)); d != "" {
					t.Errorf("open %s wrote: %s", tc.name, d)
				}
			}
		})
	}
	if _, err := os.Stat(filepath.Join(base, "does-not-exist")); err == nil {
		t.Error("Open created the missing directory")
	}

	t.Run("regular-file", func(t *testing.T) {
		p := filepath.Join(base, "a-file")
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := hc.Open(p, hc.OpenOptions{})
		if err == nil {
			t.Fatal("opened a regular file as a core")
		}
		if !errors.Is(err, hc.ErrNotCore) {
			t.Logf("NOTE: open of a regular file: %v (no ErrNotCore; the message is clear, so not failed)", err)
		}
	})
}

// parentBlockSpan is the first and last block under the parent of flat-tree
// node x.
func parentBlockSpan(x uint64) (lo, hi uint64) {
	d := uint(bits.TrailingZeros64(^x)) // depth of x
	off := (x >> (d + 1)) >> 1          // offset of the parent at depth d+1
	return off << (d + 1), (off+1)<<(d+1) - 1
}
