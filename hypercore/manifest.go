package hypercore

import (
	"bytes"
	"fmt"

	"github.com/fieldsync/fieldsync/hypercore/wire"
	"golang.org/x/crypto/blake2b"
)

// The manifest types are those of package wire, which codes them
// (Manifest.Encode, DecodeManifest).
type (
	// Signer is one Ed25519 signer of a manifest.
	Signer = wire.Signer
	// Prologue pins the first Length blocks of a core to a known tree hash.
	Prologue = wire.Prologue
	// Manifest describes who may sign a core (spec §3.3). The core key is
	// the hash of its encoding, except for compat cores.
	Manifest = wire.Manifest
)

// DefaultManifest is the manifest a fresh Hypercore 11 core gets for the
// public key pk: version 1, one signer in the default namespace, quorum 1.
func DefaultManifest(pk []byte) *Manifest {
	var k Hash
	copy(k[:], pk)
	return &Manifest{Version: 1, Quorum: 1, Signers: []Signer{{Namespace: DefaultNamespace(), PublicKey: k}}}
}

// DecodeManifest decodes a manifest (wire.DecodeManifest). It accepts
// exactly one manifest with no trailing bytes. Errors wrap ErrBadManifest.
func DecodeManifest(b []byte) (*Manifest, error) {
	m, err := wire.DecodeManifest(b)
	if err != nil {
		return nil, fmt.Errorf("decode manifest: %w: %w", err, ErrBadManifest)
	}
	return m, nil
}

// manifestHash is the manifest hash B256(MANIFEST ‖ encoding), which is
// the core key of every non-compat core.
func manifestHash(m *Manifest) Hash {
	ns := nsManifest()
	return blake2b.Sum256(append(ns[:], m.Encode()...))
}

// isCompat reports whether key and m form a compat pair: one signer whose
// public key is the core key itself (hypercore 10 cores).
func isCompat(m *Manifest, key Hash) bool {
	return len(m.Signers) == 1 && m.Signers[0].PublicKey == key
}

// KeyFor is the core key of manifest m: its hash, or the signer's public key
// for a compat core.
func KeyFor(m *Manifest, compat bool) Hash {
	if compat && len(m.Signers) == 1 {
		return m.Signers[0].PublicKey
	}
	return manifestHash(m)
}

// CheckKey verifies that m belongs to key: manifestHash(m) = key, or the
// compat case.
func CheckKey(key Hash, m *Manifest) error {
	if isCompat(m, key) {
		return nil
	}
	h := manifestHash(m)
	if !bytes.Equal(h[:], key[:]) {
		return errorf(ErrBadManifest, "manifest hash %x does not match the core key %x", h[:8], key[:8])
	}
	if len(m.Signers) == 0 && m.Prologue == nil {
		return errorf(ErrBadManifest, "manifest has no signers and no prologue")
	}
	return nil
}
