package hypercore

import (
	"bytes"
	"fmt"

	"github.com/fieldsync/fieldsync/hypercore/internal/cenc"
	"golang.org/x/crypto/blake2b"
)

// Signer is one Ed25519 signer of a manifest.
type Signer struct {
	Namespace Hash
	PublicKey Hash
}

// Prologue pins the first Length blocks of a core to a known tree hash.
type Prologue struct {
	Hash   Hash
	Length uint64
}

// Manifest describes who may sign a core (spec §3.3). The core key is the
// hash of its encoding, except for compat cores.
type Manifest struct {
	Version    uint64
	AllowPatch bool
	Quorum     uint64
	Signers    []Signer
	Prologue   *Prologue
	Linked     []Hash // nil when absent
	UserData   []byte // nil when absent
}

// manifest flag bits (version ≥ 1)
const (
	manifestPatch    = 1
	manifestPrologue = 2
	manifestLinked   = 4
	manifestUserData = 8
)

// DefaultManifest is the manifest a fresh Hypercore 11 core gets for the
// public key pk: version 1, one signer in the default namespace, quorum 1.
func DefaultManifest(pk []byte) *Manifest {
	var k Hash
	copy(k[:], pk)
	return &Manifest{Version: 1, Quorum: 1, Signers: []Signer{{Namespace: DefaultNamespace(), PublicKey: k}}}
}

// Encode returns the manifest's compact encoding.
func (m *Manifest) Encode() []byte {
	b := cenc.AppendUint(nil, m.Version)
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

// DecodeManifest decodes a manifest. It accepts exactly one manifest with no
// trailing bytes.
func DecodeManifest(b []byte) (*Manifest, error) {
	d := cenc.NewDecoder(b)
	m := decodeManifest(d)
	if err := d.Err(); err != nil {
		return nil, fmt.Errorf("decode manifest: %v: %w", err, ErrBadManifest)
	}
	if d.Len() != 0 {
		return nil, errorf(ErrBadManifest, "decode manifest: %d trailing bytes", d.Len())
	}
	return m, nil
}

// decodeManifest reads a manifest from d; errors are left in d.
func decodeManifest(d *cenc.Decoder) *Manifest {
	m := &Manifest{Version: d.Uint()}
	if d.Err() != nil {
		return nil
	}
	if m.Version == 0 {
		decodeManifestV0(d, m)
		return m
	}
	if m.Version > 3 {
		d.Fail(fmt.Errorf("unknown manifest version %d", m.Version))
		return nil
	}
	flags := d.Uint()
	if h := d.Uint(); h != 0 && d.Err() == nil {
		d.Fail(fmt.Errorf("unknown hash type %d", h))
	}
	m.Quorum = d.Uint()
	m.Signers = decodeSigners(d)
	m.AllowPatch = flags&manifestPatch != 0
	if flags&manifestPrologue != 0 {
		p := &Prologue{}
		copy(p.Hash[:], d.Fixed(32))
		p.Length = d.Uint()
		m.Prologue = p
	}
	if flags&manifestLinked != 0 {
		n := d.ArrayLen(32)
		m.Linked = make([]Hash, n)
		for i := range m.Linked {
			copy(m.Linked[i][:], d.Fixed(32))
		}
	}
	if flags&manifestUserData != 0 {
		m.UserData = append([]byte{}, d.Buffer()...)
	}
	return m
}

func decodeManifestV0(d *cenc.Decoder, m *Manifest) {
	if h := d.Uint(); h != 0 && d.Err() == nil {
		d.Fail(fmt.Errorf("unknown hash type %d", h))
	}
	switch layout := d.Uint(); layout {
	case 0:
		p := &Prologue{}
		copy(p.Hash[:], d.Fixed(32))
		m.Prologue = p
	case 1:
		m.Quorum = 1
		m.Signers = []Signer{decodeSigner(d)}
	case 2:
		m.AllowPatch = d.Uint()&1 != 0
		m.Quorum = d.Uint()
		m.Signers = decodeSigners(d)
	default:
		if d.Err() == nil {
			d.Fail(fmt.Errorf("unknown v0 manifest layout %d", layout))
		}
	}
}

func decodeSigner(d *cenc.Decoder) Signer {
	var s Signer
	if t := d.Uint(); t != 0 && d.Err() == nil {
		d.Fail(fmt.Errorf("unknown signature type %d", t))
	}
	copy(s.Namespace[:], d.Fixed(32))
	copy(s.PublicKey[:], d.Fixed(32))
	return s
}

func decodeSigners(d *cenc.Decoder) []Signer {
	n := d.ArrayLen(65)
	ss := make([]Signer, n)
	for i := range ss {
		ss[i] = decodeSigner(d)
	}
	return ss
}

// Hash is the manifest hash B256(MANIFEST ‖ encoding), which is the core
// key of every non-compat core.
func (m *Manifest) Hash() Hash {
	ns := nsManifest()
	return blake2b.Sum256(append(ns[:], m.Encode()...))
}

// IsCompat reports whether key and m form a compat pair: one signer whose
// public key is the core key itself (hypercore 10 cores).
func (m *Manifest) IsCompat(key Hash) bool {
	return len(m.Signers) == 1 && m.Signers[0].PublicKey == key
}

// KeyFor is the core key of manifest m: its hash, or the signer's public key
// for a compat core.
func KeyFor(m *Manifest, compat bool) Hash {
	if compat && len(m.Signers) == 1 {
		return m.Signers[0].PublicKey
	}
	return m.Hash()
}

// CheckKey verifies that m belongs to key: manifestHash(m) = key, or the
// compat case.
func CheckKey(key Hash, m *Manifest) error {
	if m.IsCompat(key) {
		return nil
	}
	h := m.Hash()
	if !bytes.Equal(h[:], key[:]) {
		return errorf(ErrBadManifest, "manifest hash %x does not match the core key %x", h[:8], key[:8])
	}
	if len(m.Signers) == 0 && m.Prologue == nil {
		return errorf(ErrBadManifest, "manifest has no signers and no prologue")
	}
	return nil
}
