package hyperbee

import (
	"bytes"
	"errors"
	"fmt"
	"iter"
	"sync"
)

// B-tree shape, as in JS hyperbee: a node holds at most maxChildren-1 keys
// and at least minKeys (except the root).
const (
	t           = 5
	minKeys     = t - 1
	maxChildren = minKeys*2 + 1
)

// cacheBlocks bounds the decoded-block cache; when full it is emptied.
const cacheBlocks = 1 << 17

// Core is what a bee reads: *hypercore.Core satisfies it.
type Core interface {
	Get(index uint64) ([]byte, error)
	Length() uint64
}

// AppendCore is what a bee writes to: *hypercore.Core satisfies it.
type AppendCore interface {
	Core
	Append(blocks ...[]byte) (uint64, error)
}

// Entry is one key with its value, as stored in block Seq.
type Entry struct {
	Seq   uint64
	Key   []byte
	Value []byte // nil for a delete in History
}

// HistoryEntry is one write, in block order.
type HistoryEntry struct {
	Entry
	Deleted bool // a delete of Key (JS type "del")
}

// Bee is a Hyperbee over a core. Its methods are safe for concurrent use;
// writes are serialised.
type Bee struct {
	core    Core
	version uint64 // 0: follow the core's length

	mu    sync.Mutex
	cache map[uint64]*block
}

// Open returns the bee held in core. A core with blocks must have a
// Hyperbee header in block 0; an empty core is an empty bee (a write
// creates the header; see Create for one with metadata).
func Open(core Core) (*Bee, error) {
	b := &Bee{core: core, cache: make(map[uint64]*block)}
	if core.Length() > 0 {
		if _, err := b.Header(); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// Create writes the header (with meta, which may be nil) to an empty core
// and returns the bee. A core that already holds a bee is opened as is.
func Create(core AppendCore, meta *Metadata) (*Bee, error) {
	if core.Length() == 0 {
		if _, err := core.Append(Header{Protocol: Protocol, Metadata: meta}.Encode()); err != nil {
			return nil, fmt.Errorf("hyperbee: write header: %w", err)
		}
	}
	return Open(core)
}

// Header reads block 0.
func (b *Bee) Header() (Header, error) {
	raw, err := b.core.Get(0)
	if err != nil {
		return Header{}, fmt.Errorf("hyperbee: read header: %w", err)
	}
	h, err := DecodeHeader(raw)
	if err != nil {
		return Header{}, err
	}
	if h.Protocol != Protocol {
		return Header{}, fmt.Errorf("%w: block 0 has protocol %q, not %q", ErrDecode, h.Protocol, Protocol)
	}
	return h, nil
}

// Version is the bee's version: the core length (at least 1), or the
// version a Checkout was made at.
func (b *Bee) Version() uint64 {
	if b.version != 0 {
		return b.version
	}
	return max(1, b.core.Length())
}

// Checkout returns a read-only view of the bee as it was at version (a
// core length, >= 1). It shares the block cache.
func (b *Bee) Checkout(version uint64) *Bee {
	return &Bee{core: b.core, version: max(1, version), cache: b.cache}
}

// ---- blocks and tree nodes ----

type block struct {
	seq    uint64
	key    []byte
	value  []byte
	levels []Level // nil until inflated
	raw    []byte  // index bytes until inflated
}

func (b *Bee) block(seq uint64) (*block, error) {
	if seq == 0 {
		return nil, fmt.Errorf("%w: pointer to the header block", ErrDecode)
	}
	b.mu.Lock()
	blk := b.cache[seq]
	b.mu.Unlock()
	if blk != nil {
		return blk, nil
	}
	raw, err := b.core.Get(seq)
	if err != nil {
		return nil, fmt.Errorf("hyperbee: read block %d: %w", seq, err)
	}
	n, err := DecodeNode(raw)
	if err != nil {
		return nil, fmt.Errorf("block %d: %w", seq, err)
	}
	blk = &block{seq: seq, key: n.Key, value: n.Value, raw: n.Index}
	b.mu.Lock()
	if len(b.cache) >= cacheBlocks {
		clear(b.cache)
	}
	b.cache[seq] = blk
	b.mu.Unlock()
	return blk, nil
}

func (blk *block) index() ([]Level, error) {
	if blk.levels != nil {
		return blk.levels, nil
	}
	y, err := DecodeYoloIndex(blk.raw)
	if err != nil {
		return nil, fmt.Errorf("block %d: %w", blk.seq, err)
	}
	for li, l := range y.Levels {
		for _, k := range l.Keys {
			if k == 0 || k > blk.seq {
				return nil, fmt.Errorf("%w: block %d points to key %d", ErrDecode, blk.seq, k)
			}
		}
		for i := 0; i < len(l.Children); i += 2 {
			s, off := l.Children[i], l.Children[i+1]
			// Pointers go to earlier blocks, or deeper into this block's
			// own index: no cycles.
			if s == 0 || s > blk.seq || (s == blk.seq && off <= uint64(li)) || (s == blk.seq && off >= uint64(len(y.Levels))) {
				return nil, fmt.Errorf("%w: block %d node %d points to child %d/%d", ErrDecode, blk.seq, li, s, off)
			}
		}
	}
	if y.Levels == nil {
		y.Levels = []Level{}
	}
	blk.levels = y.Levels
	return blk.levels, nil
}

// hasKey says whether the block's own key is in its index: a block whose
// value is absent and whose key is not indexed is a delete.
func (blk *block) isDeletion() (bool, error) {
	if blk.value != nil {
		return false, nil
	}
	levels, err := blk.index()
	if err != nil {
		return false, err
	}
	for _, l := range levels {
		for _, k := range l.Keys {
			if k == blk.seq {
				return false, nil
			}
		}
	}
	return true, nil
}

type key struct {
	seq   uint64
	value []byte // nil until loaded
}

type child struct {
	seq, offset uint64
	node        *node // nil until loaded
}

type node struct {
	seq      uint64 // the block this node was read from (0: new)
	offset   uint64
	keys     []key
	children []child
	changed  bool
}

func (b *Bee) treeNode(seq, offset uint64) (*node, error) {
	blk, err := b.block(seq)
	if err != nil {
		return nil, err
	}
	levels, err := blk.index()
	if err != nil {
		return nil, err
	}
	if offset >= uint64(len(levels)) {
		return nil, fmt.Errorf("%w: block %d has no tree node %d", ErrDecode, seq, offset)
	}
	l := levels[offset]
	n := &node{seq: seq, offset: offset, keys: make([]key, len(l.Keys)), children: make([]child, len(l.Children)/2)}
	for i, k := range l.Keys {
		n.keys[i] = key{seq: k}
		if k == seq {
			n.keys[i].value = blk.key
		}
	}
	for i := range n.children {
		n.children[i] = child{seq: l.Children[2*i], offset: l.Children[2*i+1]}
	}
	return n, nil
}

func (b *Bee) getKey(n *node, i int) ([]byte, error) {
	k := &n.keys[i]
	if k.value != nil {
		return k.value, nil
	}
	blk, err := b.block(k.seq)
	if err != nil {
		return nil, err
	}
	k.value = blk.key
	return k.value, nil
}

func (b *Bee) childNode(n *node, i int) (*node, error) {
	if i >= len(n.children) {
		return nil, fmt.Errorf("%w: tree node %d/%d has no child %d", ErrDecode, n.seq, n.offset, i)
	}
	c := &n.children[i]
	if c.node != nil {
		return c.node, nil
	}
	cn, err := b.treeNode(c.seq, c.offset)
	if err != nil {
		return nil, err
	}
	c.node = cn
	return cn, nil
}

// root returns the root node at the bee's version, or nil for an empty bee.
func (b *Bee) root() (*node, error) {
	v := b.Version()
	if v < 2 {
		return nil, nil
	}
	return b.treeNode(v-1, 0)
}

// search finds key in n: found, or the child to descend into.
func (b *Bee) search(n *node, k []byte) (i int, found bool, err error) {
	s, e := 0, len(n.keys)
	c := 0
	for s < e {
		mid := (s + e) >> 1
		mk, err := b.getKey(n, mid)
		if err != nil {
			return 0, false, err
		}
		c = bytes.Compare(k, mk)
		if c == 0 {
			return mid, true, nil
		}
		if c < 0 {
			e = mid
		} else {
			s = mid + 1
		}
	}
	if c < 0 {
		return e, false, nil
	}
	return s, false, nil
}

// ---- reading ----

// maxDepth bounds a descent; a valid tree of 2^64 keys is far shallower.
const maxDepth = 64

// Get returns the entry for key, or nil when the bee has none.
func (b *Bee) Get(k []byte) (*Entry, error) {
	n, err := b.root()
	if n == nil || err != nil {
		return nil, err
	}
	for depth := 0; ; depth++ {
		if depth > maxDepth {
			return nil, fmt.Errorf("%w: tree deeper than %d", ErrDecode, maxDepth)
		}
		i, found, err := b.search(n, k)
		if err != nil {
			return nil, err
		}
		if found {
			blk, err := b.block(n.keys[i].seq)
			if err != nil {
				return nil, err
			}
			return &Entry{Seq: blk.seq, Key: blk.key, Value: nonNil(blk.value)}, nil
		}
		if len(n.children) == 0 {
			return nil, nil
		}
		if n, err = b.childNode(n, i); err != nil {
			return nil, err
		}
	}
}

// GetBySeq returns the write stored in block seq.
func (b *Bee) GetBySeq(seq uint64) (HistoryEntry, error) {
	blk, err := b.block(seq)
	if err != nil {
		return HistoryEntry{}, err
	}
	del, err := blk.isDeletion()
	if err != nil {
		return HistoryEntry{}, err
	}
	return HistoryEntry{Entry: Entry{Seq: seq, Key: blk.key, Value: blk.value}, Deleted: del}, nil
}

func nonNil(v []byte) []byte {
	if v == nil {
		return []byte{}
	}
	return v
}

// Range bounds an iteration. A nil bound is open; Gt/Lt win over Gte/Lte.
type Range struct {
	Gt, Gte, Lt, Lte []byte
	Reverse          bool
	Limit            int // 0: no limit
}

func (r Range) low() ([]byte, bool) {
	if r.Gt != nil {
		return r.Gt, false
	}
	return r.Gte, true
}

func (r Range) high() ([]byte, bool) {
	if r.Lt != nil {
		return r.Lt, false
	}
	return r.Lte, true
}

func (r Range) aboveLow(k []byte) bool {
	lo, incl := r.low()
	if lo == nil {
		return true
	}
	c := bytes.Compare(k, lo)
	return c > 0 || (c == 0 && incl)
}

func (r Range) belowHigh(k []byte) bool {
	hi, incl := r.high()
	if hi == nil {
		return true
	}
	c := bytes.Compare(k, hi)
	return c < 0 || (c == 0 && incl)
}

var errStop = errors.New("stop")

// Entries iterates the keys within r in key order (or reverse), with their
// values. An error ends the iteration as the last pair.
func (b *Bee) Entries(r Range) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		n, err := b.root()
		if err != nil {
			yield(Entry{}, err)
			return
		}
		if n == nil {
			return
		}
		count := 0
		emit := func(seq uint64) error {
			blk, err := b.block(seq)
			if err != nil {
				return err
			}
			if !yield(Entry{Seq: seq, Key: blk.key, Value: nonNil(blk.value)}, nil) {
				return errStop
			}
			count++
			if r.Limit > 0 && count >= r.Limit {
				return errStop
			}
			return nil
		}
		if err := b.walk(n, r, emit, 0, nil, nil); err != nil && err != errStop {
			yield(Entry{}, err)
		}
	}
}

// walk visits n in order. lo and hi are the keys around n in its parent:
// n's keys must be sorted and between them, else the tree is forged (and a
// walk over it could take exponential time).
func (b *Bee) walk(n *node, r Range, emit func(uint64) error, depth int, lo, hi []byte) error {
	if depth > maxDepth {
		return fmt.Errorf("%w: tree deeper than %d", ErrDecode, maxDepth)
	}
	nk := len(n.keys)
	keys := make([][]byte, nk)
	prev := lo
	for i := range nk {
		k, err := b.getKey(n, i)
		if err != nil {
			return err
		}
		if (prev != nil && bytes.Compare(prev, k) >= 0) || (hi != nil && bytes.Compare(k, hi) >= 0) {
			return fmt.Errorf("%w: tree node %d/%d has keys out of order", ErrDecode, n.seq, n.offset)
		}
		keys[i], prev = k, k
	}
	leaf := len(n.children) == 0
	// Child i holds keys between keys[i-1] and keys[i].
	visitChild := func(i int) error {
		if leaf {
			return nil
		}
		if i < nk && !r.aboveLow(keys[i]) {
			return nil // everything in it is below keys[i], itself too low
		}
		if i > 0 && !r.belowHigh(keys[i-1]) {
			return nil
		}
		c, err := b.childNode(n, i)
		if err != nil {
			return err
		}
		clo, chi := lo, hi
		if i > 0 {
			clo = keys[i-1]
		}
		if i < nk {
			chi = keys[i]
		}
		return b.walk(c, r, emit, depth+1, clo, chi)
	}
	visitKey := func(i int) error {
		if r.aboveLow(keys[i]) && r.belowHigh(keys[i]) {
			return emit(n.keys[i].seq)
		}
		return nil
	}
	if !r.Reverse {
		for i := 0; i <= nk; i++ {
			if err := visitChild(i); err != nil {
				return err
			}
			if i < nk {
				if err := visitKey(i); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for i := nk; i >= 0; i-- {
		if err := visitChild(i); err != nil {
			return err
		}
		if i > 0 {
			if err := visitKey(i - 1); err != nil {
				return err
			}
		}
	}
	return nil
}

// History iterates the writes of blocks [from, to) in block order; to 0
// means up to the bee's version. from 0 means 1 (block 0 is the header).
func (b *Bee) History(from, to uint64) iter.Seq2[HistoryEntry, error] {
	return func(yield func(HistoryEntry, error) bool) {
		if from == 0 {
			from = 1
		}
		if to == 0 || to > b.Version() {
			to = b.Version()
		}
		for seq := from; seq < to; seq++ {
			e, err := b.GetBySeq(seq)
			if !yield(e, err) || err != nil {
				return
			}
		}
	}
}
