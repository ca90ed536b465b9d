package hypercore

import (
	"testing"

	"github.com/fieldsync/fieldsync/hypercore/hypercoretest"
)

// Typed views of testdata/hypercore-v11.json (made by the JS reference).

// hexBytes is a JSON hex string.
type hexBytes = hypercoretest.HexBytes

type vNode struct {
	Index uint64   `json:"index"`
	Size  uint64   `json:"size"`
	Hash  hexBytes `json:"hash"`
}

func (n vNode) node() Node {
	out := Node{Index: n.Index, Size: n.Size}
	copy(out.Hash[:], n.Hash)
	return out
}

type vSigner struct {
	Namespace hexBytes `json:"namespace"`
	PublicKey hexBytes `json:"publicKey"`
}

type vManifest struct {
	Version    uint64    `json:"version"`
	AllowPatch bool      `json:"allowPatch"`
	Quorum     uint64    `json:"quorum"`
	Signers    []vSigner `json:"signers"`
	Prologue   *struct {
		Hash   hexBytes `json:"hash"`
		Length uint64   `json:"length"`
	} `json:"prologue"`
	Linked   []hexBytes `json:"linked"`
	UserData *hexBytes  `json:"userData"`
}

func (v vManifest) manifest() *Manifest {
	m := &Manifest{Version: v.Version, AllowPatch: v.AllowPatch, Quorum: v.Quorum}
	for _, s := range v.Signers {
		var sg Signer
		copy(sg.Namespace[:], s.Namespace)
		copy(sg.PublicKey[:], s.PublicKey)
		m.Signers = append(m.Signers, sg)
	}
	if v.Prologue != nil {
		m.Prologue = &Prologue{Length: v.Prologue.Length}
		copy(m.Prologue.Hash[:], v.Prologue.Hash)
	}
	if v.Linked != nil {
		m.Linked = make([]Hash, len(v.Linked))
		for i, l := range v.Linked {
			copy(m.Linked[i][:], l)
		}
	}
	if v.UserData != nil {
		m.UserData = append([]byte{}, (*v.UserData)...)
	}
	return m
}

type vState struct {
	Appended struct {
		Op     string     `json:"op"`
		From   uint64     `json:"from"`
		Count  int        `json:"count"`
		Values []hexBytes `json:"values"`
		To     uint64     `json:"to"`
	} `json:"appended"`
	Length     uint64   `json:"length"`
	ByteLength uint64   `json:"byteLength"`
	Fork       uint64   `json:"fork"`
	TreeHash   hexBytes `json:"tree_hash"`
	Roots      []vNode  `json:"roots"`
	Signable   hexBytes `json:"signable"`
	Signature  hexBytes `json:"signature"`
}

type vCore struct {
	Name              string     `json:"name"`
	Seed              hexBytes   `json:"seed"`
	SignerSeeds       []hexBytes `json:"signer_seeds"`
	PublicKey         hexBytes   `json:"public_key"`
	SecretKey         hexBytes   `json:"secret_key"`
	Compat            bool       `json:"compat"`
	Manifest          vManifest  `json:"manifest"`
	ManifestEncoded   hexBytes   `json:"manifest_encoded"`
	ManifestHash      hexBytes   `json:"manifest_hash"`
	Key               hexBytes   `json:"key"`
	DiscoveryKey      hexBytes   `json:"discovery_key"`
	Blocks            []hexBytes `json:"blocks"`
	States            []vState   `json:"states"`
	LeafHashes        []hexBytes `json:"leaf_hashes"`
	TreeNodes         []vNode    `json:"tree_nodes"`
	PartialSignatures []hexBytes `json:"partial_signatures"`
}

type coreVectors struct {
	Namespaces struct {
		Hypercore map[string]hexBytes `json:"hypercore"`
	} `json:"namespaces"`
	Micro struct {
		Blake2b []struct {
			Input hexBytes `json:"input_hex"`
			Key   hexBytes `json:"key_hex"`
			B256  hexBytes `json:"blake2b_256"`
			B512  hexBytes `json:"blake2b_512"`
			Keyed hexBytes `json:"blake2b_256_keyed"`
		} `json:"blake2b"`
		LeafHash []struct {
			Data hexBytes `json:"data"`
			Size uint64   `json:"size"`
			Hash hexBytes `json:"hash"`
		} `json:"leaf_hash"`
		ParentHash struct {
			Left, Right, Parent vNode
		} `json:"parent_hash"`
		TreeHash struct {
			Roots []vNode  `json:"roots"`
			Hash  hexBytes `json:"hash"`
		} `json:"tree_hash"`
		FlatTree []struct {
			Index       uint64 `json:"index"`
			Depth       uint   `json:"depth"`
			Offset      uint64 `json:"offset"`
			Parent      uint64 `json:"parent"`
			Sibling     uint64 `json:"sibling"`
			LeftChild   int64  `json:"left_child"`
			RightChild  int64  `json:"right_child"`
			LeftSpan    uint64 `json:"left_span"`
			RightSpan   uint64 `json:"right_span"`
			CountLeaves uint64 `json:"count_leaves"`
		} `json:"flat_tree"`
		FullRoots []struct {
			Length    uint64   `json:"length"`
			FullRoots []uint64 `json:"full_roots"`
		} `json:"full_roots"`
		CompactUint []struct {
			N   uint64   `json:"n"`
			Hex hexBytes `json:"hex"`
		} `json:"compact_uint"`
	} `json:"micro"`
	Manifests []struct {
		Description  string    `json:"description"`
		Manifest     vManifest `json:"manifest"`
		Encoded      hexBytes  `json:"encoded"`
		ManifestHash hexBytes  `json:"manifest_hash"`
		Key          hexBytes  `json:"key"`
		DiscoveryKey hexBytes  `json:"discovery_key"`
	} `json:"manifests"`
	Cores []vCore `json:"cores"`
}

func loadCoreVectors(t testing.TB) *coreVectors {
	t.Helper()
	var v coreVectors
	hypercoretest.LoadVectors(t, &v)
	if len(v.Cores) == 0 || len(v.Manifests) == 0 {
		t.Fatal("vectors hold no cores or manifests")
	}
	return &v
}

func hash32(b []byte) Hash {
	var h Hash
	copy(h[:], b)
	return h
}
