package secretstream

import (
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
	"errors"

	"golang.org/x/crypto/chacha20"
	"golang.org/x/crypto/chacha20poly1305"
	//lint:ignore SA1019 libsodium's secretstream MAC is a raw Poly1305 over a non-AEAD layout
	"golang.org/x/crypto/poly1305"
)

// libsodium crypto_secretstream_xchacha20poly1305, as sodium-secretstream
// (and so @hyperswarm/secret-stream) uses it: no additional data, every
// message pushed with tag MESSAGE (0).
//
// State: a 32-byte key K and a 12-byte ChaCha20-IETF nonce N = u32le(counter)
// ‖ inonce (8 bytes). Per message, with keystream block counters b0, b1, …
// of ChaCha20-IETF(K, N):
//
//	polyKey = b0[0:32]
//	B       = (tag, 0 × 63) XOR b1                 (only B[0] is sent)
//	C       = m XOR b2…
//	mac     = Poly1305(polyKey, B ‖ C ‖ zeros(len(C) mod 16) ‖ u64le(0) ‖ u64le(64+len(C)))
//	wire    = B[0] ‖ C ‖ mac                       (len(m) + 17 bytes)
//
// then inonce ^= mac[0:8], counter++ and, when the counter wraps to 0 or the
// tag has the REKEY bit, a rekey. The padding is libsodium's
// (0x10 − 64 + len(C)) & 0xf = len(C) mod 16, not the usual pad-to-16.
//
// Speed: B ‖ C is exactly what the ChaCha20-Poly1305 AEAD produces from the
// plaintext (tag, 0 × 63) ‖ m under the same key and nonce (it encrypts from
// block 1), so the bulk XOR runs through chacha20poly1305.Seal, which has
// assembly on amd64/arm64, while golang.org/x/crypto/chacha20 is generic Go
// there (about 2.2× slower measured). The AEAD's own tag is discarded (its
// padding differs) and the MAC above is computed with poly1305. This needs
// 63 bytes of scratch room before C; the callers lay out their buffers for it
// (see sealInPlace and openInPlace). cipher_test.go checks this against a
// straightforward transcription of libsodium.

const (
	// Overhead is what encryption adds to a message: the tag byte and the
	// 16-byte MAC.
	Overhead = 17
	// HeaderSize is the size of a secretstream header.
	HeaderSize = 24
	// KeySize is the size of a secretstream key.
	KeySize = 32

	tagMessage = 0x00
	tagRekey   = 0x02

	// scratch is the room sealInPlace/openInPlace need before C.
	scratch = 64
)

// ErrDecrypt means a message failed authentication: it was altered, is out
// of order, or was not made with this stream's keys.
var ErrDecrypt = errors.New("secretstream: message authentication failed")

var zeros [64]byte

// sstate is the shared push/pull state.
type sstate struct {
	k     [32]byte
	nonce [12]byte // u32le counter ‖ inonce
	aead  cipher.AEAD
}

func (s *sstate) init(key, header []byte) {
	if len(key) != KeySize || len(header) != HeaderSize {
		panic("secretstream: bad key or header length")
	}
	sub, err := chacha20.HChaCha20(key, header[:16])
	if err != nil {
		panic(err)
	}
	copy(s.k[:], sub)
	s.resetCounter()
	copy(s.nonce[4:], header[16:24])
	s.newAEAD()
}

func (s *sstate) newAEAD() {
	a, err := chacha20poly1305.New(s.k[:])
	if err != nil {
		panic(err)
	}
	s.aead = a
}

func (s *sstate) resetCounter() {
	binary.LittleEndian.PutUint32(s.nonce[0:4], 1)
}

// keystream fills out (at most 128 bytes) with ChaCha20-IETF(K, N) from
// block counter 0.
func (s *sstate) keystream(out []byte) {
	c, err := chacha20.NewUnauthenticatedCipher(s.k[:], s.nonce[:])
	if err != nil {
		panic(err)
	}
	clear(out)
	c.XORKeyStream(out, out)
}

// mac computes the secretstream MAC over bc = B(64) ‖ C.
func mac(out *[16]byte, polyKey *[32]byte, bc []byte) {
	clen := len(bc) - 64
	var lens [16]byte // u64le(adlen = 0) ‖ u64le(64 + len(C))
	binary.LittleEndian.PutUint64(lens[8:], uint64(len(bc)))
	m := poly1305.New(polyKey)
	m.Write(bc)
	m.Write(zeros[:clen&0xf])
	m.Write(lens[:])
	m.Sum(out[:0])
}

// advance updates the state after a message with the given MAC and tag.
func (s *sstate) advance(mac *[16]byte, tag byte) {
	for i := 0; i < 8; i++ {
		s.nonce[4+i] ^= mac[i]
	}
	ctr := binary.LittleEndian.Uint32(s.nonce[0:4]) + 1
	binary.LittleEndian.PutUint32(s.nonce[0:4], ctr)
	if tag&tagRekey != 0 || ctr == 0 {
		s.rekey()
	}
}

// rekey is crypto_secretstream_xchacha20poly1305_rekey: (K ‖ inonce) ^=
// ChaCha20-IETF(K, N) block 0 (40 bytes), counter = 1.
func (s *sstate) rekey() {
	var ks [40]byte
	s.keystream(ks[:])
	for i := 0; i < 32; i++ {
		s.k[i] ^= ks[i]
	}
	for i := 0; i < 8; i++ {
		s.nonce[4+i] ^= ks[32+i]
	}
	s.resetCounter()
	s.newAEAD()
}

// encryptor is the push side of a secretstream.
type encryptor struct{ sstate }

// newEncryptor starts a push state from a 32-byte key and the 24-byte header
// the sender announces (libsodium init_push with that header).
func newEncryptor(key, header []byte) *encryptor {
	e := new(encryptor)
	e.init(key, header)
	return e
}

// sealInPlace encrypts one message. region is scratch(64) ‖ m ‖ 16 bytes of
// room, len(region) = len(m) + 80; region[0:64] may hold anything. Afterwards
// region[63:] is the wire form B[0] ‖ C ‖ mac (len(m) + 17 bytes) and
// region[0:63] is garbage.
func (e *encryptor) sealInPlace(region []byte) {
	n := len(region) - scratch - 16
	var polyKey [32]byte
	e.keystream(polyKey[:])
	clear(region[:scratch])
	region[0] = tagMessage
	// B ‖ C ‖ (AEAD tag, discarded)
	e.aead.Seal(region[:0], e.nonce[:], region[:scratch+n], nil)
	var m [16]byte
	mac(&m, &polyKey, region[:scratch+n])
	region[scratch-1] = region[0]
	copy(region[scratch+n:], m[:])
	e.advance(&m, tagMessage)
}

// seal appends the encryption of m (len(m) + Overhead bytes) to dst.
func (e *encryptor) seal(dst, m []byte) []byte {
	region := make([]byte, scratch+len(m)+16)
	copy(region[scratch:], m)
	e.sealInPlace(region)
	return append(dst, region[scratch-1:]...)
}

// decryptor is the pull side of a secretstream.
type decryptor struct{ sstate }

// newDecryptor starts a pull state from a 32-byte key and the remote's
// 24-byte header (libsodium init_pull).
func newDecryptor(key, header []byte) *decryptor {
	d := new(decryptor)
	d.init(key, header)
	return d
}

// openInPlace authenticates and decrypts one message. region is 63 bytes of
// scratch followed by the wire form B[0] ‖ C ‖ mac. On success it returns
// the plaintext, a sub-slice region[64:64+len(C)], and the message's tag; the
// rest of region is garbage. On failure (ErrDecrypt) the state is unchanged
// and region[63:] is intact.
func (d *decryptor) openInPlace(region []byte) ([]byte, byte, error) {
	if len(region) < scratch-1+Overhead {
		return nil, 0, ErrDecrypt
	}
	n := len(region) - (scratch - 1) - Overhead
	var ks [128]byte // blocks 0 (poly key) and 1
	d.keystream(ks[:])
	wire0 := region[scratch-1]
	tag := wire0 ^ ks[64]
	var got, want [16]byte
	copy(want[:], region[scratch+n:])
	// Rebuild the sender's B: its first byte as received, the rest is
	// keystream (the plaintext block was zeros after the tag).
	copy(region[:scratch], ks[64:])
	region[0] = wire0
	cb := region[scratch : scratch+n]
	mac(&got, (*[32]byte)(ks[:32]), region[:scratch+n])
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
		region[scratch-1] = wire0
		return nil, 0, ErrDecrypt
	}
	// Decrypt C (from block 2) by running the AEAD over B ‖ C: XOR is its
	// own inverse and block 1 lines up with B. The trailing AEAD tag
	// overwrites the (already checked) MAC.
	d.aead.Seal(region[:0], d.nonce[:], region[:scratch+n], nil)
	d.advance(&want, tag)
	return cb, tag, nil
}

// open authenticates and decrypts one wire message (B[0] ‖ C ‖ mac),
// appending the plaintext to dst.
func (d *decryptor) open(dst, wire []byte) ([]byte, error) {
	if len(wire) < Overhead {
		return dst, ErrDecrypt
	}
	region := make([]byte, scratch-1+len(wire))
	copy(region[scratch-1:], wire)
	p, _, err := d.openInPlace(region)
	if err != nil {
		return dst, err
	}
	return append(dst, p...), nil
}
