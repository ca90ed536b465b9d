package secretstream

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha512"
	"encoding/hex"
	"math/big"
	"testing"

	"filippo.io/edwards25519"
)

func seedKey(b byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, 32))
}

// TestDHAgrees: DH(a, B) = DH(b, A) for Ed25519 key pairs, and equals the
// clamped scalar times the point computed independently.
func TestDHAgrees(t *testing.T) {
	for i := byte(1); i < 20; i++ {
		a, b := seedKey(i), seedKey(i+100)
		ab, err := dhEd25519(a, b.Public().(ed25519.PublicKey))
		if err != nil {
			t.Fatal(err)
		}
		ba, err := dhEd25519(b, a.Public().(ed25519.PublicKey))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ab, ba) {
			t.Fatalf("seed %d: %x != %x", i, ab, ba)
		}
		// The 32-byte seed alone works the same.
		ab2, err := dhEd25519(a.Seed(), b.Public().(ed25519.PublicKey))
		if err != nil || !bytes.Equal(ab, ab2) {
			t.Fatalf("seed form: %x %v", ab2, err)
		}
		// Independently: s_a · s_b · G.
		sa, sb := clampedScalar(a), clampedScalar(b)
		want := new(edwards25519.Point).ScalarBaseMult(new(edwards25519.Scalar).Multiply(sa, sb)).Bytes()
		if !bytes.Equal(ab, want) {
			t.Fatalf("seed %d: %x, want %x", i, ab, want)
		}
	}
}

func clampedScalar(k ed25519.PrivateKey) *edwards25519.Scalar {
	h := sha512.Sum512(k.Seed())
	s, err := edwards25519.NewScalar().SetBytesWithClamping(h[:32])
	if err != nil {
		panic(err)
	}
	return s
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// smallOrder lists the encodings libsodium's ge25519_has_small_order
// refuses (canonical ones; the rest are non-canonical, refused anyway).
var smallOrder = []string{
	"0100000000000000000000000000000000000000000000000000000000000000", // identity (order 1)
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // order 2
	"0000000000000000000000000000000000000000000000000000000000000000", // order 4
	"0000000000000000000000000000000000000000000000000000000000000080", // order 4
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", // order 8
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85", // order 8
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", // order 8
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa", // order 8
}

// TestDHRejects: what libsodium crypto_scalarmult_ed25519_noclamp refuses.
func TestDHRejects(t *testing.T) {
	a := seedKey(1)
	valid := seedKey(2).Public().(ed25519.PublicKey)
	reject := func(what string, pub []byte) {
		t.Helper()
		if out, err := dhEd25519(a, pub); err == nil {
			t.Errorf("%s %x: accepted, result %x", what, pub, out)
		}
	}
	for _, s := range smallOrder {
		reject("small order", mustHex(s))
	}
	// Non-canonical: y + p for y < 19 (whatever point y is, or none).
	p := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))
	for y := int64(0); y < 19; y++ {
		v := new(big.Int).Add(p, big.NewInt(y))
		be := v.FillBytes(make([]byte, 32))
		le := make([]byte, 32)
		for i := range be {
			le[i] = be[31-i]
		}
		reject("non-canonical", le)
		le[31] |= 0x80
		reject("non-canonical, sign bit", le)
	}
	// A valid key with a torsion component: P + T2 (T2 = (0, −1), order 2).
	P, err := new(edwards25519.Point).SetBytes(valid)
	if err != nil {
		t.Fatal(err)
	}
	T2, err := new(edwards25519.Point).SetBytes(mustHex(smallOrder[1]))
	if err != nil {
		t.Fatal(err)
	}
	reject("mixed order", new(edwards25519.Point).Add(P, T2).Bytes())
	// Not on the curve: find a y with no x.
	off := 0
	for y := byte(2); ; y++ {
		enc := make([]byte, 32)
		enc[0] = y
		if _, err := new(edwards25519.Point).SetBytes(enc); err != nil {
			reject("not on the curve", enc)
			off++
			if off == 3 {
				break
			}
		}
	}
	reject("short", valid[:31])
	reject("long", append(bytes.Clone(valid), 0))
	reject("empty", nil)
	if _, err := dhEd25519(a[:10], valid); err == nil {
		t.Error("short private key accepted")
	}
	if _, err := dhEd25519(a, valid); err != nil {
		t.Errorf("valid key refused: %v", err)
	}
}

func TestStreamIDRoles(t *testing.T) {
	hh := bytes.Repeat([]byte{9}, 64)
	if StreamID(hh, true) == StreamID(hh, false) {
		t.Fatal("initiator and responder ids equal")
	}
}
