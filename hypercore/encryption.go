package hypercore

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/crypto/blake2b"
	"golang.org/x/crypto/salsa20"
)

// Block encryption, as hypercore 11.39.5 (lib/default-encryption.js) and
// hypercore 10.19.0 (lib/block-encryption.js) do it; the bytes and vectors
// are in shared/spec/hypercore-encryption.md.
//
// A stored block is an 8-byte pad followed by the ciphertext:
//
//	pad  = u64le(fork) XOR XSalsa20(blindingKey, u64le(index) ‖ 16 zero bytes)[:8]
//	body = plaintext XOR XSalsa20(blockKey, u64le(index) ‖ pad ‖ 8 zero bytes)
//
// There is no MAC. The Merkle tree, the tree hash and the signature cover
// the stored bytes, so a replica without the key stores and verifies the
// ciphertext like any other block; the key never crosses the wire. A wrong
// key decrypts to garbage without an error: the application must check
// what it decodes.
//
// The keystream of a block depends on (index, fork), so the same index must
// never be appended twice at the same fork: Truncate raises the fork, and so
// does the first append after Open fell back to an older head. A core
// restored from a backup and appended to again would reuse keystreams and
// leak both plaintexts: raise its fork (Truncate) before appending.

// EncryptionPadding is the number of bytes encryption adds to a block.
const EncryptionPadding = 8

// EncryptionKeySize is the size of an encryption key and a block key.
const EncryptionKeySize = 32

// Encryption holds the keys of one encrypted core.
type Encryption struct {
	blockKey    [32]byte
	blindingKey [32]byte
}

func nsDefaultEncryption() Hash { return Namespace("hypercore", 5) }

// NewEncryption derives the block key of the core with key coreKey from the
// 32-byte encryptionKey the application holds. Default cores (hypercore
// 11): blockKey = BLAKE2b-256(DEFAULT_ENCRYPTION ‖ coreKey ‖ encryptionKey).
// Compat cores (hypercore 10, CoMapeo 7): blockKey = BLAKE2b-256 keyed by
// coreKey over encryptionKey.
func NewEncryption(coreKey Hash, encryptionKey []byte, compat bool) (*Encryption, error) {
	if len(encryptionKey) != EncryptionKeySize {
		return nil, errorf(ErrBadInput, "an encryption key is %d bytes, not %d", EncryptionKeySize, len(encryptionKey))
	}
	var blockKey [32]byte
	if compat {
		h, _ := blake2b.New256(coreKey[:])
		h.Write(encryptionKey)
		h.Sum(blockKey[:0])
	} else {
		ns := nsDefaultEncryption()
		buf := make([]byte, 0, 96)
		buf = append(append(append(buf, ns[:]...), coreKey[:]...), encryptionKey...)
		blockKey = blake2b.Sum256(buf)
	}
	return NewBlockKeyEncryption(blockKey[:])
}

// NewBlockKeyEncryption uses blockKey as the block key itself (JS:
// {key, block: true}, or the legacy isBlockKey).
func NewBlockKeyEncryption(blockKey []byte) (*Encryption, error) {
	if len(blockKey) != EncryptionKeySize {
		return nil, errorf(ErrBadInput, "a block key is %d bytes, not %d", EncryptionKeySize, len(blockKey))
	}
	e := &Encryption{}
	copy(e.blockKey[:], blockKey)
	e.blindingKey = blake2b.Sum256(e.blockKey[:])
	return e, nil
}

// Encryption derives this core's block encryption from encryptionKey (see
// NewEncryption; compat cores use the compat derivation).
func (c *Core) Encryption(encryptionKey []byte) (*Encryption, error) {
	return NewEncryption(c.Key(), encryptionKey, c.Compat())
}

// BlockKey returns the block key (what an evidence bundle must carry to
// let a verifier decrypt).
func (e *Encryption) BlockKey() [32]byte { return e.blockKey }

// Encrypt returns the stored form of plaintext as block index at fork.
func (e *Encryption) Encrypt(index, fork uint64, plaintext []byte) []byte {
	out := make([]byte, EncryptionPadding+len(plaintext))
	var nonce [24]byte
	binary.LittleEndian.PutUint64(nonce[:8], index)
	var mask [8]byte
	salsa20.XORKeyStream(mask[:], mask[:], nonce[:], &e.blindingKey)
	binary.LittleEndian.PutUint64(out[:8], fork)
	for i := range 8 {
		out[i] ^= mask[i]
	}
	copy(nonce[8:16], out[:8])
	salsa20.XORKeyStream(out[8:], plaintext, nonce[:], &e.blockKey)
	return out
}

// Decrypt returns the plaintext of stored block index.
func (e *Encryption) Decrypt(index uint64, stored []byte) ([]byte, error) {
	if len(stored) < EncryptionPadding {
		return nil, errorf(ErrBadInput, "encrypted block %d is %d bytes, shorter than its %d-byte pad", index, len(stored), EncryptionPadding)
	}
	var nonce [24]byte
	binary.LittleEndian.PutUint64(nonce[:8], index)
	copy(nonce[8:16], stored[:8])
	out := make([]byte, len(stored)-EncryptionPadding)
	salsa20.XORKeyStream(out, stored[EncryptionPadding:], nonce[:], &e.blockKey)
	return out, nil
}

// Fork returns the fork a stored block was encrypted at (its unblinded pad).
func (e *Encryption) Fork(index uint64, stored []byte) (uint64, error) {
	if len(stored) < EncryptionPadding {
		return 0, errorf(ErrBadInput, "encrypted block %d is %d bytes, shorter than its %d-byte pad", index, len(stored), EncryptionPadding)
	}
	var nonce [24]byte
	binary.LittleEndian.PutUint64(nonce[:8], index)
	var mask [8]byte
	salsa20.XORKeyStream(mask[:], mask[:], nonce[:], &e.blindingKey)
	for i := range 8 {
		mask[i] ^= stored[i]
	}
	return binary.LittleEndian.Uint64(mask[:]), nil
}

// AppendEncrypted encrypts blocks for the indexes and fork they get and
// appends the stored bytes as one batch. All appends to an encrypted core
// must go through it (with the same Encryption).
func (c *Core) AppendEncrypted(e *Encryption, blocks ...[]byte) (uint64, error) {
	if e == nil {
		return 0, errorf(ErrBadInput, "AppendEncrypted without an encryption")
	}
	for i, b := range blocks {
		if len(b)+EncryptionPadding > MaxBlockSize {
			return c.Length(), errorf(ErrBadInput, "block %d is %d bytes, more than the %d allowed with encryption", i, len(b), MaxBlockSize-EncryptionPadding)
		}
	}
	return c.append(e, blocks)
}

// GetDecrypted returns block index (proved like Get) decrypted.
func (c *Core) GetDecrypted(e *Encryption, index uint64) ([]byte, error) {
	b, err := c.Get(index)
	if err != nil {
		return nil, err
	}
	p, err := e.Decrypt(index, b)
	if err != nil {
		return nil, fmt.Errorf("core %s: %w", c.dir, err)
	}
	return p, nil
}
