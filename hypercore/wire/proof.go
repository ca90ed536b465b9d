package wire

import (
	"fmt"

	"github.com/fieldsync/fieldsync/hypercore/internal/cenc"
)

// The parts of a request and a data message (JS lib/messages.js
// wire.request / wire.data, spec §7.2), tree nodes, manifests (spec §3.3)
// and multi-signatures. Package hypercore re-exports these types under
// the same names (hypercore.Proof is wire.Proof) and builds and verifies
// them; this file only codes them.

// Node is a Merkle tree node: its flat-tree index, the number of data bytes
// under it, and its hash. Encoding: uint index ‖ uint size ‖ 32-byte hash.
type Node struct {
	Index uint64
	Size  uint64
	Hash  [32]byte
}

// BlockRequest asks for block Index and the Nodes sibling nodes on its path
// that the requester lacks (JS missingNodes; 0 = it stores the leaf's
// parent chain already).
type BlockRequest struct{ Index, Nodes uint64 }

// HashRequest asks for tree node Index (a flat-tree index) and Nodes
// siblings on its path, like BlockRequest but without a block value.
type HashRequest struct{ Index, Nodes uint64 }

// SeekRequest asks for the block holding byte offset Bytes; Padding is a
// per-block overhead subtracted from every node size (0 normally).
type SeekRequest struct{ Bytes, Padding uint64 }

// UpgradeRequest says the requester is at length Start and wants a signed
// head of at least Start+Length.
type UpgradeRequest struct{ Start, Length uint64 }

// ProofRequest is the body of a `request` message (spec §7.2, type 1)
// without its id. Fork is the fork the requester believes the responder is
// on. Priority (0 normal, 1 high, 2 very high) travels only on the wire.
type ProofRequest struct {
	Fork     uint64
	Block    *BlockRequest
	Hash     *HashRequest
	Seek     *SeekRequest
	Upgrade  *UpgradeRequest
	Manifest bool
	Priority uint64
}

// BlockProof is a block value with its sibling nodes, bottom-up.
type BlockProof struct {
	Index uint64
	Value []byte
	Nodes []Node

	pre *prehash // set by SetPrehash; not part of the encoding
}

// prehash is a leaf hash computed ahead of verification, tied to the exact
// bytes (address and length) it was computed from.
type prehash struct {
	hash [32]byte
	at   *byte
	n    int
}

// SetPrehash records h as the leaf hash of the block's current Value
// (hypercore.Prehash computes it). It applies only while Value is the same
// bytes: Prehashed ignores it once Value was replaced.
func (b *BlockProof) SetPrehash(h [32]byte) {
	if len(b.Value) > 0 {
		b.pre = &prehash{hash: h, at: &b.Value[0], n: len(b.Value)}
	}
}

// Prehashed returns the hash recorded by SetPrehash if Value is still the
// bytes it was recorded for.
func (b *BlockProof) Prehashed() ([32]byte, bool) {
	if pre := b.pre; pre != nil && len(b.Value) == pre.n && &b.Value[0] == pre.at {
		return pre.hash, true
	}
	return [32]byte{}, false
}

// HashProof is tree node Index: the node itself first, then its siblings
// bottom-up.
type HashProof struct {
	Index uint64
	Nodes []Node
}

// SeekProof answers a seek for byte offset Bytes: the node found first,
// then siblings bottom-up.
type SeekProof struct {
	Bytes uint64
	Nodes []Node
}

// UpgradeProof takes a verifier from length Start to Start+Length (Nodes)
// and on to the responder's head (AdditionalNodes); Signature signs that
// final head.
type UpgradeProof struct {
	Start, Length   uint64
	Nodes           []Node
	AdditionalNodes []Node
	Signature       []byte
}

// Proof is the body of a `data` message (spec §7.2, type 3) without its
// request id. A nil part is absent.
type Proof struct {
	Fork     uint64
	Block    *BlockProof
	Hash     *HashProof
	Seek     *SeekProof
	Upgrade  *UpgradeProof
	Manifest *Manifest
}

// Flag bits of the request and data messages.
const (
	flagBlock    = 1
	flagHash     = 2
	flagSeek     = 4
	flagUpgrade  = 8
	flagManifest = 16
	flagPriority = 32 // request only
)

// nodeMinSize is the smallest encoding of a tree node: uint index ‖ uint
// size ‖ 32-byte hash.
const nodeMinSize = 34

// appendRequest appends the `request` body with id and req. The priority
// flag and field are written only for a non-zero Priority.
func appendRequest(b []byte, id uint64, req *ProofRequest) []byte {
	var flags uint64
	if req.Block != nil {
		flags |= flagBlock
	}
	if req.Hash != nil {
		flags |= flagHash
	}
	if req.Seek != nil {
		flags |= flagSeek
	}
	if req.Upgrade != nil {
		flags |= flagUpgrade
	}
	if req.Manifest {
		flags |= flagManifest
	}
	if req.Priority != 0 {
		flags |= flagPriority
	}
	b = cenc.AppendUint(b, flags)
	b = cenc.AppendUint(b, id)
	b = cenc.AppendUint(b, req.Fork)
	if req.Block != nil {
		b = cenc.AppendUint(b, req.Block.Index)
		b = cenc.AppendUint(b, req.Block.Nodes)
	}
	if req.Hash != nil {
		b = cenc.AppendUint(b, req.Hash.Index)
		b = cenc.AppendUint(b, req.Hash.Nodes)
	}
	if req.Seek != nil {
		b = cenc.AppendUint(b, req.Seek.Bytes)
		b = cenc.AppendUint(b, req.Seek.Padding)
	}
	if req.Upgrade != nil {
		b = cenc.AppendUint(b, req.Upgrade.Start)
		b = cenc.AppendUint(b, req.Upgrade.Length)
	}
	if req.Priority != 0 {
		b = cenc.AppendUint(b, req.Priority)
	}
	return b
}

// readRequest reads a `request` body from d; errors are left in d.
func readRequest(d *cenc.Decoder) Request {
	flags := readUint(d)
	m := Request{ID: readUint(d)}
	m.Fork = readUint(d)
	if flags&flagBlock != 0 {
		m.Block = &BlockRequest{Index: readUint(d), Nodes: readUint(d)}
	}
	if flags&flagHash != 0 {
		m.Hash = &HashRequest{Index: readUint(d), Nodes: readUint(d)}
	}
	if flags&flagSeek != 0 {
		m.Seek = &SeekRequest{Bytes: readUint(d), Padding: readUint(d)}
	}
	if flags&flagUpgrade != 0 {
		m.Upgrade = &UpgradeRequest{Start: readUint(d), Length: readUint(d)}
	}
	m.Manifest = flags&flagManifest != 0
	if flags&flagPriority != 0 {
		m.Priority = readUint(d)
	}
	return m
}

// appendData appends the `data` body answering request requestID (0 for
// pushed data) with p. Absent parts are left out; a nil block value or
// signature encodes as empty.
func appendData(b []byte, requestID uint64, p *Proof) []byte {
	var flags uint64
	if p.Block != nil {
		flags |= flagBlock
	}
	if p.Hash != nil {
		flags |= flagHash
	}
	if p.Seek != nil {
		flags |= flagSeek
	}
	if p.Upgrade != nil {
		flags |= flagUpgrade
	}
	if p.Manifest != nil {
		flags |= flagManifest
	}
	b = cenc.AppendUint(b, flags)
	b = cenc.AppendUint(b, requestID)
	b = cenc.AppendUint(b, p.Fork)
	if p.Block != nil {
		b = cenc.AppendUint(b, p.Block.Index)
		b = cenc.AppendBuffer(b, p.Block.Value)
		b = AppendNodes(b, p.Block.Nodes)
	}
	if p.Hash != nil {
		b = cenc.AppendUint(b, p.Hash.Index)
		b = AppendNodes(b, p.Hash.Nodes)
	}
	if p.Seek != nil {
		b = cenc.AppendUint(b, p.Seek.Bytes)
		b = AppendNodes(b, p.Seek.Nodes)
	}
	if p.Upgrade != nil {
		b = cenc.AppendUint(b, p.Upgrade.Start)
		b = cenc.AppendUint(b, p.Upgrade.Length)
		b = AppendNodes(b, p.Upgrade.Nodes)
		b = AppendNodes(b, p.Upgrade.AdditionalNodes)
		b = cenc.AppendBuffer(b, p.Upgrade.Signature) // optionalBuffer: absent = empty
	}
	if p.Manifest != nil {
		b = p.Manifest.Append(b)
	}
	return b
}

// readData reads a `data` body from d; errors are left in d. The result
// does not alias d's bytes.
func readData(d *cenc.Decoder) Data {
	flags := readUint(d)
	m := Data{Request: readUint(d)}
	m.Fork = readUint(d)
	if flags&flagBlock != 0 {
		blk := &BlockProof{Index: readUint(d)}
		blk.Value = copyBytes(d.Buffer())
		blk.Nodes = readNodes(d)
		m.Block = blk
	}
	if flags&flagHash != 0 {
		h := &HashProof{Index: readUint(d)}
		h.Nodes = readNodes(d)
		m.Hash = h
	}
	if flags&flagSeek != 0 {
		s := &SeekProof{Bytes: readUint(d)}
		s.Nodes = readNodes(d)
		m.Seek = s
	}
	if flags&flagUpgrade != 0 {
		u := &UpgradeProof{Start: readUint(d), Length: readUint(d)}
		u.Nodes = readNodes(d)
		u.AdditionalNodes = readNodes(d)
		u.Signature = copyBytes(d.Buffer())
		m.Upgrade = u
	}
	if flags&flagManifest != 0 {
		m.Manifest = readManifest(d)
	}
	return m
}

// copyBytes copies b; empty and nil give nil.
func copyBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}

// AppendNodes appends an array of tree nodes: uint count ‖ nodes.
func AppendNodes(b []byte, nodes []Node) []byte {
	b = cenc.AppendUint(b, uint64(len(nodes)))
	for _, n := range nodes {
		b = cenc.AppendUint(b, n.Index)
		b = cenc.AppendUint(b, n.Size)
		b = append(b, n.Hash[:]...)
	}
	return b
}

// readNodes reads an array of tree nodes (at most cenc.MaxArray, the count
// checked against the bytes left first).
func readNodes(d *cenc.Decoder) []Node {
	n := d.ArrayLen(nodeMinSize)
	nodes := make([]Node, n)
	for i := range nodes {
		nodes[i].Index = readUint(d)
		nodes[i].Size = readUint(d)
		copy(nodes[i].Hash[:], d.Fixed(32))
	}
	return nodes
}

// Signer is one Ed25519 signer of a manifest.
type Signer struct {
	Namespace [32]byte
	PublicKey [32]byte
}

// Prologue pins the first Length blocks of a core to a known tree hash.
type Prologue struct {
	Hash   [32]byte
	Length uint64
}

// Manifest describes who may sign a core (spec §3.3). The core key is the
// hash of its encoding (hypercore.KeyFor), except for compat cores.
type Manifest struct {
	Version    uint64
	AllowPatch bool
	Quorum     uint64
	Signers    []Signer
	Prologue   *Prologue
	Linked     [][32]byte // nil when absent
	UserData   []byte     // nil when absent
}

// Manifest flag bits (version ≥ 1).
const (
	manifestPatch    = 1
	manifestPrologue = 2
	manifestLinked   = 4
	manifestUserData = 8
)

// signerMinSize is the smallest encoding of a signer: uint signature type ‖
// namespace ‖ public key.
const signerMinSize = 65

// Encode returns the manifest's compact encoding.
func (m *Manifest) Encode() []byte { return m.Append(nil) }

// Append appends the manifest's compact encoding to b.
func (m *Manifest) Append(b []byte) []byte {
	b = cenc.AppendUint(b, m.Version)
	if m.Version == 0 {
		return m.appendV0(b)
	}
	var flags uint64
	if m.AllowPatch {
		flags |= manifestPatch
	}
	if m.Prologue != nil {
		flags |= manifestPrologue
	}
	if m.Linked != nil {
		flags |= manifestLinked
	}
	if m.UserData != nil {
		flags |= manifestUserData
	}
	b = cenc.AppendUint(b, flags)
	b = cenc.AppendUint(b, 0) // hash type: blake2b
	b = cenc.AppendUint(b, m.Quorum)
	b = appendSigners(b, m.Signers)
	if m.Prologue != nil {
		b = append(b, m.Prologue.Hash[:]...)
		b = cenc.AppendUint(b, m.Prologue.Length)
	}
	if m.Linked != nil {
		b = cenc.AppendUint(b, uint64(len(m.Linked)))
		for _, l := range m.Linked {
			b = append(b, l[:]...)
		}
	}
	if m.UserData != nil {
		b = cenc.AppendBuffer(b, m.UserData)
	}
	return b
}

func (m *Manifest) appendV0(b []byte) []byte {
	b = cenc.AppendUint(b, 0) // hash type
	switch {
	case m.Prologue != nil && len(m.Signers) == 0:
		b = cenc.AppendUint(b, 0)
		return append(b, m.Prologue.Hash[:]...)
	case m.Quorum == 1 && len(m.Signers) == 1 && !m.AllowPatch:
		b = cenc.AppendUint(b, 1)
		return appendSigner(b, m.Signers[0])
	default:
		b = cenc.AppendUint(b, 2)
		var flags uint64
		if m.AllowPatch {
			flags = 1
		}
		b = cenc.AppendUint(b, flags)
		b = cenc.AppendUint(b, m.Quorum)
		return appendSigners(b, m.Signers)
	}
}

func appendSigner(b []byte, s Signer) []byte {
	b = cenc.AppendUint(b, 0) // signature type: ed25519
	b = append(b, s.Namespace[:]...)
	return append(b, s.PublicKey[:]...)
}

func appendSigners(b []byte, ss []Signer) []byte {
	b = cenc.AppendUint(b, uint64(len(ss)))
	for _, s := range ss {
		b = appendSigner(b, s)
	}
	return b
}

// DecodeManifest decodes a manifest. It accepts exactly one manifest with
// no trailing bytes. Errors wrap ErrMalformed.
func DecodeManifest(b []byte) (*Manifest, error) {
	d := cenc.NewDecoder(b)
	m := readManifest(d)
	if err := d.Err(); err != nil {
		return nil, decodeErr("manifest", err)
	}
	if d.Len() != 0 {
		return nil, decodeErr("manifest", fmt.Errorf("%d trailing bytes", d.Len()))
	}
	return m, nil
}

// readManifest reads a manifest from d; errors are left in d.
func readManifest(d *cenc.Decoder) *Manifest {
	m := &Manifest{Version: readUint(d)}
	if d.Err() != nil {
		return nil
	}
	if m.Version == 0 {
		readManifestV0(d, m)
		return m
	}
	if m.Version > 3 {
		d.Fail(fmt.Errorf("unknown manifest version %d", m.Version))
		return nil
	}
	flags := readUint(d)
	if h := readUint(d); h != 0 && d.Err() == nil {
		d.Fail(fmt.Errorf("unknown hash type %d", h))
	}
	m.Quorum = readUint(d)
	m.Signers = readSigners(d)
	m.AllowPatch = flags&manifestPatch != 0
	if flags&manifestPrologue != 0 {
		p := &Prologue{}
		copy(p.Hash[:], d.Fixed(32))
		p.Length = readUint(d)
		m.Prologue = p
	}
	if flags&manifestLinked != 0 {
		n := d.ArrayLen(32)
		m.Linked = make([][32]byte, n)
		for i := range m.Linked {
			copy(m.Linked[i][:], d.Fixed(32))
		}
	}
	if flags&manifestUserData != 0 {
		m.UserData = append([]byte{}, d.Buffer()...)
	}
	return m
}

func readManifestV0(d *cenc.Decoder, m *Manifest) {
	if h := readUint(d); h != 0 && d.Err() == nil {
		d.Fail(fmt.Errorf("unknown hash type %d", h))
	}
	switch layout := readUint(d); layout {
	case 0:
		p := &Prologue{}
		copy(p.Hash[:], d.Fixed(32))
		m.Prologue = p
	case 1:
		m.Quorum = 1
		m.Signers = []Signer{readSigner(d)}
	case 2:
		m.AllowPatch = readUint(d)&1 != 0
		m.Quorum = readUint(d)
		m.Signers = readSigners(d)
	default:
		if d.Err() == nil {
			d.Fail(fmt.Errorf("unknown v0 manifest layout %d", layout))
		}
	}
}

func readSigner(d *cenc.Decoder) Signer {
	var s Signer
	if t := readUint(d); t != 0 && d.Err() == nil {
		d.Fail(fmt.Errorf("unknown signature type %d", t))
	}
	copy(s.Namespace[:], d.Fixed(32))
	copy(s.PublicKey[:], d.Fixed(32))
	return s
}

func readSigners(d *cenc.Decoder) []Signer {
	n := d.ArrayLen(signerMinSize)
	ss := make([]Signer, n)
	for i := range ss {
		ss[i] = readSigner(d)
	}
	return ss
}

// SignatureProof is one signer's part of a multi-signature.
type SignatureProof struct {
	Signer    uint64
	Signature []byte // 64 bytes
	Patch     uint64
}

// AppendMultiSignature appends the multi-signature of signer parts for a
// manifest of version ≥ 1, or of version 0 when v0 is set (no patch
// nodes).
func AppendMultiSignature(b []byte, proofs []SignatureProof, v0 bool) []byte {
	b = cenc.AppendUint(b, uint64(len(proofs)))
	for _, p := range proofs {
		if v0 {
			b = cenc.AppendUint(b, 0) // flags: no patch
			b = cenc.AppendUint(b, p.Signer)
			b = append(b, p.Signature...)
			continue
		}
		b = cenc.AppendUint(b, p.Signer)
		b = append(b, p.Signature...)
		b = cenc.AppendUint(b, p.Patch)
	}
	return cenc.AppendUint(b, 0) // no patch nodes
}

// DecodeMultiSignature decodes the multi-signature of a version ≥ 1 (or
// version 0 when v0 is set) manifest: the signer parts and the patch
// nodes. It accepts exactly one with no trailing bytes. Errors wrap
// ErrMalformed.
func DecodeMultiSignature(b []byte, v0 bool) ([]SignatureProof, []Node, error) {
	d := cenc.NewDecoder(b)
	n := d.ArrayLen(66)
	proofs := make([]SignatureProof, n)
	for i := range proofs {
		if v0 {
			flags := readUint(d)
			proofs[i].Signer = readUint(d)
			proofs[i].Signature = d.Fixed(64)
			if flags&1 != 0 {
				readUint(d)                   // patch start
				proofs[i].Patch = readUint(d) // patch length; non-zero marks a patch
				for k, m := 0, d.ArrayLen(1); k < m; k++ {
					readUint(d)
				}
			}
			continue
		}
		proofs[i].Signer = readUint(d)
		proofs[i].Signature = d.Fixed(64)
		proofs[i].Patch = readUint(d)
	}
	nodes := readNodes(d)
	if err := d.Err(); err != nil {
		return nil, nil, decodeErr("multi-signature", err)
	}
	if d.Len() != 0 {
		return nil, nil, decodeErr("multi-signature", fmt.Errorf("%d trailing bytes", d.Len()))
	}
	return proofs, nodes, nil
}
