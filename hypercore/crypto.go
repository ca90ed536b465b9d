package hypercore

import (
	"crypto/ed25519"
	"encoding/binary"

	"github.com/fieldsync/fieldsync/hypercore/wire"
	"golang.org/x/crypto/blake2b"
)

// Hash is a BLAKE2b-256 digest.
type Hash = [32]byte

// Node is a Merkle tree node: its flat-tree index, the number of data bytes
// under it, and its hash (the type of package wire, which codes it).
type Node = wire.Node

// Hash type prefixes of the Merkle tree (spec §2).
const (
	leafType   = 0
	parentType = 1
	rootType   = 2
)

// LeafHash is the hash of a block: B256(00 ‖ u64le(len) ‖ data).
func LeafHash(data []byte) Hash {
	h, _ := blake2b.New256(nil)
	var hdr [9]byte
	hdr[0] = leafType
	binary.LittleEndian.PutUint64(hdr[1:], uint64(len(data)))
	h.Write(hdr[:])
	h.Write(data)
	var out Hash
	h.Sum(out[:0])
	return out
}

// leafNode is the tree node of block index holding data.
func leafNode(index uint64, data []byte) Node {
	return Node{Index: 2 * index, Size: uint64(len(data)), Hash: LeafHash(data)}
}

// ParentNode combines two sibling nodes. The children are ordered by index,
// whatever order they are passed in.
func ParentNode(a, b Node) Node {
	if a.Index > b.Index {
		a, b = b, a
	}
	var buf [1 + 8 + 32 + 32]byte
	buf[0] = parentType
	binary.LittleEndian.PutUint64(buf[1:], a.Size+b.Size)
	copy(buf[9:], a.Hash[:])
	copy(buf[41:], b.Hash[:])
	return Node{Index: parent(a.Index), Size: a.Size + b.Size, Hash: blake2b.Sum256(buf[:])}
}

// TreeHash is the hash of a tree given its full roots, left to right:
// B256(02 ‖ for each root: hash ‖ u64le(index) ‖ u64le(size)).
func TreeHash(roots []Node) Hash {
	buf := make([]byte, 1, 1+48*len(roots))
	buf[0] = rootType
	for _, r := range roots {
		buf = append(buf, r.Hash[:]...)
		buf = binary.LittleEndian.AppendUint64(buf, r.Index)
		buf = binary.LittleEndian.AppendUint64(buf, r.Size)
	}
	return blake2b.Sum256(buf)
}

// Namespace is B256(B256(name) ‖ byte(i)).
func Namespace(name string, i byte) Hash {
	base := blake2b.Sum256([]byte(name))
	return blake2b.Sum256(append(base[:], i))
}

// Hypercore's namespaces (spec §3.1), computed once per use: they are
// constants, but Go has no constant arrays.
func nsTree() Hash               { return Namespace("hypercore", 0) }
func nsReplicateInitiator() Hash { return Namespace("hypercore", 1) }
func nsReplicateResponder() Hash { return Namespace("hypercore", 2) }
func nsManifest() Hash           { return Namespace("hypercore", 3) }

// DefaultNamespace is the signer namespace of a default manifest.
func DefaultNamespace() Hash { return Namespace("hypercore", 4) }

// DiscoveryKey is B256k(key = core key, message = "hypercore"). It is
// public: peers use it to find each other without revealing the key.
func DiscoveryKey(key Hash) Hash {
	h, _ := blake2b.New256(key[:])
	h.Write([]byte("hypercore"))
	var out Hash
	h.Sum(out[:0])
	return out
}

// KeyPair is an Ed25519 key pair as hypercore-crypto makes it.
type KeyPair struct {
	Public ed25519.PublicKey
	Secret ed25519.PrivateKey // nil for a read-only core
}

// KeyPairFromSeed derives the key pair of a 32-byte seed (libsodium
// crypto_sign_seed_keypair, hypercore-crypto keyPair(seed)).
func KeyPairFromSeed(seed []byte) (KeyPair, error) {
	if len(seed) != ed25519.SeedSize {
		return KeyPair{}, errorf(ErrBadInput, "seed must be %d bytes, got %d", ed25519.SeedSize, len(seed))
	}
	sk := ed25519.NewKeyFromSeed(seed)
	return KeyPair{Public: sk.Public().(ed25519.PublicKey), Secret: sk}, nil
}
