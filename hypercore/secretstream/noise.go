package secretstream

import (
	"crypto/ed25519"
	"crypto/sha512"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"

	"filippo.io/edwards25519"
	"github.com/flynn/noise"
	"golang.org/x/crypto/blake2b"
)

// ProtocolName is the Noise protocol name both sides hash first.
const ProtocolName = "Noise_XX_Ed25519_ChaChaPoly_BLAKE2b"

// HandshakeHashSize is the size of the Noise handshake hash (BLAKE2b-512).
const HandshakeHashSize = 64

// cipherSuite is Noise with noise-curve-ed's Ed25519 "DH", ChaChaPoly and
// BLAKE2b (-512, so HASHLEN = 64), as noise-handshake runs it.
var cipherSuite = noise.NewCipherSuite(ed25519DH{}, noise.CipherChaChaPoly, noise.HashBLAKE2b)

// errDH is returned for a remote key that libsodium's
// crypto_scalarmult_ed25519_noclamp refuses, or an identity result.
var errDH = errors.New("secretstream: invalid Ed25519 public key for key agreement")

// ed25519DH is the noise.DHFunc of noise-curve-ed: key pairs are Ed25519 key
// pairs (Private is the 64-byte seed ‖ public key), and
// DH(local, remote) = clamp(SHA-512(seed)[:32]) · remote, as an Edwards
// point, compressed.
type ed25519DH struct{}

// GenerateKeypair reads a 32-byte seed from random (for ephemeral keys).
func (ed25519DH) GenerateKeypair(random io.Reader) (noise.DHKey, error) {
	seed := make([]byte, ed25519.SeedSize)
	if _, err := io.ReadFull(random, seed); err != nil {
		return noise.DHKey{}, fmt.Errorf("secretstream: ephemeral key: %w", err)
	}
	return dhKey(ed25519.NewKeyFromSeed(seed)), nil
}

func (ed25519DH) DH(privkey, pubkey []byte) ([]byte, error) { return dhEd25519(privkey, pubkey) }
func (ed25519DH) DHLen() int                                { return 32 }
func (ed25519DH) DHName() string                            { return "Ed25519" }

func dhKey(priv ed25519.PrivateKey) noise.DHKey {
	return noise.DHKey{Private: priv, Public: priv.Public().(ed25519.PublicKey)}
}

var (
	identity   = edwards25519.NewIdentityPoint()
	orderMinus = new(edwards25519.Scalar).Subtract(edwards25519.NewScalar(), scalarOne()) // ℓ − 1
)

func scalarOne() *edwards25519.Scalar {
	var b [32]byte
	b[0] = 1
	s, err := edwards25519.NewScalar().SetCanonicalBytes(b[:])
	if err != nil {
		panic(err)
	}
	return s
}

// dhEd25519 computes s·P with s = clamp(SHA-512(seed)[:32]) and P the
// Edwards point pub. Like libsodium crypto_scalarmult_ed25519_noclamp it
// refuses a non-canonical encoding, a point not on the curve, a point of
// small order or outside the prime-order subgroup, and an identity result.
// (With P in the prime-order subgroup, multiplying by the clamped scalar
// reduced mod ℓ, as edwards25519 does, equals libsodium's unreduced product.)
func dhEd25519(priv, pub []byte) ([]byte, error) {
	if len(priv) != ed25519.PrivateKeySize && len(priv) != ed25519.SeedSize {
		return nil, errors.New("secretstream: bad Ed25519 private key length")
	}
	if len(pub) != 32 {
		return nil, errDH
	}
	h := sha512.Sum512(priv[:ed25519.SeedSize])
	s, err := edwards25519.NewScalar().SetBytesWithClamping(h[:32])
	if err != nil {
		return nil, err
	}
	p, err := new(edwards25519.Point).SetBytes(pub)
	if err != nil {
		return nil, errDH
	}
	// Canonical: y < 2^255 − 19 (and the sign bit of x = 0 is only
	// possible for the two small-order points, refused below anyway).
	if subtle.ConstantTimeCompare(p.Bytes(), pub) != 1 {
		return nil, errDH
	}
	if new(edwards25519.Point).MultByCofactor(p).Equal(identity) == 1 {
		return nil, errDH // small order
	}
	// ℓ·P = (ℓ−1)·P + P must be the identity.
	q := new(edwards25519.Point).ScalarMult(orderMinus, p)
	if q.Add(q, p).Equal(identity) != 1 {
		return nil, errDH // has a torsion component
	}
	r := new(edwards25519.Point).ScalarMult(s, p)
	if r.Equal(identity) == 1 {
		return nil, errDH
	}
	return r.Bytes(), nil
}

// Namespaces of hypercore-crypto namespace('hyperswarm/secret-stream', 3):
// B256(B256(name) ‖ i).
var nsInitiator, nsResponder = namespace("hyperswarm/secret-stream", 0), namespace("hyperswarm/secret-stream", 1)

func namespace(name string, i byte) [32]byte {
	base := blake2b.Sum256([]byte(name))
	return blake2b.Sum256(append(base[:], i))
}

// StreamID is the 32-byte id a side announces in its header message:
// BLAKE2b-256 keyed with the handshake hash over the secret-stream INITIATOR
// or RESPONDER namespace, for the sender's role.
func StreamID(handshakeHash []byte, initiator bool) [32]byte {
	h, err := blake2b.New256(handshakeHash)
	if err != nil {
		panic("secretstream: handshake hash must be 1..64 bytes")
	}
	if initiator {
		h.Write(nsInitiator[:])
	} else {
		h.Write(nsResponder[:])
	}
	var id [32]byte
	h.Sum(id[:0])
	return id
}

// newHandshake starts the XX handshake state for one side. random supplies
// the ephemeral seed.
func newHandshake(initiator bool, static ed25519.PrivateKey, random io.Reader) (*noise.HandshakeState, error) {
	return noise.NewHandshakeState(noise.Config{
		CipherSuite:   cipherSuite,
		Random:        random,
		Pattern:       noise.HandshakeXX,
		Initiator:     initiator,
		Prologue:      nil, // empty: MixHash("") still happens
		StaticKeypair: dhKey(static),
	})
}
