package hypercore

import (
	"bytes"
	"testing"

	"github.com/fieldsync/fieldsync/hypercore/internal/cenc"
	"golang.org/x/crypto/blake2b"
)

func TestNamespacesMatchJS(t *testing.T) {
	v := loadCoreVectors(t)
	want := map[string]Hash{
		"TREE": nsTree(), "REPLICATE_INITIATOR": nsReplicateInitiator(), "REPLICATE_RESPONDER": nsReplicateResponder(),
		"MANIFEST": nsManifest(), "DEFAULT_NAMESPACE": DefaultNamespace(), "DEFAULT_ENCRYPTION": Namespace("hypercore", 5),
	}
	if len(v.Namespaces.Hypercore) != len(want) {
		t.Fatalf("vectors list %d namespaces, test knows %d", len(v.Namespaces.Hypercore), len(want))
	}
	for name, got := range want {
		if !bytes.Equal(got[:], v.Namespaces.Hypercore[name]) {
			t.Errorf("%s = %x, JS %x", name, got, v.Namespaces.Hypercore[name])
		}
	}
}

func TestHashesMatchJS(t *testing.T) {
	v := loadCoreVectors(t)
	for _, c := range v.Micro.Blake2b {
		if c.Key != nil {
			h, _ := blake2b.New256(c.Key)
			h.Write(c.Input)
			if got := h.Sum(nil); !bytes.Equal(got, c.Keyed) {
				t.Errorf("blake2b-keyed(%x) = %x, want %x", c.Input, got, c.Keyed)
			}
			continue
		}
		if got := blake2b.Sum256(c.Input); !bytes.Equal(got[:], c.B256) {
			t.Errorf("blake2b(%x) = %x, want %x", c.Input, got, c.B256)
		}
		if got := blake2b.Sum512(c.Input); !bytes.Equal(got[:], c.B512) {
			t.Errorf("blake2b-512(%x) = %x, want %x", c.Input, got, c.B512)
		}
	}
	for _, c := range v.Micro.LeafHash {
		if got := LeafHash(c.Data); !bytes.Equal(got[:], c.Hash) {
			t.Errorf("leaf(%x) = %x, want %x", c.Data, got, c.Hash)
		}
	}
	p := v.Micro.ParentHash
	for _, order := range [][2]vNode{{p.Left, p.Right}, {p.Right, p.Left}} {
		got := ParentNode(order[0].node(), order[1].node())
		if got != p.Parent.node() {
			t.Errorf("parent = %+v, want %+v", got, p.Parent.node())
		}
	}
	var roots []Node
	for _, r := range v.Micro.TreeHash.Roots {
		roots = append(roots, r.node())
	}
	if got := TreeHash(roots); !bytes.Equal(got[:], v.Micro.TreeHash.Hash) {
		t.Errorf("tree hash = %x, want %x", got, v.Micro.TreeHash.Hash)
	}
}

func TestFlatTreeMatchesJS(t *testing.T) {
	v := loadCoreVectors(t)
	for _, c := range v.Micro.FlatTree {
		l, r, ok := children(c.Index)
		if !ok {
			l, r = ^uint64(0), ^uint64(0)
		}
		got := []uint64{uint64(depth(c.Index)), offset(c.Index), parent(c.Index), sibling(c.Index), l, r, leftSpan(c.Index), rightSpan(c.Index), countLeaves(c.Index)}
		want := []uint64{uint64(c.Depth), c.Offset, c.Parent, c.Sibling, uint64(c.LeftChild), uint64(c.RightChild), c.LeftSpan, c.RightSpan, c.CountLeaves}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("index %d: field %d = %d, want %d", c.Index, i, got[i], want[i])
			}
		}
		if flatIndex(depth(c.Index), offset(c.Index)) != c.Index {
			t.Errorf("index(depth, offset) of %d does not round-trip", c.Index)
		}
	}
	for _, c := range v.Micro.FullRoots {
		got := fullRoots(c.Length)
		if len(got) != len(c.FullRoots) {
			t.Errorf("fullRoots(%d) = %v, want %v", c.Length, got, c.FullRoots)
			continue
		}
		for i := range got {
			if got[i] != c.FullRoots[i] {
				t.Errorf("fullRoots(%d) = %v, want %v", c.Length, got, c.FullRoots)
			}
		}
	}
	for _, c := range v.Micro.CompactUint {
		if got := cenc.AppendUint(nil, c.N); !bytes.Equal(got, c.Hex) {
			t.Errorf("uint %d = %x, want %x", c.N, got, c.Hex)
		}
		if got := cenc.NewDecoder(c.Hex).Uint(); got != c.N {
			t.Errorf("decode %x = %d, want %d", c.Hex, got, c.N)
		}
	}
}

func TestManifestsMatchJS(t *testing.T) {
	v := loadCoreVectors(t)
	for _, c := range v.Manifests {
		t.Run(c.Description, func(t *testing.T) {
			m := c.Manifest.manifest()
			if got := m.Encode(); !bytes.Equal(got, c.Encoded) {
				t.Fatalf("encode = %x\nwant     %x", got, c.Encoded)
			}
			dec, err := DecodeManifest(c.Encoded)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if got := dec.Encode(); !bytes.Equal(got, c.Encoded) {
				t.Fatalf("decode+encode = %x, want %x", got, c.Encoded)
			}
			if h := manifestHash(dec); !bytes.Equal(h[:], c.ManifestHash) {
				t.Errorf("hash = %x, want %x", h, c.ManifestHash)
			}
			key := hash32(c.Key)
			if err := CheckKey(key, dec); err != nil {
				t.Errorf("CheckKey: %v", err)
			}
			if dk := DiscoveryKey(key); !bytes.Equal(dk[:], c.DiscoveryKey) {
				t.Errorf("discovery key = %x, want %x", dk, c.DiscoveryKey)
			}
			// Any cut of the encoding must fail to decode, never panic.
			for n := 0; n < len(c.Encoded); n++ {
				if _, err := DecodeManifest(c.Encoded[:n]); err == nil {
					t.Errorf("decoding the first %d bytes succeeded", n)
				}
			}
			if _, err := DecodeManifest(append(bytes.Clone(c.Encoded), 0)); err == nil {
				t.Error("trailing byte accepted")
			}
			other := bytes.Clone(c.Key)
			other[0] ^= 1
			if err := CheckKey(hash32(other), dec); err == nil {
				t.Error("manifest accepted for another key")
			}
		})
	}
}

func FuzzDecodeManifest(f *testing.F) {
	for _, c := range loadCoreVectors(f).Manifests {
		f.Add([]byte(c.Encoded))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeManifest(b)
		if err != nil {
			return
		}
		// What decodes must re-decode to the same encoding.
		m2, err := DecodeManifest(m.Encode())
		if err != nil {
			t.Fatalf("re-decode of %x: %v", m.Encode(), err)
		}
		if !bytes.Equal(m2.Encode(), m.Encode()) {
			t.Fatalf("encoding not stable")
		}
	})
}
