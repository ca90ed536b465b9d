package hypercore

import (
	"errors"
	"fmt"
	"math/bits"

	"github.com/fieldsync/fieldsync/hypercore/wire"
)

// Merkle proofs (spec §4): what a requester asks for (ProofRequest), what a
// responder sends back (Proof), how a responder builds one from its tree
// (BuildProof, matching JS lib/merkle-tree.js node for node) and how a
// requester checks one against what it holds (VerifyProof). Neither side
// touches storage: nodes come in through NodeSource / a lookup function.

// The request and proof types are those of package wire, which codes them
// (one codec for the whole protocol, as JS lib/messages.js).
type (
	BlockRequest   = wire.BlockRequest
	HashRequest    = wire.HashRequest
	SeekRequest    = wire.SeekRequest
	UpgradeRequest = wire.UpgradeRequest
	ProofRequest   = wire.ProofRequest
	BlockProof     = wire.BlockProof
	HashProof      = wire.HashProof
	SeekProof      = wire.SeekProof
	UpgradeProof   = wire.UpgradeProof
	Proof          = wire.Proof
)

// Prehash computes the leaf hash of b's block now, so that VerifyProof does
// not have to: a receiver can hash blocks on several goroutines as they
// arrive and still verify them one by one, in order. It must not run
// concurrently with VerifyProof of the same proof; changing b.Value
// afterwards makes VerifyProof hash again.
func Prehash(b *BlockProof) {
	if len(b.Value) > 0 {
		b.SetPrehash(LeafHash(b.Value))
	}
}

// blockLeaf is the block's leaf node, from Prehash when it still applies.
func blockLeaf(b *BlockProof) Node {
	if h, ok := b.Prehashed(); ok {
		return Node{Index: 2 * b.Index, Size: uint64(len(b.Value)), Hash: h}
	}
	return leafNode(b.Index, b.Value)
}

// NodeSource gives the stored tree nodes of a core. Node returns an error
// wrapping ErrOutOfRange when the node is not stored (outside the tree, or
// not held by a sparse replica); any other error is passed through.
type NodeSource interface {
	Node(index uint64) (Node, error)
}

// proofMaxLength bounds every length and block index a proof may speak of
// (JS numbers stop at 2^53). With it every flat index stays below 2^61, so
// the flat-tree arithmetic below cannot overflow.
const proofMaxLength = 1 << 60

// proofMaxIndex bounds the flat indices a verifier walks through: the
// parent or sibling of a node below it is below 2^63.
const proofMaxIndex = 1 << 62

// proofContains reports whether leaf or node index i lies in the span of x
// (flat-tree iterator.contains).
func proofContains(x, i uint64) bool { return leftSpan(x) <= i && i <= rightSpan(x) }

// ---------------------------------------------------------------------
// Generation

// BuildProof answers req from a core whose current head is (length, fork)
// signed by signature, reading tree nodes from src and block values from
// block. It follows JS generateProof (spec §4.2) exactly, so the Proof
// encodes to the same `data` message bytes as the JS responder's.
//
// Errors: a request the core cannot serve wraps ErrOutOfRange (fork
// mismatch, block at or beyond length, upgrade ending beyond length, hash
// node outside the tree, seek outside the proved subtree, a node missing
// from src); a request that is contradictory wraps ErrBadInput (empty
// upgrade, seek together with a block at or after the upgrade start, a
// nodes count climbing past a root, padding larger than a node). JS
// answers a fork mismatch or a missing block with noData "not available"
// (or, when the manifest was asked for, a data message holding only the
// manifest) and the rest with noData "invalid request".
//
// Like JS: a core of length 0 answers with an empty proof; a seek with
// neither block nor upgrade, or a seek that lands on a node the block or
// upgrade part already carries, yields no seek part; a hash part is
// ignored when a block is requested. The caller adds the manifest
// (Proof.Manifest) when req.Manifest is set and the core is not compat,
// and applies a manifest prologue to req.Upgrade first (applyPrologue).
func BuildProof(src NodeSource, length, fork uint64, signature []byte, req ProofRequest, block func(index uint64) ([]byte, error)) (*Proof, error) {
	if length > proofMaxLength {
		return nil, errorf(ErrBadInput, "core length %d is too large", length)
	}
	if req.Fork != fork {
		return nil, errorf(ErrOutOfRange, "request for fork %d, core is at fork %d", req.Fork, fork)
	}
	if req.Block != nil && req.Block.Index >= length {
		return nil, errorf(ErrOutOfRange, "block %d of a core of length %d", req.Block.Index, length)
	}
	if length == 0 {
		return &Proof{Fork: fork}, nil
	}
	head := 2 * length

	up := req.Upgrade
	var from, to uint64 = 0, head
	if up != nil {
		if up.Length == 0 {
			return nil, errorf(ErrBadInput, "upgrade of length 0")
		}
		if up.Start >= length || up.Length > length-up.Start {
			return nil, errorf(ErrOutOfRange, "upgrade from %d by %d beyond length %d", up.Start, up.Length, length)
		}
		from, to = 2*up.Start, 2*(up.Start+up.Length)
	}

	var node *proofTarget
	switch {
	case req.Block != nil:
		node = &proofTarget{value: true, index: 2 * req.Block.Index, nodes: req.Block.Nodes, last: req.Block.Index}
	case req.Hash != nil:
		if req.Hash.Index >= head || !nodeInTree(req.Hash.Index, length) {
			return nil, errorf(ErrOutOfRange, "tree node %d of a core of length %d", req.Hash.Index, length)
		}
		node = &proofTarget{index: req.Hash.Index, nodes: req.Hash.Nodes, last: rightSpan(req.Hash.Index) / 2}
	}
	seek := req.Seek
	if seek != nil && up != nil && node != nil && node.index >= from {
		return nil, errorf(ErrBadInput, "cannot both seek and request a block or hash at or after the upgrade start")
	}

	g := &proofGen{src: src, length: length}
	subTree := head
	switch {
	case node != nil && (up == nil || node.last < up.Start):
		r, err := proofNodesToRoot(node.index, node.nodes, to)
		if err != nil {
			return nil, err
		}
		subTree = r
		seekRoot := head
		if seek != nil {
			if seekRoot, err = g.seekUntrusted(subTree, seek.Bytes, seek.Padding); err != nil {
				return nil, err
			}
		}
		if err := g.blockAndSeek(node, seek != nil, seekRoot, subTree); err != nil {
			return nil, err
		}
	case (node != nil || seek != nil) && up != nil:
		if seek != nil {
			r, err := g.seekFromHead(to, seek.Bytes, seek.Padding)
			if err != nil {
				return nil, err
			}
			subTree = r
		} else {
			subTree = node.index
		}
	}
	if up != nil {
		if err := g.upgradeNodes(node, seek != nil, from, to, subTree); err != nil {
			return nil, err
		}
		if head > to {
			if err := g.additionalNodes(to, head); err != nil {
				return nil, err
			}
		}
	}

	p := &Proof{Fork: fork}
	switch {
	case req.Block != nil:
		if !g.nodeSet {
			return nil, errorf(ErrBadInput, "block %d is not reachable from the upgrade", req.Block.Index)
		}
		if block == nil {
			return nil, errorf(ErrBadInput, "no block source")
		}
		v, err := block(req.Block.Index)
		if err != nil {
			return nil, err
		}
		p.Block = &BlockProof{Index: req.Block.Index, Value: v, Nodes: g.node}
	case req.Hash != nil:
		if !g.nodeSet {
			return nil, errorf(ErrBadInput, "tree node %d is not reachable from the upgrade", req.Hash.Index)
		}
		p.Hash = &HashProof{Index: req.Hash.Index, Nodes: g.node}
	}
	if seek != nil && g.seekSet {
		p.Seek = &SeekProof{Bytes: seek.Bytes, Nodes: g.seek}
	}
	if up != nil {
		add := g.additional
		if add == nil {
			add = []Node{}
		}
		p.Upgrade = &UpgradeProof{Start: up.Start, Length: up.Length, Nodes: g.upgrade, AdditionalNodes: add, Signature: signature}
	}
	return p, nil
}

// applyPrologue rewrites an upgrade request the way a JS responder whose
// manifest has a prologue does before building the proof: an upgrade that
// starts inside the prologue becomes exactly 0..prologue.Length.
func applyPrologue(req ProofRequest, p *Prologue) ProofRequest {
	if p == nil || req.Upgrade == nil || req.Upgrade.Start >= p.Length {
		return req
	}
	req.Upgrade = &UpgradeRequest{Start: 0, Length: p.Length}
	return req
}

// proofTarget is a block or hash request in flat-tree terms (JS
// normalizeIndexed): value is true for a block, last is the last block the
// node covers.
type proofTarget struct {
	value bool
	index uint64
	nodes uint64
	last  uint64
}

// proofGen collects the node lists of one proof. The *Set flags tell an
// empty list from an absent one, as JS's null vs [].
type proofGen struct {
	src    NodeSource
	length uint64
	roots  []Node // roots at length, fetched on first use

	node, seek, upgrade, additional []Node
	nodeSet, seekSet, upgradeSet    bool
}

func (g *proofGen) get(index uint64) (Node, error) {
	if index >= 2*g.length || !nodeInTree(index, g.length) {
		return Node{}, errorf(ErrOutOfRange, "tree node %d of a core of length %d", index, g.length)
	}
	n, err := g.src.Node(index)
	if err != nil {
		return Node{}, err
	}
	if n.Index != index {
		return Node{}, fmt.Errorf("node source returned node %d for %d: %w", n.Index, index, ErrCorrupt)
	}
	return n, nil
}

// getOptional is get that reports a node src does not hold as absent.
func (g *proofGen) getOptional(index uint64) (Node, bool, error) {
	n, err := g.get(index)
	if errors.Is(err, ErrOutOfRange) {
		return Node{}, false, nil
	}
	return n, err == nil, err
}

// proofNodesToRoot climbs nodes levels from index; no node on the way may
// be incomplete in a tree whose head (2·length) is head.
func proofNodesToRoot(index, nodes, head uint64) (uint64, error) {
	x := index
	for i := uint64(0); i < nodes; i++ {
		x = parent(x)
		if proofContains(x, head) {
			return 0, errorf(ErrBadInput, "%d nodes above %d climb past the tree", nodes, index)
		}
	}
	return x, nil
}

// proofUnpadded is a node's size less padding per leaf; a negative result is
// refused.
func proofUnpadded(n Node, padding uint64) (uint64, error) {
	if padding == 0 {
		return n.Size, nil
	}
	hi, pad := bits.Mul64(padding, countLeaves(n.Index))
	if hi != 0 || pad > n.Size {
		return 0, errorf(ErrBadInput, "seek padding %d exceeds the size of node %d", padding, n.Index)
	}
	return n.Size - pad, nil
}

// rootNodes returns the roots of the tree at g.length.
func (g *proofGen) rootNodes() ([]Node, error) {
	if g.roots != nil {
		return g.roots, nil
	}
	idx := fullRoots(g.length)
	roots := make([]Node, len(idx))
	for i, r := range idx {
		n, err := g.get(r)
		if err != nil {
			return nil, err
		}
		roots[i] = n
	}
	g.roots = roots
	return roots, nil
}

// byteOffset is the number of bytes before node x: the sizes of the
// complete subtrees left of its first leaf.
func (g *proofGen) byteOffset(x uint64) (uint64, error) {
	leaf := leftSpan(x)
	roots, err := g.rootNodes()
	if err != nil {
		return 0, err
	}
	var off uint64
	for _, r := range roots {
		if leaf > rightSpan(r.Index) {
			off += r.Size
			continue
		}
		for y := r.Index; y != leaf; {
			l, rc, _ := children(y)
			if leaf < y {
				y = l
				continue
			}
			ln, err := g.get(l)
			if err != nil {
				return 0, err
			}
			off += ln.Size
			y = rc
		}
		return off, nil
	}
	return 0, errorf(ErrOutOfRange, "node %d is beyond the tree", x)
}

// seekUntrusted finds the node at byte offset bytes inside the subtree
// root, failing when bytes lies outside it (JS seekUntrustedTree).
func (g *proofGen) seekUntrusted(root, bytes, padding uint64) (uint64, error) {
	off, err := g.byteOffset(root)
	if err != nil {
		return 0, err
	}
	hi, pad := bits.Mul64(padding, leftSpan(root)/2)
	if hi != 0 || pad > off {
		return 0, errorf(ErrBadInput, "seek padding %d exceeds the bytes before node %d", padding, root)
	}
	off -= pad
	if off > bytes {
		return 0, errorf(ErrOutOfRange, "seek to byte %d is before node %d", bytes, root)
	}
	if off == bytes {
		return root, nil
	}
	bytes -= off
	n, err := g.get(root)
	if err != nil {
		return 0, err
	}
	size, err := proofUnpadded(n, padding)
	if err != nil {
		return 0, err
	}
	if size <= bytes {
		return 0, errorf(ErrOutOfRange, "seek to byte %d is beyond node %d", bytes+off, root)
	}
	return g.seekTrusted(root, bytes, padding)
}

// seekTrusted descends from root to the node at relative offset bytes (JS
// seekTrustedTree): it stops on a left child that ends exactly there, or
// on the lowest node whose left child src does not hold.
func (g *proofGen) seekTrusted(root, bytes, padding uint64) (uint64, error) {
	if bytes == 0 {
		return root, nil
	}
	x := root
	for depth(x) > 0 {
		l, r, _ := children(x)
		ln, ok, err := g.getOptional(l)
		if err != nil {
			return 0, err
		}
		if !ok {
			return x, nil
		}
		size, err := proofUnpadded(ln, padding)
		if err != nil {
			return 0, err
		}
		switch {
		case size == bytes:
			return l, nil
		case size > bytes:
			x = l
		default:
			bytes -= size
			x = r
		}
	}
	return x, nil
}

// seekFromHead finds the node at byte offset bytes in the tree whose head
// is to (JS seekFromHead): an offset at the end of a root gives that root,
// one beyond the end of the tree gives to itself (no node).
func (g *proofGen) seekFromHead(to, bytes, padding uint64) (uint64, error) {
	for _, r := range fullRoots(to / 2) {
		n, err := g.get(r)
		if err != nil {
			return 0, err
		}
		size, err := proofUnpadded(n, padding)
		if err != nil {
			return 0, err
		}
		if bytes == size {
			return r, nil
		}
		if bytes > size {
			bytes -= size
			continue
		}
		return g.seekTrusted(r, bytes, padding)
	}
	return to, nil
}

// proofClimbCheck fails when x has climbed to root's depth without reaching it.
func proofClimbCheck(x, root uint64) error {
	if depth(x) >= depth(root) || x >= proofMaxIndex {
		return errorf(ErrBadInput, "node %d is not below node %d", x, root)
	}
	return nil
}

// seekPath sets the seek list: seekRoot, then its siblings up to root.
func (g *proofGen) seekPath(seekRoot, root uint64) error {
	n, err := g.get(seekRoot)
	if err != nil {
		return err
	}
	g.seekSet, g.seek = true, []Node{n}
	for x := seekRoot; x != root; x = parent(x) {
		if err := proofClimbCheck(x, root); err != nil {
			return err
		}
		n, err := g.get(sibling(x))
		if err != nil {
			return err
		}
		g.seek = append(g.seek, n)
	}
	return nil
}

// blockAndSeek sets the node list: the siblings from node up to root (the
// hash node itself first), swapping the sibling that holds seekRoot for a
// seek list (JS blockAndSeekProof).
func (g *proofGen) blockAndSeek(node *proofTarget, seek bool, seekRoot, root uint64) error {
	if node == nil {
		return g.seekPath(seekRoot, root)
	}
	g.nodeSet, g.node = true, []Node{}
	if !node.value {
		n, err := g.get(node.index)
		if err != nil {
			return err
		}
		g.node = append(g.node, n)
	}
	for x := node.index; x != root; x = parent(x) {
		if err := proofClimbCheck(x, root); err != nil {
			return err
		}
		s := sibling(x)
		if seek && proofContains(s, seekRoot) && s != seekRoot {
			if err := g.seekPath(seekRoot, s); err != nil {
				return err
			}
			continue
		}
		n, err := g.get(s)
		if err != nil {
			return err
		}
		g.node = append(g.node, n)
	}
	return nil
}

// upgradeNodes sets the upgrade list from head from to head to (JS
// upgradeProof): skip roots the requester has, connect its last block to
// the root holding it, then every later root; the subtree holding subTree
// is replaced by a block/seek path.
func (g *proofGen) upgradeNodes(node *proofTarget, seek bool, from, to, subTree uint64) error {
	if from == 0 {
		g.upgradeSet, g.upgrade = true, []Node{}
	}
	for _, r := range fullRoots(to / 2) {
		if rightSpan(r)+1 < from {
			continue // the requester has this root
		}
		if !g.upgradeSet && proofContains(r, from-2) {
			g.upgradeSet, g.upgrade = true, []Node{}
			target := from - 2
			for x := target; x != r; x = parent(x) {
				s := sibling(x)
				if s <= target {
					continue
				}
				if !g.nodeSet && !g.seekSet && proofContains(s, subTree) {
					if err := g.blockAndSeek(node, seek, subTree, s); err != nil {
						return err
					}
					continue
				}
				n, err := g.get(s)
				if err != nil {
					return err
				}
				g.upgrade = append(g.upgrade, n)
			}
			continue
		}
		if !g.upgradeSet {
			g.upgradeSet, g.upgrade = true, []Node{}
		}
		if !g.nodeSet && !g.seekSet && proofContains(r, subTree) {
			if err := g.blockAndSeek(node, seek, subTree, r); err != nil {
				return err
			}
			continue
		}
		n, err := g.get(r)
		if err != nil {
			return err
		}
		g.upgrade = append(g.upgrade, n)
	}
	return nil
}

// additionalNodes sets the additional list from head from to head to
// (JS additionalUpgradeProof): as upgradeNodes without block or seek.
func (g *proofGen) additionalNodes(from, to uint64) error {
	started := false
	for _, r := range fullRoots(to / 2) {
		if rightSpan(r)+1 < from {
			continue
		}
		if !started && proofContains(r, from-2) {
			started = true
			target := from - 2
			for x := target; x != r; x = parent(x) {
				s := sibling(x)
				if s <= target {
					continue
				}
				n, err := g.get(s)
				if err != nil {
					return err
				}
				g.additional = append(g.additional, n)
			}
			continue
		}
		started = true
		n, err := g.get(r)
		if err != nil {
			return err
		}
		g.additional = append(g.additional, n)
	}
	return nil
}

// ---------------------------------------------------------------------
// Verification

// TreeState is what a verifier already holds of a core: its signed head
// and the roots at that head (Roots must be the full roots of Length, left
// to right).
type TreeState struct {
	Length, Fork uint64
	Roots        []Node
	// TreeHash may hold the tree hash of Roots, to spare VerifyProof
	// computing it for every proof; zero means unknown.
	TreeHash Hash
}

// VerifiedProof is what a verified proof lets the verifier store.
type VerifiedProof struct {
	Block *BlockProof // the verified block (nil if none)
	// Seek is the first node of the seek part (nil if none). It is proved
	// to be in the tree, not to hold the byte offset sought: like JS, the
	// caller re-runs its seek on its tree once Nodes are stored.
	Seek *Node
	// Nodes is every tree node the proof proved, each index once: the
	// leaf of the block, the nodes sent and the parents computed from them.
	Nodes     []Node
	Upgraded  bool   // the proof moved the head (longer, or a newer fork)
	Length    uint64 // the head after the proof (the old one if not upgraded)
	Fork      uint64
	Roots     []Node // roots at Length
	TreeHash  Hash   // tree hash at Length
	Signature []byte // the new head's signature (nil if not upgraded)
}

// VerifyProof checks p against cur (spec §4.3, JS MerkleTree.verify and
// verifyUpgrade) and returns what it proves. stored looks up a tree node
// the verifier holds (false if absent; nil means none beyond cur.Roots);
// its errors are returned as they are. Every other failure wraps
// ErrInvalidProof, or ErrInvalidSignature for a head signature that does
// not verify; cur not being a valid state wraps ErrBadInput.
//
// Rules beyond the spec text, chosen to be safe and to accept every proof
// a JS or Go responder makes for a request:
//   - A proof without an upgrade must be on cur.Fork; the subtree it
//     proves must end in a node of cur.Roots or one stored.
//   - An upgrade on cur.Fork must start at cur.Length (the requester's
//     length when it asked; a stale start is refused, as JS refuses it).
//   - An upgrade on a newer fork (the responder truncated) must start at 0,
//     so the whole new head is proved from nothing (JS verifies such
//     reorgs from an empty tree too); the block or hash part must then be
//     covered by the upgrade, since the stored nodes belong to the old fork.
//     The result is Upgraded even if the new head is shorter: the caller
//     must drop what it holds beyond the common prefix. Older forks are
//     refused.
//   - Upgrade lists must be used up exactly; no node index may appear
//     twice with different contents.
//
// v is needed only for upgrades. The work done is linear in the size of p.
func VerifyProof(v *Verifier, cur TreeState, stored func(index uint64) (Node, bool, error), p *Proof) (*VerifiedProof, error) {
	if p == nil {
		return nil, errorf(ErrInvalidProof, "no proof")
	}
	if err := proofCheckState(cur); err != nil {
		return nil, err
	}
	pv := &proofVerify{nodes: make([]Node, 0, 8)}
	u, seekNode, err := pv.untrusted(p)
	if err != nil {
		return nil, err
	}
	res := &VerifiedProof{Length: cur.Length, Fork: cur.Fork, Roots: cur.Roots, Seek: seekNode}

	if p.Upgrade == nil {
		if p.Fork != cur.Fork {
			return nil, errorf(ErrInvalidProof, "proof is for fork %d, the verifier is at fork %d", p.Fork, cur.Fork)
		}
		if u != nil {
			if err := proofCheckStored(cur, stored, *u); err != nil {
				return nil, err
			}
		}
		res.TreeHash = cur.TreeHash
		if res.TreeHash == (Hash{}) {
			res.TreeHash = TreeHash(cur.Roots)
		}
	} else {
		if v == nil {
			return nil, errorf(ErrBadInput, "an upgrade needs a verifier")
		}
		up := p.Upgrade
		var base []Node
		forked := p.Fork != cur.Fork
		switch {
		case !forked:
			if up.Start != cur.Length {
				return nil, errorf(ErrInvalidProof, "upgrade starts at %d, the verifier is at %d", up.Start, cur.Length)
			}
			base = cur.Roots
		case p.Fork > cur.Fork:
			if up.Start != 0 {
				return nil, errorf(ErrInvalidProof, "upgrade to fork %d starts at %d, not 0", p.Fork, up.Start)
			}
		default:
			return nil, errorf(ErrInvalidProof, "proof is for old fork %d, the verifier is at fork %d", p.Fork, cur.Fork)
		}
		roots, length, consumed, err := pv.upgrade(v.Manifest().Prologue, base, up, u)
		if err != nil {
			return nil, err
		}
		if u != nil && !consumed {
			if forked {
				return nil, errorf(ErrInvalidProof, "node %d is not part of the new fork's upgrade", u.Index)
			}
			if err := proofCheckStored(cur, stored, *u); err != nil {
				return nil, err
			}
		}
		th := TreeHash(roots)
		if err := v.Verify(th, length, p.Fork, up.Signature); err != nil {
			return nil, err
		}
		res.Upgraded = true
		res.Length, res.Fork, res.Roots, res.TreeHash = length, p.Fork, roots, th
		res.Signature = up.Signature
	}
	res.Block = p.Block
	res.Nodes = pv.nodes
	return res, nil
}

func proofCheckState(cur TreeState) error {
	if cur.Length > proofMaxLength {
		return errorf(ErrBadInput, "tree length %d is too large", cur.Length)
	}
	want := fullRoots(cur.Length)
	if len(want) != len(cur.Roots) {
		return errorf(ErrBadInput, "a tree of length %d has %d roots, not %d", cur.Length, len(want), len(cur.Roots))
	}
	for i, r := range want {
		if cur.Roots[i].Index != r {
			return errorf(ErrBadInput, "root %d of a tree of length %d is node %d, not %d", i, cur.Length, r, cur.Roots[i].Index)
		}
	}
	return nil
}

// proofCheckStored requires u to be a node the verifier holds.
func proofCheckStored(cur TreeState, stored func(uint64) (Node, bool, error), u Node) error {
	if u.Index >= 2*cur.Length || !nodeInTree(u.Index, cur.Length) {
		return errorf(ErrInvalidProof, "proved node %d is outside the tree of length %d", u.Index, cur.Length)
	}
	for _, r := range cur.Roots {
		if r.Index == u.Index {
			if r != u {
				return errorf(ErrInvalidProof, "proved node %d does not match the root", u.Index)
			}
			return nil
		}
	}
	if stored == nil {
		return errorf(ErrInvalidProof, "proved node %d is not stored", u.Index)
	}
	n, ok, err := stored(u.Index)
	if err != nil {
		return fmt.Errorf("look up tree node %d: %w", u.Index, err)
	}
	if !ok {
		return errorf(ErrInvalidProof, "proved node %d is not stored", u.Index)
	}
	if n.Hash != u.Hash || n.Size != u.Size {
		return errorf(ErrInvalidProof, "proved node %d does not match the stored node", u.Index)
	}
	return nil
}

// proofVerify collects the nodes a proof proves.
type proofVerify struct {
	nodes []Node
	seen  map[uint64]int // index → position in nodes, once nodes is long
}

// proofSeenScan is how many nodes are searched linearly before an index
// is built (most proofs hold a handful of nodes).
const proofSeenScan = 32

// record adds n to the proved nodes; a second, different node at the same
// index makes the proof invalid.
func (pv *proofVerify) record(n Node) error {
	k, ok := pv.find(n.Index)
	if ok {
		if pv.nodes[k] != n {
			return errorf(ErrInvalidProof, "two different nodes at index %d", n.Index)
		}
		return nil
	}
	pv.nodes = append(pv.nodes, n)
	if pv.seen != nil {
		pv.seen[n.Index] = len(pv.nodes) - 1
	} else if len(pv.nodes) > proofSeenScan {
		pv.seen = make(map[uint64]int, 2*len(pv.nodes))
		for i, x := range pv.nodes {
			pv.seen[x.Index] = i
		}
	}
	return nil
}

func (pv *proofVerify) find(index uint64) (int, bool) {
	if pv.seen != nil {
		k, ok := pv.seen[index]
		return k, ok
	}
	for k := range pv.nodes {
		if pv.nodes[k].Index == index {
			return k, true
		}
	}
	return 0, false
}

// join hashes the parent of two siblings and records both.
func (pv *proofVerify) join(a, b Node) (Node, error) {
	if a.Size+b.Size < a.Size {
		return Node{}, errorf(ErrInvalidProof, "node sizes overflow at %d", parent(a.Index))
	}
	if err := pv.record(b); err != nil {
		return Node{}, err
	}
	p := ParentNode(a, b)
	return p, pv.record(p)
}

// untrusted climbs the seek, block and hash parts to the root of the
// subtree they prove, U (JS verifyTree). U is nil when there are none.
// The seek result, if any, is returned too.
func (pv *proofVerify) untrusted(p *Proof) (u, seekNode *Node, err error) {
	var extra *Node // the seek subtree root, to be used once in the block climb
	if p.Seek != nil && len(p.Seek.Nodes) > 0 {
		root := p.Seek.Nodes[0]
		if root.Index >= 2*proofMaxLength {
			return nil, nil, errorf(ErrInvalidProof, "seek node %d is out of range", root.Index)
		}
		first := root
		seekNode = &first
		if err := pv.record(root); err != nil {
			return nil, nil, err
		}
		for _, n := range p.Seek.Nodes[1:] {
			if root.Index >= proofMaxIndex {
				return nil, nil, errorf(ErrInvalidProof, "seek climbs out of range")
			}
			if s := sibling(root.Index); n.Index != s {
				return nil, nil, errorf(ErrInvalidProof, "seek: expected node %d, got node %d", s, n.Index)
			}
			if root, err = pv.join(root, n); err != nil {
				return nil, nil, err
			}
		}
		extra = &root
	}

	var start Node
	var rest []Node
	switch {
	case p.Block != nil:
		if p.Block.Index >= proofMaxLength {
			return nil, nil, errorf(ErrInvalidProof, "block %d is out of range", p.Block.Index)
		}
		start, rest = blockLeaf(p.Block), p.Block.Nodes
	case p.Hash != nil:
		if p.Hash.Index >= 2*proofMaxLength {
			return nil, nil, errorf(ErrInvalidProof, "tree node %d is out of range", p.Hash.Index)
		}
		rest = p.Hash.Nodes
		switch {
		case extra != nil && extra.Index == p.Hash.Index:
			start, extra = *extra, nil
		case len(rest) > 0 && rest[0].Index == p.Hash.Index:
			start, rest = rest[0], rest[1:]
		default:
			return nil, nil, errorf(ErrInvalidProof, "hash part does not start with node %d", p.Hash.Index)
		}
	default:
		return extra, seekNode, nil
	}
	if err := pv.record(start); err != nil {
		return nil, nil, err
	}
	root := start
	for i := 0; i < len(rest) || extra != nil; {
		if root.Index >= proofMaxIndex {
			return nil, nil, errorf(ErrInvalidProof, "proof climbs out of range")
		}
		s := sibling(root.Index)
		var n Node
		switch {
		case extra != nil && extra.Index == s:
			n, extra = *extra, nil
		case i < len(rest) && rest[i].Index == s:
			n = rest[i]
			i++
		case i < len(rest):
			return nil, nil, errorf(ErrInvalidProof, "expected node %d, got node %d", s, rest[i].Index)
		default:
			return nil, nil, errorf(ErrInvalidProof, "expected node %d, got none", s)
		}
		if root, err = pv.join(root, n); err != nil {
			return nil, nil, err
		}
	}
	return &root, seekNode, nil
}

// proofQueue hands out upgrade nodes in order, U (extra) first whenever
// its index is the one asked for (JS NodeQueue).
type proofQueue struct {
	nodes []Node
	i     int
	extra *Node
}

func (q *proofQueue) shift(index uint64) (Node, error) {
	if q.extra != nil && q.extra.Index == index {
		n := *q.extra
		q.extra = nil
		return n, nil
	}
	if q.i >= len(q.nodes) {
		return Node{}, errorf(ErrInvalidProof, "upgrade: expected node %d, got none", index)
	}
	n := q.nodes[q.i]
	if n.Index != index {
		return Node{}, errorf(ErrInvalidProof, "upgrade: expected node %d, got node %d", index, n.Index)
	}
	q.i++
	return n, nil
}

// proofRootStack is a tree being grown root by root (JS appendRoot).
type proofRootStack struct {
	pv     *proofVerify
	roots  []Node
	length uint64
}

func (st *proofRootStack) append(n Node) error {
	if err := st.pv.record(n); err != nil {
		return err
	}
	st.length += countLeaves(n.Index)
	if st.length > proofMaxLength {
		return errorf(ErrInvalidProof, "upgrade grows past the largest length")
	}
	st.roots = append(st.roots, n)
	for len(st.roots) > 1 {
		a, b := st.roots[len(st.roots)-1], st.roots[len(st.roots)-2]
		if sibling(a.Index) != b.Index {
			break
		}
		if a.Size+b.Size < a.Size {
			return errorf(ErrInvalidProof, "node sizes overflow at %d", parent(a.Index))
		}
		p := ParentNode(b, a)
		if err := st.pv.record(p); err != nil {
			return err
		}
		st.roots = append(st.roots[:len(st.roots)-2], p)
	}
	return nil
}

func (st *proofRootStack) top() uint64 { return st.roots[len(st.roots)-1].Index }

// upgrade grows base (the roots at up.Start) to Start+Length with
// up.Nodes and on with up.AdditionalNodes (JS verifyUpgrade). It returns
// the final roots and length, and whether u was used.
func (pv *proofVerify) upgrade(prologue *Prologue, base []Node, up *UpgradeProof, u *Node) ([]Node, uint64, bool, error) {
	if up.Length == 0 || up.Start > proofMaxLength || up.Length > proofMaxLength-up.Start {
		return nil, 0, false, errorf(ErrInvalidProof, "bad upgrade from %d by %d", up.Start, up.Length)
	}
	if prologue != nil && up.Start < prologue.Length && (up.Start != 0 || up.Length < prologue.Length) {
		return nil, 0, false, errorf(ErrInvalidProof, "upgrade from %d by %d does not satisfy the prologue of length %d", up.Start, up.Length, prologue.Length)
	}
	n := up.Start + up.Length
	st := &proofRootStack{pv: pv, roots: append([]Node(nil), base...), length: up.Start}
	q := &proofQueue{nodes: up.Nodes, extra: u}
	i, grow := 0, len(base) > 0
	for _, r := range fullRoots(n) {
		if i < len(base) && base[i].Index == r {
			i++
			continue
		}
		if grow {
			grow = false
			if i < len(base) {
				// Connect the old roots inside r: right siblings come from the
				// queue, left ones are old roots and merge by themselves.
				for st.top() != r {
					if depth(st.top()) >= depth(r) {
						return nil, 0, false, errorf(ErrInvalidProof, "upgrade does not reach root %d", r)
					}
					node, err := q.shift(sibling(st.top()))
					if err != nil {
						return nil, 0, false, err
					}
					if err := st.append(node); err != nil {
						return nil, 0, false, err
					}
				}
				continue
			}
		}
		node, err := q.shift(r)
		if err != nil {
			return nil, 0, false, err
		}
		if err := st.append(node); err != nil {
			return nil, 0, false, err
		}
	}
	if q.i != len(q.nodes) {
		return nil, 0, false, errorf(ErrInvalidProof, "upgrade has %d unused nodes", len(q.nodes)-q.i)
	}
	if st.length != n {
		return nil, 0, false, errorf(ErrInvalidProof, "upgrade reaches length %d, not %d", st.length, n)
	}
	if prologue != nil && n == prologue.Length && TreeHash(st.roots) != prologue.Hash {
		return nil, 0, false, errorf(ErrInvalidProof, "tree hash at length %d does not match the prologue", n)
	}

	// Additional nodes: first right siblings of the top root (merging),
	// then smaller roots, each found by descending the left edge of the
	// subtree after the current end.
	extra := up.AdditionalNodes
	j := 0
	pos := sibling(st.top())
	for ; j < len(extra) && extra[j].Index == pos; j++ {
		if err := st.append(extra[j]); err != nil {
			return nil, 0, false, err
		}
		pos = sibling(st.top())
	}
	for ; j < len(extra); j++ {
		node := extra[j]
		for node.Index != pos {
			if depth(pos) == 0 {
				return nil, 0, false, errorf(ErrInvalidProof, "unexpected additional node %d", node.Index)
			}
			pos, _, _ = children(pos)
		}
		if err := st.append(node); err != nil {
			return nil, 0, false, err
		}
		pos = sibling(st.top())
	}
	want := fullRoots(st.length)
	if len(want) != len(st.roots) {
		return nil, 0, false, errorf(ErrInvalidProof, "upgrade does not end in a complete tree")
	}
	for k, r := range want {
		if st.roots[k].Index != r {
			return nil, 0, false, errorf(ErrInvalidProof, "upgrade does not end in a complete tree")
		}
	}
	return st.roots, st.length, q.extra == nil && u != nil, nil
}
