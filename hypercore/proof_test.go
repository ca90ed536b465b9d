package hypercore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
)

// memTree is an in-memory core: its tree nodes and blocks.
type memTree struct {
	nodes  map[uint64]Node
	blocks [][]byte
}

func (m *memTree) Node(index uint64) (Node, error) {
	n, ok := m.nodes[index]
	if !ok {
		return Node{}, errorf(ErrOutOfRange, "no tree node %d", index)
	}
	return n, nil
}

func (m *memTree) block(index uint64) ([]byte, error) {
	if index >= uint64(len(m.blocks)) {
		return nil, errorf(ErrOutOfRange, "no block %d", index)
	}
	return m.blocks[index], nil
}

// roots returns the roots of the tree at length.
func (m *memTree) roots(t testing.TB, length uint64) []Node {
	t.Helper()
	var out []Node
	for _, r := range fullRoots(length) {
		n, ok := m.nodes[r]
		if !ok {
			t.Fatalf("no root %d for length %d", r, length)
		}
		out = append(out, n)
	}
	return out
}

// storedWithin looks up the nodes a verifier at length holds when it holds
// the whole tree up to there.
func (m *memTree) storedWithin(length uint64) func(uint64) (Node, bool, error) {
	return func(i uint64) (Node, bool, error) {
		n, ok := m.nodes[i]
		if !ok || !nodeInTree(i, length) {
			return Node{}, false, nil
		}
		return n, true, nil
	}
}

// storedOnly looks up exactly the given nodes.
func storedOnly(ns ...Node) func(uint64) (Node, bool, error) {
	return func(i uint64) (Node, bool, error) {
		for _, n := range ns {
			if n.Index == i {
				return n, true, nil
			}
		}
		return Node{}, false, nil
	}
}

type proofFixture struct {
	c     *vProofCore
	tree  *memTree
	v     *Verifier
	final vState
}

func newProofFixture(t testing.TB, c *vProofCore) *proofFixture {
	t.Helper()
	tree := &memTree{nodes: map[uint64]Node{}}
	for _, n := range c.TreeNodes {
		tree.nodes[n.Index] = n.node()
	}
	for _, b := range c.Blocks {
		tree.blocks = append(tree.blocks, b)
	}
	m, err := DecodeManifest(c.ManifestEncoded)
	if err != nil {
		t.Fatalf("%s: manifest: %v", c.Name, err)
	}
	v, err := NewVerifier(hash32(c.Key), m)
	if err != nil {
		t.Fatalf("%s: verifier: %v", c.Name, err)
	}
	return &proofFixture{c: c, tree: tree, v: v, final: c.States[len(c.States)-1]}
}

func (f *proofFixture) build(req ProofRequest) (*Proof, error) {
	return BuildProof(f.tree, f.final.Length, f.final.Fork, f.final.Signature, req, f.tree.block)
}

// stateAt is the verifier state at length on the final fork.
func (f *proofFixture) stateAt(t testing.TB, length uint64) TreeState {
	return TreeState{Length: length, Fork: f.final.Fork, Roots: f.tree.roots(t, length)}
}

func proofFixtures(t testing.TB) []*proofFixture {
	v := loadVectors(t)
	var out []*proofFixture
	for i := range v.Cores {
		if len(v.Cores[i].Proofs) > 0 {
			out = append(out, newProofFixture(t, &v.Cores[i]))
		}
	}
	if len(out) == 0 {
		t.Fatal("no proofs in the vectors")
	}
	return out
}

func fixtureNamed(t testing.TB, name string) *proofFixture {
	for _, f := range proofFixtures(t) {
		if f.c.Name == name {
			return f
		}
	}
	t.Fatalf("no core %q in the vectors", name)
	return nil
}

func nodeIndices(ns []Node) []uint64 {
	out := []uint64{}
	for _, n := range ns {
		out = append(out, n.Index)
	}
	return out
}

// checkVerified requires every proved node and the block to be the real
// ones of the fixture's tree.
func (f *proofFixture) checkVerified(t testing.TB, vp *VerifiedProof) {
	t.Helper()
	for _, n := range vp.Nodes {
		if want, ok := f.tree.nodes[n.Index]; !ok || want != n {
			t.Fatalf("proved node %d = %+v, tree has %+v (%v)", n.Index, n, want, ok)
		}
	}
	if vp.Block != nil && (vp.Block.Index >= uint64(len(f.tree.blocks)) || !bytes.Equal(vp.Block.Value, f.tree.blocks[vp.Block.Index])) {
		t.Fatalf("proved block %d is not the real block", vp.Block.Index)
	}
	if vp.Seek != nil && f.tree.nodes[vp.Seek.Index] != *vp.Seek {
		t.Fatalf("proved seek node %d is not the real node", vp.Seek.Index)
	}
	if vp.Upgraded {
		if want := f.tree.roots(t, vp.Length); !reflect.DeepEqual(vp.Roots, want) {
			t.Fatalf("roots at %d = %v, want %v", vp.Length, nodeIndices(vp.Roots), nodeIndices(want))
		}
		if vp.TreeHash != TreeHash(vp.Roots) {
			t.Fatal("tree hash does not match the roots")
		}
	}
}

// TestProofVectorsBuild: BuildProof gives the JS `data` message, byte for
// byte, for every proof in the vectors.
func TestProofVectorsBuild(t *testing.T) {
	for _, f := range proofFixtures(t) {
		for i, vp := range f.c.Proofs {
			t.Run(fmt.Sprintf("%s/%d", f.c.Name, i), func(t *testing.T) {
				if vp.AtLength != f.final.Length {
					t.Fatalf("proof made at length %d, final length %d", vp.AtLength, f.final.Length)
				}
				p, err := f.build(vp.Request.request(f.final.Fork))
				if err != nil {
					t.Fatalf("BuildProof: %v", err)
				}
				got := AppendDataMessage(nil, vp.Wire.RequestID, p)
				if !bytes.Equal(got, vp.Wire.Hex) {
					t.Fatalf("data message\n got %x\nwant %x", got, []byte(vp.Wire.Hex))
				}
				// The JSON view of the proof encodes the same way.
				if enc := AppendDataMessage(nil, vp.Wire.RequestID, vp.Proof.proof()); !bytes.Equal(enc, vp.Wire.Hex) {
					t.Fatalf("JSON proof encodes to %x", enc)
				}
			})
		}
	}
}

// TestProofVectorsDecode: every vector data message decodes to its JSON
// view and re-encodes to the same bytes.
func TestProofVectorsDecode(t *testing.T) {
	for _, f := range proofFixtures(t) {
		for i, vp := range f.c.Proofs {
			id, p, err := DecodeDataMessage(vp.Wire.Hex)
			if err != nil {
				t.Fatalf("%s/%d: decode: %v", f.c.Name, i, err)
			}
			if id != vp.Wire.RequestID {
				t.Fatalf("%s/%d: request id %d, want %d", f.c.Name, i, id, vp.Wire.RequestID)
			}
			want := vp.Proof.proof()
			if p.Block != nil && len(p.Block.Value) == 0 {
				p.Block.Value = want.Block.Value // nil vs empty
			}
			if !reflect.DeepEqual(p, want) {
				t.Fatalf("%s/%d: decoded %+v\nwant %+v", f.c.Name, i, p, want)
			}
			if enc := AppendDataMessage(nil, id, p); !bytes.Equal(enc, vp.Wire.Hex) {
				t.Fatalf("%s/%d: re-encoded %x", f.c.Name, i, enc)
			}
		}
	}
}

// verifyVector verifies vector proof vp as the requester that asked for
// it would: an upgrade from S against the tree at S, anything else against
// the final head holding only its roots and the node the request said it
// had.
func (f *proofFixture) verifyVector(t testing.TB, vp vProof, p *Proof) (*VerifiedProof, error) {
	t.Helper()
	if vp.Request.Upgrade != nil {
		s := vp.Request.Upgrade.Start
		return VerifyProof(f.v, f.stateAt(t, s), f.tree.storedWithin(s), p)
	}
	cur := f.stateAt(t, f.final.Length)
	var have []Node
	switch r := vp.Request; {
	case r.Block != nil:
		top, err := proofNodesToRoot(2*r.Block.Index, r.Block.Nodes, 2*f.final.Length)
		if err != nil {
			t.Fatal(err)
		}
		have = append(have, f.tree.nodes[top])
	case r.Hash != nil:
		top, err := proofNodesToRoot(r.Hash.Index, r.Hash.Nodes, 2*f.final.Length)
		if err != nil {
			t.Fatal(err)
		}
		have = append(have, f.tree.nodes[top])
	}
	return VerifyProof(f.v, cur, storedOnly(have...), p)
}

// TestProofVectorsVerify: every vector proof verifies and proves the real
// nodes; upgrades end at the final head.
func TestProofVectorsVerify(t *testing.T) {
	for _, f := range proofFixtures(t) {
		for i, vp := range f.c.Proofs {
			_, p, err := DecodeDataMessage(vp.Wire.Hex)
			if err != nil {
				t.Fatal(err)
			}
			res, err := f.verifyVector(t, vp, p)
			if err != nil {
				t.Fatalf("%s/%d: verify: %v", f.c.Name, i, err)
			}
			f.checkVerified(t, res)
			if p.Upgrade != nil {
				if !res.Upgraded || res.Length != f.final.Length || res.Fork != f.final.Fork ||
					!bytes.Equal(res.TreeHash[:], f.final.TreeHash) || !bytes.Equal(res.Signature, f.final.Signature) {
					t.Fatalf("%s/%d: upgraded=%v to %d/%d, want %d/%d", f.c.Name, i, res.Upgraded, res.Length, res.Fork, f.final.Length, f.final.Fork)
				}
			} else if res.Upgraded || res.Length != f.final.Length {
				t.Fatalf("%s/%d: a proof without upgrade moved the head", f.c.Name, i)
			}
			if (p.Block != nil) != (res.Block != nil) {
				t.Fatalf("%s/%d: block part lost", f.c.Name, i)
			}
			if p.Block != nil && !slices.ContainsFunc(res.Nodes, func(n Node) bool { return n.Index == 2*p.Block.Index }) {
				t.Fatalf("%s/%d: leaf of block %d not among the proved nodes", f.c.Name, i, p.Block.Index)
			}
		}
	}
}

// proofMutation changes a decoded proof in place; it returns false when it
// does not apply to this proof.
type proofMutation struct {
	name string
	fn   func(p *Proof) bool
}

// nodeLists names the node lists of p.
func nodeLists(p *Proof) map[string]*[]Node {
	out := map[string]*[]Node{}
	if p.Block != nil {
		out["block"] = &p.Block.Nodes
	}
	if p.Hash != nil {
		out["hash"] = &p.Hash.Nodes
	}
	if p.Seek != nil {
		out["seek"] = &p.Seek.Nodes
	}
	if p.Upgrade != nil {
		out["upgrade"] = &p.Upgrade.Nodes
		out["additional"] = &p.Upgrade.AdditionalNodes
	}
	return out
}

// proofMutations lists every tampering applied to p: each must make the
// proof fail.
func proofMutations(p *Proof) []proofMutation {
	var ms []proofMutation
	add := func(name string, fn func(p *Proof) bool) { ms = append(ms, proofMutation{name, fn}) }
	if p.Block != nil {
		add("block value flip", func(p *Proof) bool {
			if len(p.Block.Value) == 0 {
				return false
			}
			p.Block.Value[len(p.Block.Value)/2] ^= 1
			return true
		})
		add("block value longer", func(p *Proof) bool { p.Block.Value = append(p.Block.Value, 0); return true })
		add("block index+1", func(p *Proof) bool { p.Block.Index++; return true })
		add("block index huge", func(p *Proof) bool { p.Block.Index = 1<<64 - 1; return true })
	}
	if p.Hash != nil {
		add("hash index+2", func(p *Proof) bool { p.Hash.Index += 2; return true })
	}
	for name, l := range nodeLists(p) {
		for k := range *l {
			add(fmt.Sprintf("%s[%d] hash", name, k), func(p *Proof) bool { (*nodeLists(p)[name])[k].Hash[k%32] ^= 0x80; return true })
			add(fmt.Sprintf("%s[%d] size", name, k), func(p *Proof) bool { (*nodeLists(p)[name])[k].Size++; return true })
			add(fmt.Sprintf("%s[%d] index+2", name, k), func(p *Proof) bool { (*nodeLists(p)[name])[k].Index += 2; return true })
			add(fmt.Sprintf("%s[%d] index huge", name, k), func(p *Proof) bool { (*nodeLists(p)[name])[k].Index = 1<<64 - 1 - uint64(k); return true })
			add(fmt.Sprintf("%s[%d] drop", name, k), func(p *Proof) bool {
				l := nodeLists(p)[name]
				*l = slices.Delete(*l, k, k+1)
				return true
			})
			// Swapping the first two seek nodes gives a valid proof of the
			// same nodes (the seek "lands" on the sibling): JS accepts it
			// too, and TestProofSeekSwap checks what it proves.
			if k > 0 && !(name == "seek" && k == 1) {
				add(fmt.Sprintf("%s[%d] swap", name, k), func(p *Proof) bool {
					l := *nodeLists(p)[name]
					l[k], l[k-1] = l[k-1], l[k]
					return true
				})
			}
		}
		add(name+" add duplicate", func(p *Proof) bool {
			l := nodeLists(p)[name]
			if len(*l) == 0 {
				return false
			}
			*l = append(*l, (*l)[len(*l)-1])
			return true
		})
		add(name+" add forged sibling", func(p *Proof) bool {
			l := nodeLists(p)[name]
			var top uint64
			if len(*l) > 0 {
				top = (*l)[len(*l)-1].Index
			}
			*l = append(*l, Node{Index: sibling(top), Size: 1, Hash: Hash{1, 2, 3}})
			return true
		})
	}
	if p.Upgrade != nil {
		add("signature flip", func(p *Proof) bool { p.Upgrade.Signature[len(p.Upgrade.Signature)-5] ^= 1; return true })
		add("signature dropped", func(p *Proof) bool { p.Upgrade.Signature = nil; return true })
		add("upgrade start+1", func(p *Proof) bool { p.Upgrade.Start++; return true })
		add("upgrade length+1", func(p *Proof) bool { p.Upgrade.Length++; return true })
		add("upgrade length-1", func(p *Proof) bool { p.Upgrade.Length--; return true })
		add("upgrade length huge", func(p *Proof) bool { p.Upgrade.Length = 1<<64 - 1; return true })
	}
	add("fork+1", func(p *Proof) bool { p.Fork++; return true })
	return ms
}

// TestProofVectorsTamper: every tampering with a vector proof is refused
// with ErrInvalidProof or ErrInvalidSignature.
func TestProofVectorsTamper(t *testing.T) {
	n := 0
	for _, f := range proofFixtures(t) {
		for i, vp := range f.c.Proofs {
			_, orig, err := DecodeDataMessage(vp.Wire.Hex)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range proofMutations(orig) {
				_, p, _ := DecodeDataMessage(vp.Wire.Hex) // a fresh copy
				if !m.fn(p) {
					continue
				}
				n++
				res, err := f.verifyVector(t, vp, p)
				if err == nil {
					t.Errorf("%s/%d: %s: accepted (upgraded=%v length=%d)", f.c.Name, i, m.name, res.Upgraded, res.Length)
					continue
				}
				if !errors.Is(err, ErrInvalidProof) && !errors.Is(err, ErrInvalidSignature) {
					t.Errorf("%s/%d: %s: error %v is neither ErrInvalidProof nor ErrInvalidSignature", f.c.Name, i, m.name, err)
				}
			}
		}
	}
	t.Logf("%d tampered proofs refused", n)
}

// TestProofSeekSwap: a seek part whose first two nodes are swapped still
// proves only real nodes; VerifiedProof.Seek is then the sibling.
func TestProofSeekSwap(t *testing.T) {
	f := fixtureNamed(t, "thirty-three")
	p, err := f.build(ProofRequest{Seek: &SeekRequest{Bytes: 500}, Upgrade: &UpgradeRequest{Start: 0, Length: 33}})
	if err != nil {
		t.Fatal(err)
	}
	p.Seek.Nodes[0], p.Seek.Nodes[1] = p.Seek.Nodes[1], p.Seek.Nodes[0]
	res, err := VerifyProof(f.v, f.stateAt(t, 0), nil, p)
	if err != nil {
		t.Fatal(err)
	}
	f.checkVerified(t, res)
	if res.Seek == nil || res.Seek.Index != 38 {
		t.Fatalf("seek node %+v", res.Seek)
	}
}

// TestProofWorkedExamples: the examples of spec §4 and §7.3.
func TestProofWorkedExamples(t *testing.T) {
	type want struct{ block, hash, seek, upgrade, additional []uint64 }
	blk := func(i, n uint64) *BlockRequest { return &BlockRequest{Index: i, Nodes: n} }
	upg := func(s, l uint64) *UpgradeRequest { return &UpgradeRequest{Start: s, Length: l} }
	cases := []struct {
		core string
		req  ProofRequest
		want want
	}{
		{"thirty-three", ProofRequest{Block: blk(5, 0), Upgrade: upg(0, 33)}, want{block: []uint64{8, 13, 3, 23, 47}, upgrade: []uint64{64}}},
		{"thirty-three", ProofRequest{Upgrade: upg(10, 23)}, want{upgrade: []uint64{21, 27, 47, 64}}},
		{"thirty-three", ProofRequest{Upgrade: upg(0, 20)}, want{upgrade: []uint64{15, 35}, additional: []uint64{43, 55, 64}}},
		{"thirty-three", ProofRequest{Hash: &HashRequest{Index: 24, Nodes: 3}}, want{hash: []uint64{24, 26, 29, 19}}},
		{"thirty-three", ProofRequest{Seek: &SeekRequest{Bytes: 500}, Upgrade: upg(0, 33)}, want{seek: []uint64{36, 38, 33, 43, 55, 15}, upgrade: []uint64{64}}},
		{"thirty-three", ProofRequest{Block: blk(20, 5)}, want{block: []uint64{42, 45, 35, 55, 15}}},
		{"thirty-three", ProofRequest{Block: blk(32, 0), Upgrade: upg(20, 13)}, want{block: []uint64{}, upgrade: []uint64{43, 55}}},
		// A block before the upgrade start: its path stops where asked.
		{"thirty-three", ProofRequest{Block: blk(3, 2), Upgrade: upg(20, 13)}, want{block: []uint64{4, 1}, upgrade: []uint64{43, 55, 64}}},
		// Seek with a block below the subtree: the sibling holding the seek
		// target is replaced by the seek path.
		{"thirty-three", ProofRequest{Block: blk(0, 5), Seek: &SeekRequest{Bytes: 500}}, want{block: []uint64{2, 5, 11, 23}, seek: []uint64{36, 38, 33, 43, 55}}},
		// The exchange of spec §7.3 on a 5-block core.
		{"five-small", ProofRequest{Upgrade: upg(0, 5), Manifest: true}, want{upgrade: []uint64{3, 8}}},
		{"five-small", ProofRequest{Block: blk(0, 2)}, want{block: []uint64{2, 5}}},
		{"five-small", ProofRequest{Block: blk(1, 0)}, want{block: []uint64{}}},
		{"five-small", ProofRequest{Block: blk(2, 1)}, want{block: []uint64{6}}},
		{"five-small", ProofRequest{Block: blk(4, 0)}, want{block: []uint64{}}},
		// A seek landing exactly on a root boundary returns that root.
		{"five-small", ProofRequest{Seek: &SeekRequest{Bytes: 3 + 4 + 5 + 6}, Upgrade: upg(0, 5)}, want{seek: []uint64{3}, upgrade: []uint64{8}}},
		// A seek past the end yields no seek part (JS does the same).
		{"five-small", ProofRequest{Seek: &SeekRequest{Bytes: 1000}, Upgrade: upg(0, 5)}, want{upgrade: []uint64{3, 8}}},
		// A seek without block or upgrade yields nothing.
		{"five-small", ProofRequest{Seek: &SeekRequest{Bytes: 4}}, want{}},
	}
	for i, c := range cases {
		f := fixtureNamed(t, c.core)
		p, err := f.build(c.req)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		var got want
		if p.Block != nil {
			got.block = nodeIndices(p.Block.Nodes)
		}
		if p.Hash != nil {
			got.hash = nodeIndices(p.Hash.Nodes)
		}
		if p.Seek != nil {
			got.seek = nodeIndices(p.Seek.Nodes)
		}
		if p.Upgrade != nil {
			got.upgrade = nodeIndices(p.Upgrade.Nodes)
			if len(p.Upgrade.AdditionalNodes) > 0 {
				got.additional = nodeIndices(p.Upgrade.AdditionalNodes)
			}
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("case %d (%s): got %+v, want %+v", i, c.core, got, c.want)
		}
		for _, l := range nodeLists(p) {
			for _, n := range *l {
				if f.tree.nodes[n.Index] != n {
					t.Errorf("case %d: node %d is not the stored one", i, n.Index)
				}
			}
		}
	}
}

// TestProofBuildErrors: requests that cannot be answered fail with the
// documented sentinel and never panic.
func TestProofBuildErrors(t *testing.T) {
	f := fixtureNamed(t, "thirty-three")
	blk := func(i, n uint64) *BlockRequest { return &BlockRequest{Index: i, Nodes: n} }
	upg := func(s, l uint64) *UpgradeRequest { return &UpgradeRequest{Start: s, Length: l} }
	cases := []struct {
		name string
		req  ProofRequest
		want error
	}{
		{"fork mismatch", ProofRequest{Fork: 1, Block: blk(0, 0)}, ErrOutOfRange},
		{"block at length", ProofRequest{Block: blk(33, 0)}, ErrOutOfRange},
		{"block huge", ProofRequest{Block: blk(1<<64-1, 0)}, ErrOutOfRange},
		{"empty upgrade", ProofRequest{Upgrade: upg(3, 0)}, ErrBadInput},
		{"upgrade past head", ProofRequest{Upgrade: upg(3, 31)}, ErrOutOfRange},
		{"upgrade from head", ProofRequest{Upgrade: upg(33, 1)}, ErrOutOfRange},
		{"upgrade overflow", ProofRequest{Upgrade: upg(1<<64-1, 2)}, ErrOutOfRange},
		{"hash outside tree", ProofRequest{Hash: &HashRequest{Index: 63}}, ErrOutOfRange},
		{"hash huge", ProofRequest{Hash: &HashRequest{Index: 1<<64 - 1}}, ErrOutOfRange},
		{"nodes past root", ProofRequest{Block: blk(0, 6)}, ErrBadInput},
		{"nodes huge", ProofRequest{Block: blk(0, 1<<64-1)}, ErrBadInput},
		{"seek and block when upgrading", ProofRequest{Block: blk(5, 0), Seek: &SeekRequest{Bytes: 1}, Upgrade: upg(0, 33)}, ErrBadInput},
		{"seek outside subtree", ProofRequest{Block: blk(0, 2), Seek: &SeekRequest{Bytes: 1000}}, ErrOutOfRange},
		{"seek padding too big", ProofRequest{Seek: &SeekRequest{Bytes: 10, Padding: 1 << 40}, Upgrade: upg(0, 33)}, ErrBadInput},
		{"seek padding overflow", ProofRequest{Seek: &SeekRequest{Bytes: 10, Padding: 1<<64 - 1}, Upgrade: upg(0, 33)}, ErrBadInput},
		{"block after upgrade end", ProofRequest{Block: blk(30, 0), Upgrade: upg(0, 20)}, ErrBadInput},
		{"hash across upgrade start", ProofRequest{Hash: &HashRequest{Index: 15}, Upgrade: upg(4, 20)}, ErrBadInput},
	}
	for _, c := range cases {
		p, err := f.build(c.req)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, %v; want %v", c.name, p, err, c.want)
		}
	}

	// A sparse source: the missing node surfaces as ErrOutOfRange.
	sparse := &memTree{nodes: map[uint64]Node{}, blocks: f.tree.blocks}
	for i, n := range f.tree.nodes {
		if i != 47 {
			sparse.nodes[i] = n
		}
	}
	if _, err := BuildProof(sparse, 33, 0, f.final.Signature, ProofRequest{Block: blk(5, 0), Upgrade: upg(0, 33)}, sparse.block); !errors.Is(err, ErrOutOfRange) {
		t.Errorf("missing node: %v", err)
	}
	// A missing block and a missing block source.
	if _, err := BuildProof(f.tree, 33, 0, nil, ProofRequest{Block: blk(5, 0)}, func(uint64) ([]byte, error) { return nil, ErrOutOfRange }); !errors.Is(err, ErrOutOfRange) {
		t.Errorf("missing block: %v", err)
	}
	if _, err := BuildProof(f.tree, 33, 0, nil, ProofRequest{Block: blk(5, 0)}, nil); !errors.Is(err, ErrBadInput) {
		t.Errorf("no block source: %v", err)
	}
	// An empty core answers with an empty proof, as JS does.
	p, err := BuildProof(f.tree, 0, 0, nil, ProofRequest{Upgrade: upg(0, 1)}, nil)
	if err != nil || !reflect.DeepEqual(p, &Proof{}) {
		t.Errorf("empty core: %+v, %v", p, err)
	}
}

// TestProofSweep builds, encodes, decodes and verifies every upgrade of
// the 33-block core (with and without a block or hash inside it), every
// block and hash request at the head with every valid nodes count, and
// seeks at every byte offset.
func TestProofSweep(t *testing.T) {
	f := fixtureNamed(t, "thirty-three")
	length := f.final.Length
	roundTrip := func(p *Proof) *Proof {
		t.Helper()
		_, q, err := DecodeDataMessage(AppendDataMessage(nil, 7, p))
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	count := 0
	check := func(what string, cur TreeState, stored func(uint64) (Node, bool, error), req ProofRequest) {
		t.Helper()
		p, err := f.build(req)
		if err != nil {
			t.Fatalf("%s: build: %v", what, err)
		}
		res, err := VerifyProof(f.v, cur, stored, roundTrip(p))
		if err != nil {
			t.Fatalf("%s: verify: %v", what, err)
		}
		f.checkVerified(t, res)
		if req.Upgrade != nil && res.Length != length {
			t.Fatalf("%s: upgraded to %d", what, res.Length)
		}
		if req.Block != nil && (res.Block == nil || res.Block.Index != req.Block.Index) {
			t.Fatalf("%s: no block", what)
		}
		count++
	}

	for s := uint64(0); s < length; s++ {
		cur := f.stateAt(t, s)
		stored := f.tree.storedWithin(s)
		for l := uint64(1); s+l <= length; l++ {
			up := &UpgradeRequest{Start: s, Length: l}
			check(fmt.Sprintf("upgrade %d+%d", s, l), cur, stored, ProofRequest{Upgrade: up})
			// A block past the requester's length rides on the upgrade.
			for b := s; b < s+l; b += 3 {
				check(fmt.Sprintf("upgrade %d+%d block %d", s, l, b), cur, stored, ProofRequest{Upgrade: up, Block: &BlockRequest{Index: b}})
			}
			// A block it lacks below its length, with its missing levels.
			if s > 0 {
				b := (s*7/3 + 1) % s
				nodes := missingLevels(2*b, s)
				check(fmt.Sprintf("upgrade %d+%d old block %d", s, l, b), cur, stored, ProofRequest{Upgrade: up, Block: &BlockRequest{Index: b, Nodes: nodes}})
			}
			// A hash node inside the upgrade: any node of the new tree right
			// of the requester's last block.
			if l%4 == 1 {
				for _, r := range fullRoots(s + l) {
					if leftSpan(r) >= 2*s {
						check(fmt.Sprintf("upgrade %d+%d hash %d", s, l, r), cur, stored, ProofRequest{Upgrade: up, Hash: &HashRequest{Index: r}})
					}
				}
			}
		}
		// Seeks with an upgrade, at a spread of offsets.
		for bytes := uint64(0); bytes <= f.final.ByteLength; bytes += 37 {
			check(fmt.Sprintf("seek %d from %d", bytes, s), cur, stored, ProofRequest{Upgrade: &UpgradeRequest{Start: s, Length: length - s}, Seek: &SeekRequest{Bytes: bytes}})
		}
	}

	// At the head: every block and hash with every nodes count, verified
	// against a verifier holding just the node the count points at.
	head := f.stateAt(t, length)
	for x := uint64(0); x < 2*length; x++ {
		if !nodeInTree(x, length) {
			continue
		}
		for n := uint64(0); ; n++ {
			top, err := proofNodesToRoot(x, n, 2*length)
			if err != nil {
				break
			}
			stored := storedOnly(f.tree.nodes[top])
			check(fmt.Sprintf("hash %d nodes %d", x, n), head, stored, ProofRequest{Hash: &HashRequest{Index: x, Nodes: n}})
			if x%2 == 0 {
				check(fmt.Sprintf("block %d nodes %d", x/2, n), head, stored, ProofRequest{Block: &BlockRequest{Index: x / 2, Nodes: n}})
				// With a seek inside the same subtree.
				for bytes := uint64(0); bytes < f.final.ByteLength; bytes += 61 {
					req := ProofRequest{Block: &BlockRequest{Index: x / 2, Nodes: n}, Seek: &SeekRequest{Bytes: bytes}}
					if _, err := f.build(req); err != nil {
						continue // outside the subtree
					}
					check(fmt.Sprintf("block %d nodes %d seek %d", x/2, n, bytes), head, stored, req)
				}
			}
		}
	}
	t.Logf("%d proofs built and verified", count)
}

// missingLevels is JS maxMissingNodes: the levels above leaf index up to
// (excluding) the root holding it in a tree of length, for a requester
// that holds only roots.
func missingLevels(index, length uint64) uint64 {
	for _, r := range fullRoots(length) {
		if r == index {
			return 0
		}
	}
	var n uint64
	for x := parent(index); !proofContains(x, 2*length); x = parent(x) {
		n++
	}
	return n
}

// TestProofVerifyRules: the fork, start and stored-node rules of
// VerifyProof.
func TestProofVerifyRules(t *testing.T) {
	tr := fixtureNamed(t, "truncate")
	vp := tr.c.Proofs[0] // block 5 with upgrade 0+6 on fork 1
	_, p, err := DecodeDataMessage(vp.Wire.Hex)
	if err != nil {
		t.Fatal(err)
	}
	// A requester still on fork 0 at length 6 (the old tree) accepts the
	// new fork from start 0.
	old := tr.c.States[0]
	cur := TreeState{Length: old.Length, Fork: old.Fork, Roots: vNodes(old.Roots)}
	res, err := VerifyProof(tr.v, cur, nil, p)
	if err != nil {
		t.Fatalf("reorg from fork 0: %v", err)
	}
	if !res.Upgraded || res.Fork != 1 || res.Length != 6 {
		t.Fatalf("reorg: %+v", res)
	}
	tr.checkVerified(t, res)
	// A requester on a newer fork refuses it.
	if _, err := VerifyProof(tr.v, TreeState{Fork: 2}, nil, p); !errors.Is(err, ErrInvalidProof) {
		t.Fatalf("older fork: %v", err)
	}

	f := fixtureNamed(t, "thirty-three")
	get := func(req ProofRequest) *Proof {
		p, err := f.build(req)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	up := get(ProofRequest{Upgrade: &UpgradeRequest{Start: 10, Length: 23}})
	for _, s := range []uint64{0, 9, 11, 20} {
		if _, err := VerifyProof(f.v, f.stateAt(t, s), f.tree.storedWithin(s), up); !errors.Is(err, ErrInvalidProof) {
			t.Errorf("upgrade from 10 verified at %d: %v", s, err)
		}
	}
	if _, err := VerifyProof(nil, f.stateAt(t, 10), nil, up); !errors.Is(err, ErrBadInput) {
		t.Errorf("no verifier: %v", err)
	}
	// A newer fork must start at 0.
	up.Fork = 1
	if _, err := VerifyProof(f.v, f.stateAt(t, 10), nil, up); !errors.Is(err, ErrInvalidProof) {
		t.Errorf("fork change from 10: %v", err)
	}

	// A block below the requester's length must end in a stored node.
	blk := get(ProofRequest{Block: &BlockRequest{Index: 3, Nodes: 2}})
	head := f.stateAt(t, 33)
	if _, err := VerifyProof(f.v, head, nil, blk); !errors.Is(err, ErrInvalidProof) {
		t.Errorf("unstored node: %v", err)
	}
	if _, err := VerifyProof(f.v, head, storedOnly(f.tree.nodes[3]), blk); err != nil {
		t.Errorf("stored node: %v", err)
	}
	wrong := f.tree.nodes[3]
	wrong.Hash[0] ^= 1
	if _, err := VerifyProof(f.v, head, storedOnly(wrong), blk); !errors.Is(err, ErrInvalidProof) {
		t.Errorf("different stored node: %v", err)
	}
	boom := errors.New("disk on fire")
	if _, err := VerifyProof(f.v, head, func(uint64) (Node, bool, error) { return Node{}, false, boom }, blk); !errors.Is(err, boom) || errors.Is(err, ErrInvalidProof) {
		t.Errorf("lookup error: %v", err)
	}
	// The same block under a verifier at a shorter length: outside its tree.
	if _, err := VerifyProof(f.v, f.stateAt(t, 3), f.tree.storedWithin(3), blk); !errors.Is(err, ErrInvalidProof) {
		t.Errorf("node outside the tree: %v", err)
	}
	// A bad TreeState is the caller's fault.
	if _, err := VerifyProof(f.v, TreeState{Length: 3, Roots: head.Roots}, nil, blk); !errors.Is(err, ErrBadInput) {
		t.Errorf("bad state: %v", err)
	}
	if _, err := VerifyProof(f.v, head, nil, nil); !errors.Is(err, ErrInvalidProof) {
		t.Errorf("nil proof: %v", err)
	}
	// An empty proof proves nothing and is fine.
	res, err = VerifyProof(f.v, head, nil, &Proof{})
	if err != nil || res.Upgraded || len(res.Nodes) != 0 {
		t.Errorf("empty proof: %+v, %v", res, err)
	}
}

// TestProofPrologue: an upgrade to exactly the prologue needs no
// signature, one starting inside it is refused, and responders widen such
// requests to the prologue (applyPrologue).
func TestProofPrologue(t *testing.T) {
	f := fixtureNamed(t, "thirty-three")
	const pl = 20
	m := &Manifest{Version: 1, Quorum: 1, Signers: f.v.Manifest().Signers,
		Prologue: &Prologue{Length: pl, Hash: TreeHash(f.tree.roots(t, pl))}}
	v, err := NewVerifier(manifestHash(m), m)
	if err != nil {
		t.Fatal(err)
	}
	build := func(req ProofRequest) *Proof {
		p, err := BuildProof(f.tree, pl, 0, nil, applyPrologue(req, m.Prologue), f.tree.block)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := build(ProofRequest{Upgrade: &UpgradeRequest{Start: 5, Length: 3}, Block: &BlockRequest{Index: 7}})
	if p.Upgrade.Start != 0 || p.Upgrade.Length != pl {
		t.Fatalf("applyPrologue: upgrade %d+%d", p.Upgrade.Start, p.Upgrade.Length)
	}
	res, err := VerifyProof(v, TreeState{}, nil, p)
	if err != nil {
		t.Fatalf("prologue upgrade: %v", err)
	}
	if res.Length != pl || res.Block == nil {
		t.Fatalf("prologue upgrade: %+v", res)
	}
	f.checkVerified(t, res)

	// Starting inside the prologue is refused.
	p = build(ProofRequest{Upgrade: &UpgradeRequest{Start: 0, Length: 10}})
	p2, err := BuildProof(f.tree, pl, 0, nil, ProofRequest{Upgrade: &UpgradeRequest{Start: 0, Length: 10}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyProof(v, TreeState{}, nil, p2); err == nil {
		t.Fatal("upgrade to 10 of a 20-block prologue accepted")
	}
	// A wrong prologue hash is refused.
	p.Upgrade.Nodes[0].Hash[0] ^= 1
	if _, err := VerifyProof(v, TreeState{}, nil, p); !errors.Is(err, ErrInvalidProof) {
		t.Fatalf("tampered prologue upgrade: %v", err)
	}
}

// TestProofWireMessages: the request and data message vectors decode to
// their JSON values and re-encode byte for byte.
func TestProofWireMessages(t *testing.T) {
	type hexv struct {
		Hex hexBytes `json:"hex"`
	}
	type jnode struct {
		Index uint64 `json:"index"`
		Size  uint64 `json:"size"`
		Hash  hexv   `json:"hash"`
	}
	nodesOf := func(js []jnode) []Node {
		out := make([]Node, len(js))
		for i, n := range js {
			out[i] = Node{Index: n.Index, Size: n.Size}
			copy(out[i].Hash[:], n.Hash.Hex)
		}
		return out
	}
	seen := map[string]int{}
	for i, m := range loadVectors(t).Wire.HypercoreMessages {
		switch m.Type {
		case "request":
			var want struct {
				ID       uint64          `json:"id"`
				Fork     uint64          `json:"fork"`
				Block    *BlockRequest   `json:"block"`
				Hash     *HashRequest    `json:"hash"`
				Seek     *SeekRequest    `json:"seek"`
				Upgrade  *UpgradeRequest `json:"upgrade"`
				Manifest bool            `json:"manifest"`
				Priority uint64          `json:"priority"`
			}
			if err := json.Unmarshal(m.Value, &want); err != nil {
				t.Fatal(err)
			}
			id, req, err := DecodeRequestMessage(m.Hex)
			if err != nil {
				t.Fatalf("message %d: %v", i, err)
			}
			wreq := ProofRequest{Fork: want.Fork, Block: want.Block, Hash: want.Hash, Seek: want.Seek, Upgrade: want.Upgrade, Manifest: want.Manifest, Priority: want.Priority}
			if id != want.ID || !reflect.DeepEqual(req, wreq) {
				t.Fatalf("message %d: decoded %d %+v, want %d %+v", i, id, req, want.ID, wreq)
			}
			if enc := AppendRequestMessage(nil, id, req); !bytes.Equal(enc, m.Hex) {
				t.Fatalf("message %d: re-encoded %x, want %x", i, enc, []byte(m.Hex))
			}
		case "data":
			var want struct {
				Request uint64 `json:"request"`
				Fork    uint64 `json:"fork"`
				Block   *struct {
					Index uint64  `json:"index"`
					Value hexv    `json:"value"`
					Nodes []jnode `json:"nodes"`
				} `json:"block"`
				Upgrade *struct {
					Start, Length   uint64
					Nodes           []jnode `json:"nodes"`
					AdditionalNodes []jnode `json:"additionalNodes"`
					Signature       hexv    `json:"signature"`
				} `json:"upgrade"`
				Manifest json.RawMessage `json:"manifest"`
			}
			if err := json.Unmarshal(m.Value, &want); err != nil {
				t.Fatal(err)
			}
			id, p, err := DecodeDataMessage(m.Hex)
			if err != nil {
				t.Fatalf("message %d: %v", i, err)
			}
			if id != want.Request || p.Fork != want.Fork {
				t.Fatalf("message %d: id %d fork %d", i, id, p.Fork)
			}
			hasManifest := len(want.Manifest) > 0 && string(want.Manifest) != "null"
			if (want.Block != nil) != (p.Block != nil) || (want.Upgrade != nil) != (p.Upgrade != nil) || hasManifest != (p.Manifest != nil) {
				t.Fatalf("message %d: parts differ: %+v", i, p)
			}
			if b := want.Block; b != nil && (b.Index != p.Block.Index || !bytes.Equal(b.Value.Hex, p.Block.Value) || !reflect.DeepEqual(nodesOf(b.Nodes), p.Block.Nodes)) {
				t.Fatalf("message %d: block %+v", i, p.Block)
			}
			if u := want.Upgrade; u != nil && (u.Start != p.Upgrade.Start || u.Length != p.Upgrade.Length ||
				!reflect.DeepEqual(nodesOf(u.Nodes), p.Upgrade.Nodes) || !reflect.DeepEqual(nodesOf(u.AdditionalNodes), p.Upgrade.AdditionalNodes) ||
				!bytes.Equal(u.Signature.Hex, p.Upgrade.Signature)) {
				t.Fatalf("message %d: upgrade %+v", i, p.Upgrade)
			}
			if hasManifest && !reflect.DeepEqual(p.Manifest, wireManifest(t, m.Value)) {
				t.Fatalf("message %d: manifest %+v", i, p.Manifest)
			}
			if enc := AppendDataMessage(nil, id, p); !bytes.Equal(enc, m.Hex) {
				t.Fatalf("message %d: re-encoded %x, want %x", i, enc, []byte(m.Hex))
			}
		default:
			continue
		}
		seen[m.Type]++
	}
	if seen["request"] == 0 || seen["data"] == 0 {
		t.Fatalf("vectors checked: %v", seen)
	}
}

// wireManifest reads the manifest of a wire data message value, whose byte
// strings are {"hex": ...} objects.
func wireManifest(t *testing.T, value json.RawMessage) *Manifest {
	var w struct {
		Manifest struct {
			Version    uint64 `json:"version"`
			AllowPatch bool   `json:"allowPatch"`
			Quorum     uint64 `json:"quorum"`
			Signers    []struct {
				Namespace struct {
					Hex hexBytes `json:"hex"`
				} `json:"namespace"`
				PublicKey struct {
					Hex hexBytes `json:"hex"`
				} `json:"publicKey"`
			} `json:"signers"`
		} `json:"manifest"`
	}
	if err := json.Unmarshal(value, &w); err != nil {
		t.Fatal(err)
	}
	m := &Manifest{Version: w.Manifest.Version, AllowPatch: w.Manifest.AllowPatch, Quorum: w.Manifest.Quorum}
	for _, s := range w.Manifest.Signers {
		var sg Signer
		copy(sg.Namespace[:], s.Namespace.Hex)
		copy(sg.PublicKey[:], s.PublicKey.Hex)
		m.Signers = append(m.Signers, sg)
	}
	return m
}

// TestDataMessageMalformed: truncations, trailing bytes and hostile
// counts are refused without panics.
func TestDataMessageMalformed(t *testing.T) {
	var msgs [][]byte
	for _, f := range proofFixtures(t) {
		for _, vp := range f.c.Proofs {
			msgs = append(msgs, vp.Wire.Hex)
		}
	}
	for _, m := range msgs {
		for n := 0; n < len(m); n++ {
			if _, _, err := DecodeDataMessage(m[:n]); !errors.Is(err, ErrInvalidProof) {
				t.Fatalf("prefix %d of %x: %v", n, m, err)
			}
		}
		if _, _, err := DecodeDataMessage(append(append([]byte{}, m...), 0)); !errors.Is(err, ErrInvalidProof) {
			t.Fatalf("trailing byte accepted: %v", err)
		}
	}
	hostile := [][]byte{
		{0x01, 0x01, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, // block value of 2^64-1 bytes
		{0x02, 0x01, 0x00, 0x00, 0xfe, 0xff, 0xff, 0xff, 0x7f},                         // 2^31 hash nodes
		{0x08, 0x01, 0x00, 0x00, 0x01, 0x01, 0x05, 0x05},                               // upgrade with 1 node and no bytes
		{0x10, 0x01, 0x00, 0x09},                                                       // manifest version 9
		{0xff, 0xff},                                                                   // truncated varint
	}
	for _, h := range hostile {
		if _, _, err := DecodeDataMessage(h); !errors.Is(err, ErrInvalidProof) {
			t.Errorf("%x: %v", h, err)
		}
	}
	for _, h := range [][]byte{{}, {0x01, 0x01, 0x00, 0x05}, {0x21, 0x01, 0x00, 0x00, 0x00}, {0x00, 0x01, 0x00, 0x00}} {
		if _, _, err := DecodeRequestMessage(h); !errors.Is(err, ErrBadInput) {
			t.Errorf("request %x: %v", h, err)
		}
	}
}

// fuzzSeedsData are the data messages of the vectors.
func fuzzSeedsData(t testing.TB) [][]byte {
	var out [][]byte
	v := loadVectors(t)
	for _, c := range v.Cores {
		for _, p := range c.Proofs {
			out = append(out, []byte(p.Wire.Hex))
		}
	}
	for _, m := range v.Wire.HypercoreMessages {
		if m.Type == "data" {
			out = append(out, []byte(m.Hex))
		}
	}
	return out
}

// FuzzDecodeDataMessage: decoding never panics, what decodes re-encodes
// stably, and verifying it never panics nor accepts a node that is not the
// real one.
func FuzzDecodeDataMessage(f *testing.F) {
	for _, s := range fuzzSeedsData(f) {
		f.Add(s)
	}
	fx := fixtureNamed(f, "thirty-three")
	var states []TreeState
	for _, s := range []uint64{0, 10, 20, 32, 33} {
		states = append(states, fx.stateAt(f, s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		id, p, err := DecodeDataMessage(b)
		if err != nil {
			if !errors.Is(err, ErrInvalidProof) {
				t.Fatalf("error %v does not wrap ErrInvalidProof", err)
			}
			return
		}
		enc := AppendDataMessage(nil, id, p)
		id2, p2, err := DecodeDataMessage(enc)
		if err != nil || id2 != id {
			t.Fatalf("re-decode: %v", err)
		}
		if enc2 := AppendDataMessage(nil, id2, p2); !bytes.Equal(enc, enc2) {
			t.Fatalf("unstable encoding %x vs %x", enc, enc2)
		}
		for _, cur := range states {
			res, err := VerifyProof(fx.v, cur, fx.tree.storedWithin(cur.Length), p)
			if err != nil {
				if !errors.Is(err, ErrInvalidProof) && !errors.Is(err, ErrInvalidSignature) {
					t.Fatalf("error %v wraps neither ErrInvalidProof nor ErrInvalidSignature", err)
				}
				continue
			}
			fx.checkVerified(t, res)
		}
	})
}

// FuzzDecodeRequestMessage: decoding never panics, what decodes re-encodes
// to an equal request, and answering it never panics; an answer verifies
// (or is refused cleanly) and proves only real nodes.
func FuzzDecodeRequestMessage(f *testing.F) {
	for _, m := range loadVectors(f).Wire.HypercoreMessages {
		if m.Type == "request" {
			f.Add([]byte(m.Hex))
		}
	}
	for _, fx := range proofFixtures(f) {
		for _, vp := range fx.c.Proofs {
			f.Add(AppendRequestMessage(nil, vp.Wire.RequestID, vp.Request.request(0)))
		}
	}
	fx := fixtureNamed(f, "thirty-three")
	f.Fuzz(func(t *testing.T, b []byte) {
		id, req, err := DecodeRequestMessage(b)
		if err != nil {
			if !errors.Is(err, ErrBadInput) {
				t.Fatalf("error %v does not wrap ErrBadInput", err)
			}
			return
		}
		enc := AppendRequestMessage(nil, id, req)
		id2, req2, err := DecodeRequestMessage(enc)
		if err != nil || id2 != id || !reflect.DeepEqual(req, req2) {
			t.Fatalf("round trip: %v %+v %+v", err, req, req2)
		}
		p, err := fx.build(req)
		if err != nil {
			if !errors.Is(err, ErrBadInput) && !errors.Is(err, ErrOutOfRange) {
				t.Fatalf("build error %v wraps neither ErrBadInput nor ErrOutOfRange", err)
			}
			return
		}
		cur, stored := fx.stateAt(t, fx.final.Length), fx.tree.storedWithin(fx.final.Length)
		if p.Upgrade != nil {
			s := p.Upgrade.Start
			cur, stored = fx.stateAt(t, s), fx.tree.storedWithin(s)
		}
		_, q, err := DecodeDataMessage(AppendDataMessage(nil, id, p))
		if err != nil {
			t.Fatal(err)
		}
		res, err := VerifyProof(fx.v, cur, stored, q)
		if err != nil {
			if !errors.Is(err, ErrInvalidProof) {
				t.Fatalf("verify error %v", err)
			}
			return
		}
		fx.checkVerified(t, res)
	})
}
