package hypercore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// A replica is a core without its secret: it stores what peers send, once
// verified. It holds a signed head (the longest it has verified) and the
// first Contiguous() blocks of it, with every tree node on their proof
// paths; blocks are stored in order, so the data file stays a prefix of the
// core's bytes and a read never needs a bitfield.

// CreateReplica makes an empty replica of the core with key in dir (which
// must not exist or be empty), given its manifest; compat says the key is
// the signer's public key (hypercore 10 cores), so the manifest is
// DefaultManifest(key). The manifest must hash to key. As with Create,
// nothing is left behind on failure.
func CreateReplica(dir string, key Hash, m *Manifest, dur Durability) (*Core, error) {
	if m == nil {
		return nil, errorf(ErrBadInput, "no manifest")
	}
	if err := CheckKey(key, m); err != nil {
		return nil, fmt.Errorf("create replica %s: %w", dir, err)
	}
	if err := checkNewDir(dir); err != nil {
		return nil, err
	}
	if err := buildDir(dir, func(tmp string) error { return writeCoreFiles(tmp, key, m) }); err != nil {
		return nil, fmt.Errorf("create replica %s: %w", dir, err)
	}
	return Open(dir, OpenOptions{Durability: dur})
}

// checkNewDir refuses a dir that exists and is not an empty directory.
func checkNewDir(dir string) error {
	if dir == "" {
		return errorf(ErrBadInput, "no directory given")
	}
	if st, err := os.Stat(dir); err == nil && !st.IsDir() {
		return errorf(ErrBadInput, "%s exists and is not a directory", dir)
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return errorf(ErrBadInput, "%s exists and is not empty", dir)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("create core %s: %w", dir, err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("create core %s: %w", dir, err)
	}
	if wd, err := os.Getwd(); err == nil && wd == abs {
		return errorf(ErrBadInput, "cannot make the current directory a core: name a new directory, e.g. ./mycore")
	}
	return nil
}

// Contiguous is the number of leading blocks this core holds (its length,
// for a writer).
func (c *Core) Contiguous() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.st.Have
}

// ContiguousBytes is the byte size of the first Contiguous() blocks.
func (c *Core) ContiguousBytes() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.st.HaveBytes
}

// State is the signed head as a proof verifier needs it.
func (c *Core) State() TreeState {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return TreeState{Length: c.st.Length, Fork: c.st.Fork, Roots: slices.Clone(c.roots), TreeHash: c.treeHashLocked()}
}

// StoredNode returns tree node index if this core holds it (false if it
// was never stored). A damaged record is an error.
func (c *Core) StoredNode(index uint64) (Node, bool, error) {
	_, _, done, err := c.reading()
	if err != nil {
		return Node{}, false, err
	}
	defer done()
	return c.readStoredNode(index)
}

// readStoredNode is StoredNode with the files already pinned.
func (c *Core) readStoredNode(index uint64) (Node, bool, error) {
	var b [nodeRecordSize]byte
	if index > (1<<63)/nodeRecordSize {
		return Node{}, false, nil
	}
	n, _ := c.tree.ReadAt(b[:], int64(index*nodeRecordSize))
	if n < nodeRecordSize || allZero(b[:]) {
		return Node{}, false, nil
	}
	nd, _, err := decodeNode(index, b[:])
	if err != nil {
		return Node{}, false, err
	}
	return nd, true, nil
}

func (c *Core) storeCheck() error {
	switch {
	case c.closed:
		return ErrClosed
	case !c.storable:
		return errorf(ErrReadOnly, "core %s was opened read-only", c.dir)
	case c.writable:
		return errorf(ErrBadInput, "core %s is a writer: it only takes its own appends", c.dir)
	case c.broken != nil:
		return fmt.Errorf("core %s must be reopened after a failed flush: %w", c.dir, c.broken)
	}
	return nil
}

// ApplyUpgrade stores a verified proof that moved the head: its tree
// nodes, then the new signed head. The proof must have been verified
// against State() of this core. An upgrade to a new fork is refused once
// blocks are stored (ErrForked); an empty replica takes it.
func (c *Core) ApplyUpgrade(vp *VerifiedProof) error {
	if vp == nil || !vp.Upgraded {
		return errorf(ErrBadInput, "not an upgrade")
	}
	c.store.Lock()
	defer c.store.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.storeCheck(); err != nil {
		return err
	}
	st := c.st
	if vp.Fork != st.Fork && (st.Have > 0 || st.Seq > 0 && st.Length > 0) {
		return fmt.Errorf("core %s: remote is at fork %d, this replica at %d: %w", c.dir, vp.Fork, st.Fork, ErrForked)
	}
	if vp.Fork == st.Fork && vp.Length <= st.Length {
		return nil // nothing new (a concurrent upgrade got here first)
	}
	if st.Length == 0 {
		// The first head (or the first after an empty one): whatever an
		// interrupted earlier attempt left in the files is not part of it.
		if err := c.tree.Truncate(0); err != nil {
			return fmt.Errorf("store upgrade in %s: %w", c.dir, err)
		}
		if err := c.data.Truncate(0); err != nil {
			return fmt.Errorf("store upgrade in %s: %w", c.dir, err)
		}
	}
	if err := c.storeNodes(vp.Nodes, st.Have); err != nil {
		return fmt.Errorf("store upgrade in %s: %w", c.dir, err)
	}
	var size uint64
	for _, r := range vp.Roots {
		size += r.Size
	}
	next := headState{Seq: st.Seq + 1, Length: vp.Length, Fork: vp.Fork, ByteLength: size,
		Have: st.Have, HaveBytes: st.HaveBytes, TreeHash: vp.TreeHash, Signature: slices.Clone(vp.Signature)}
	if len(next.Signature) > maxSignature {
		return errorf(ErrBadInput, "signature of %d bytes is too large", len(next.Signature))
	}
	if err := c.flushData(); err != nil {
		return err
	}
	if err := c.writeHead(next, slices.Clone(vp.Roots)); err != nil {
		return fmt.Errorf("store upgrade in %s: %w", c.dir, err)
	}
	return nil
}

// PutBlocks stores verified blocks that extend the contiguous prefix:
// proofs[k].Block.Index must be Contiguous()+k, each verified against the
// current head. It writes the bytes, the tree nodes the proofs proved, and
// a head that counts the new blocks (flushed first with DurabilityFsync).
//
// The bytes are written without holding the core's state lock, so reads
// (Get, StoredNode, Head) go on meanwhile; only the head update takes it.
// Calls are serialised with each other and with ApplyUpgrade.
func (c *Core) PutBlocks(proofs []*VerifiedProof) error {
	if len(proofs) == 0 {
		return nil
	}
	c.store.Lock()
	defer c.store.Unlock()
	c.files.RLock() // the files stay open until we are done
	defer c.files.RUnlock()
	c.mu.RLock()
	err := c.storeCheck()
	st := c.st
	c.mu.RUnlock()
	if err != nil {
		return err
	}
	values := make([][]byte, len(proofs))
	var recs []nodeRec
	off := st.HaveBytes
	for k, vp := range proofs {
		if vp == nil || vp.Block == nil {
			return errorf(ErrBadInput, "proof %d has no block", k)
		}
		if vp.Fork != st.Fork {
			return errorf(ErrBadInput, "block %d was proved on fork %d, the core is at %d", vp.Block.Index, vp.Fork, st.Fork)
		}
		i := st.Have + uint64(k)
		if vp.Block.Index != i {
			return errorf(ErrBadInput, "block %d given where block %d is next", vp.Block.Index, i)
		}
		if i >= st.Length {
			return errorf(ErrOutOfRange, "block %d of a core of length %d", i, st.Length)
		}
		values[k] = vp.Block.Value
		leaf, ok := provedLeaf(vp, i)
		if !ok {
			leaf = Node{Index: 2 * i, Size: uint64(len(vp.Block.Value)), Hash: LeafHash(vp.Block.Value)}
		}
		recs = append(recs, nodeRec{n: leaf, off: off, crc: dataCRC(vp.Block.Value)})
		off += leaf.Size
		for _, n := range vp.Nodes {
			if n.Index%2 == 0 && n.Index <= 2*(st.Have+uint64(len(proofs))-1) {
				continue // a leaf stored (or about to be) with its offset
			}
			recs = append(recs, nodeRec{n: n})
		}
	}
	if off > st.ByteLength {
		return errorf(ErrBadInput, "blocks end at byte %d, past the %d of the signed head", off, st.ByteLength)
	}
	if err := c.writeData(values, st.HaveBytes); err != nil {
		return fmt.Errorf("store blocks in %s: write data: %w", c.dir, err)
	}
	if err := c.writeNodes(dedupeNodes(recs)); err != nil {
		return fmt.Errorf("store blocks in %s: write tree: %w", c.dir, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.storeCheck(); err != nil {
		return err
	}
	if c.st.Seq != st.Seq {
		return fmt.Errorf("store blocks in %s: the head changed during the write", c.dir)
	}
	if err := c.flushData(); err != nil {
		return err
	}
	next := st
	next.Seq++
	next.Have += uint64(len(proofs))
	next.HaveBytes = off
	if err := c.writeHead(next, c.roots); err != nil {
		return fmt.Errorf("store blocks in %s: %w", c.dir, err)
	}
	return nil
}

// storeNodes writes proved nodes, skipping leaves below have (stored with
// their byte offsets already).
func (c *Core) storeNodes(in []Node, have uint64) error {
	var recs []nodeRec
	for _, n := range in {
		if n.Index%2 == 0 && n.Index/2 < have {
			continue
		}
		recs = append(recs, nodeRec{n: n})
	}
	return c.writeNodes(dedupeNodes(recs))
}

// dedupeNodes keeps the first record of each node index (leaves carrying
// an offset come first).
func dedupeNodes(recs []nodeRec) []nodeRec {
	seen := make(map[uint64]bool, len(recs))
	out := recs[:0:0]
	for _, r := range recs {
		if !seen[r.n.Index] {
			seen[r.n.Index] = true
			out = append(out, r)
		}
	}
	return out
}

// flushData fsyncs data and tree before a head that depends on them.
func (c *Core) flushData() error {
	if c.durability != DurabilityFsync {
		return nil
	}
	if err := syncData(c.data); err != nil {
		c.broken = err
		return fmt.Errorf("flush data: %w", err)
	}
	if err := syncData(c.tree); err != nil {
		c.broken = err
		return fmt.Errorf("flush tree: %w", err)
	}
	return nil
}

// MissingNodes plans a block request (spec §4.1 "nodes"): walking up from
// block index's leaf in the tree of roots, it counts the levels until a
// node for which known is true or a root, and appends to learned the nodes
// that the answer will prove (each node of the walk and its sibling), so a
// requester pipelining many requests can count those as known for the
// next ones. The count is exact for a responder that sends what is asked.
func MissingNodes(index uint64, roots []Node, known func(node uint64) bool, learned []uint64) (uint64, []uint64) {
	if len(roots) == 0 {
		return 0, learned
	}
	last := roots[len(roots)-1]
	if 2*index > rightSpan(last.Index) {
		return 0, learned
	}
	x := 2 * index
	var n uint64
	for n < 64 {
		if _, ok := findRoot(roots, x); ok || known(x) {
			break
		}
		learned = append(learned, x, sibling(x))
		n++
		x = parent(x)
	}
	return n, learned
}

// provedLeaf finds the leaf of block i among a proof's proved nodes (the
// verifier hashed the block to make it), so it is not hashed again.
func provedLeaf(vp *VerifiedProof, i uint64) (Node, bool) {
	for _, n := range vp.Nodes {
		if n.Index == 2*i {
			return n, n.Size == uint64(len(vp.Block.Value))
		}
	}
	return Node{}, false
}
