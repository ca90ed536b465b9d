package hypercore

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"fmt"

	"github.com/fieldsync/fieldsync/hypercore/wire"
)

// Verifier checks (and, given a key pair, makes) head signatures for one
// core: what is signed (spec §3.5), how signatures are encoded (§3.6) and
// the rules that accept them (§3.7). It holds no mutable state.
type Verifier struct {
	key          Hash
	manifest     *Manifest
	manifestHash Hash
	compat       bool
	treeNS       Hash
}

// NewVerifier returns the verifier of the core with this key and manifest.
// It fails when the manifest does not belong to the key.
func NewVerifier(key Hash, m *Manifest) (*Verifier, error) {
	if err := CheckKey(key, m); err != nil {
		return nil, err
	}
	v := &Verifier{key: key, manifest: m, compat: isCompat(m, key), treeNS: nsTree()}
	if !v.compat {
		v.manifestHash = manifestHash(m)
	}
	return v, nil
}

// Key is the core key.
func (v *Verifier) Key() Hash { return v.key }

// Manifest is the core's manifest.
func (v *Verifier) Manifest() *Manifest { return v.manifest }

// Compat reports whether the core key is the signer's raw public key.
func (v *Verifier) Compat() bool { return v.compat }

// Signable returns the bytes a signer signs for a head, for signer i (the
// namespace form of version-0 manifests depends on the signer).
func (v *Verifier) Signable(treeHash Hash, length, fork uint64, signer int) []byte {
	var b []byte
	switch {
	case v.compat:
		b = make([]byte, 0, 80)
		b = append(b, v.treeNS[:]...)
	case v.manifest.Version == 0:
		b = make([]byte, 0, 112)
		b = append(b, v.treeNS[:]...)
		b = append(b, v.manifest.Signers[signer].Namespace[:]...)
	default:
		b = make([]byte, 0, 112)
		b = append(b, v.treeNS[:]...)
		b = append(b, v.manifestHash[:]...)
	}
	b = append(b, treeHash[:]...)
	b = binary.LittleEndian.AppendUint64(b, length)
	return binary.LittleEndian.AppendUint64(b, fork)
}

// bareSignature reports whether signatures are the bare 64 bytes.
func (v *Verifier) bareSignature() bool {
	return v.compat || (v.manifest.Version == 0 && !v.manifest.AllowPatch && len(v.manifest.Signers) == 1)
}

// Sign signs a head with kp, which must be one of the manifest's signers,
// and returns the stored encoding: bare for compat cores, the multisig
// wrapper for a single signer of a version ≥ 1 manifest. Cores with more
// than one signer need AssembleSignature.
func (v *Verifier) Sign(kp KeyPair, treeHash Hash, length, fork uint64) ([]byte, error) {
	if kp.Secret == nil {
		return nil, errorf(ErrReadOnly, "no secret key")
	}
	for i, s := range v.manifest.Signers {
		if !bytes.Equal(s.PublicKey[:], kp.Public) {
			continue
		}
		sig := ed25519.Sign(kp.Secret, v.Signable(treeHash, length, fork, i))
		switch {
		case v.bareSignature():
			return sig, nil
		case len(v.manifest.Signers) != 1:
			return nil, errorf(ErrBadInput, "core has %d signers: assemble a multi-signature", len(v.manifest.Signers))
		default:
			return v.AssembleSignature([]SignatureProof{{Signer: 0, Signature: sig}}), nil
		}
	}
	return nil, errorf(ErrBadInput, "key pair is not a signer of this core")
}

// SignatureProof is one signer's part of a multi-signature (coded by
// package wire).
type SignatureProof = wire.SignatureProof

// AssembleSignature encodes signer parts as a multi-signature for this core's
// manifest version (no patch nodes).
func (v *Verifier) AssembleSignature(proofs []SignatureProof) []byte {
	return wire.AppendMultiSignature(nil, proofs, v.manifest.Version == 0)
}

// DecodeMultiSignature decodes the multisig wrapper of a version ≥ 1 (or
// version 0 when v0 is true) manifest. Errors wrap ErrInvalidSignature.
func DecodeMultiSignature(b []byte, v0 bool) ([]SignatureProof, []Node, error) {
	proofs, nodes, err := wire.DecodeMultiSignature(b, v0)
	if err != nil {
		return nil, nil, fmt.Errorf("decode signature: %w: %w", err, ErrInvalidSignature)
	}
	return proofs, nodes, nil
}

// Verify checks a stored signature over the head (treeHash, length, fork).
// Patched signatures (allowPatch manifests) are not supported and fail.
func (v *Verifier) Verify(treeHash Hash, length, fork uint64, sig []byte) error {
	m := v.manifest
	if v.compat || (m.Version == 0 && !m.AllowPatch && len(m.Signers) == 1) {
		if len(sig) != ed25519.SignatureSize || len(m.Signers) != 1 {
			return errorf(ErrInvalidSignature, "want a %d-byte signature, got %d bytes", ed25519.SignatureSize, len(sig))
		}
		if !ed25519.Verify(m.Signers[0].PublicKey[:], v.Signable(treeHash, length, fork, 0), sig) {
			return errorf(ErrInvalidSignature, "signature does not verify for length %d", length)
		}
		return nil
	}
	if m.Version >= 1 && m.Prologue != nil && length <= m.Prologue.Length {
		if length == m.Prologue.Length && treeHash == m.Prologue.Hash {
			return nil
		}
		return errorf(ErrInvalidSignature, "head at length %d does not match the prologue", length)
	}
	if m.Quorum == 0 {
		return errorf(ErrInvalidSignature, "manifest has quorum 0")
	}
	proofs, _, err := DecodeMultiSignature(sig, m.Version == 0)
	if err != nil {
		return err
	}
	if uint64(len(proofs)) < m.Quorum {
		return errorf(ErrInvalidSignature, "%d signatures for a quorum of %d", len(proofs), m.Quorum)
	}
	tried := make([]bool, len(m.Signers))
	for _, p := range proofs[:m.Quorum] {
		if p.Signer >= uint64(len(m.Signers)) || tried[p.Signer] {
			return errorf(ErrInvalidSignature, "bad or repeated signer %d", p.Signer)
		}
		tried[p.Signer] = true
		if p.Patch != 0 && m.AllowPatch {
			return errorf(ErrInvalidSignature, "patched signatures are not supported")
		}
		if !ed25519.Verify(m.Signers[p.Signer].PublicKey[:], v.Signable(treeHash, length, fork, int(p.Signer)), p.Signature) {
			return errorf(ErrInvalidSignature, "signer %d does not verify for length %d", p.Signer, length)
		}
	}
	return nil
}
