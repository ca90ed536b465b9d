package secretstream

import (
	"bytes"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"testing"

	"golang.org/x/crypto/chacha20"
	"golang.org/x/crypto/poly1305"
)

// refState is a line-by-line transcription of libsodium's
// crypto_secretstream_xchacha20poly1305 push/pull (adlen = 0) on the
// generic chacha20 package, to check the AEAD-based fast path against.
type refState struct {
	k     [32]byte
	nonce [12]byte
}

func newRefState(key, header []byte) *refState {
	s := new(refState)
	sub, err := chacha20.HChaCha20(key, header[:16])
	if err != nil {
		panic(err)
	}
	copy(s.k[:], sub)
	binary.LittleEndian.PutUint32(s.nonce[:4], 1)
	copy(s.nonce[4:], header[16:])
	return s
}

func (s *refState) stream(dst, src []byte, ic uint32) {
	c, err := chacha20.NewUnauthenticatedCipher(s.k[:], s.nonce[:])
	if err != nil {
		panic(err)
	}
	c.SetCounter(ic)
	c.XORKeyStream(dst, src)
}

func (s *refState) mac(block, c []byte) [16]byte {
	var polyKey [32]byte
	var blk0 [64]byte
	s.stream(blk0[:], blk0[:], 0)
	copy(polyKey[:], blk0[:32])
	p := poly1305.New(&polyKey)
	p.Write(block)
	p.Write(c)
	pad := (0x10 - 64 + len(c)) & 0xf
	p.Write(make([]byte, pad))
	var l [16]byte
	binary.LittleEndian.PutUint64(l[8:], uint64(64+len(c)))
	p.Write(l[:])
	var out [16]byte
	p.Sum(out[:0])
	return out
}

func (s *refState) finish(mac [16]byte, tag byte) {
	for i := 0; i < 8; i++ {
		s.nonce[4+i] ^= mac[i]
	}
	// sodium_increment of the 4 counter bytes
	ctr := binary.LittleEndian.Uint32(s.nonce[:4]) + 1
	binary.LittleEndian.PutUint32(s.nonce[:4], ctr)
	if tag&tagRekey != 0 || ctr == 0 {
		var nk [40]byte
		copy(nk[:32], s.k[:])
		copy(nk[32:], s.nonce[4:])
		s.stream(nk[:], nk[:], 0)
		copy(s.k[:], nk[:32])
		copy(s.nonce[4:], nk[32:])
		binary.LittleEndian.PutUint32(s.nonce[:4], 1)
	}
}

func (s *refState) push(m []byte, tag byte) []byte {
	var block [64]byte
	block[0] = tag
	s.stream(block[:], block[:], 1)
	out := make([]byte, 1+len(m)+16)
	out[0] = block[0]
	s.stream(out[1:1+len(m)], m, 2)
	mac := s.mac(block[:], out[1:1+len(m)])
	copy(out[1+len(m):], mac[:])
	s.finish(mac, tag)
	return out
}

func (s *refState) pull(in []byte) ([]byte, byte, error) {
	if len(in) < Overhead {
		return nil, 0, ErrDecrypt
	}
	n := len(in) - Overhead
	var block [64]byte
	block[0] = in[0]
	s.stream(block[:], block[:], 1)
	tag := block[0]
	block[0] = in[0]
	c := in[1 : 1+n]
	mac := s.mac(block[:], c)
	if subtle.ConstantTimeCompare(mac[:], in[1+n:]) != 1 {
		return nil, 0, ErrDecrypt
	}
	m := make([]byte, n)
	s.stream(m, c, 2)
	s.finish(mac, tag)
	return m, tag, nil
}

func testKeyHeader() ([]byte, []byte) {
	key := make([]byte, KeySize)
	header := make([]byte, HeaderSize)
	for i := range key {
		key[i] = byte(i * 7)
	}
	for i := range header {
		header[i] = byte(0xa0 + i)
	}
	return key, header
}

// TestSealMatchesReference: every length 0..300 and a few large ones, in
// one stream (so the state chaining is covered too), both ways.
func TestSealMatchesReference(t *testing.T) {
	key, header := testKeyHeader()
	enc, dec, ref, refDec := newEncryptor(key, header), newDecryptor(key, header), newRefState(key, header), newRefState(key, header)
	lengths := []int{}
	for n := 0; n <= 300; n++ {
		lengths = append(lengths, n)
	}
	lengths = append(lengths, 1023, 1024, 4096+13, 65536, 1<<20+5)
	for _, n := range lengths {
		m := bytes.Repeat([]byte{byte(n)}, n)
		ct := enc.seal(nil, m)
		want := ref.push(m, tagMessage)
		if !bytes.Equal(ct, want) {
			t.Fatalf("len %d: seal differs from reference", n)
		}
		pt, err := dec.open(nil, ct)
		if err != nil || !bytes.Equal(pt, m) {
			t.Fatalf("len %d: open: %v", n, err)
		}
		rp, tag, err := refDec.pull(ct)
		if err != nil || tag != tagMessage || !bytes.Equal(rp, m) {
			t.Fatalf("len %d: reference pull: %v", n, err)
		}
	}
}

// TestRekey: a REKEY tag from the sender (JS never sends one, libsodium
// honours it) and the counter wrap both rekey like libsodium.
func TestRekey(t *testing.T) {
	key, header := testKeyHeader()
	ref, dec := newRefState(key, header), newDecryptor(key, header)
	for i, tag := range []byte{0, tagRekey, 0, 3 /* FINAL = PUSH|REKEY */, 0} {
		m := []byte{byte(i), 1, 2, 3}
		ct := ref.push(m, tag)
		region := append(make([]byte, scratch-1), ct...)
		pt, gotTag, err := dec.openInPlace(region)
		if err != nil || gotTag != tag || !bytes.Equal(pt, m) {
			t.Fatalf("message %d: %x tag %d err %v", i, pt, gotTag, err)
		}
	}
	// Counter wrap: both sides at counter 2^32 − 1.
	enc := newEncryptor(key, header)
	ref = newRefState(key, header)
	binary.LittleEndian.PutUint32(enc.nonce[:4], 0xffffffff)
	binary.LittleEndian.PutUint32(ref.nonce[:4], 0xffffffff)
	for i := 0; i < 3; i++ {
		m := []byte("wrap")
		if got, want := enc.seal(nil, m), ref.push(m, 0); !bytes.Equal(got, want) {
			t.Fatalf("after wrap, message %d differs", i)
		}
	}
	if binary.LittleEndian.Uint32(enc.nonce[:4]) != 3 {
		t.Fatalf("counter %d after the wrapping message and 2 more", binary.LittleEndian.Uint32(enc.nonce[:4]))
	}
}

// TestOpenRejects: any flipped bit, a truncated or reordered message, the
// wrong key: ErrDecrypt and the state unchanged (the good message still
// opens afterwards).
func TestOpenRejects(t *testing.T) {
	key, header := testKeyHeader()
	enc := newEncryptor(key, header)
	m1 := enc.seal(nil, []byte("first message, 29 bytes long."))
	m2 := enc.seal(nil, []byte("second"))
	dec := newDecryptor(key, header)
	for i := range m1 {
		for bit := 0; bit < 8; bit++ {
			bad := bytes.Clone(m1)
			bad[i] ^= 1 << bit
			if _, err := dec.open(nil, bad); !errors.Is(err, ErrDecrypt) {
				t.Fatalf("byte %d bit %d flipped: err %v", i, bit, err)
			}
		}
	}
	for _, bad := range [][]byte{nil, m1[:16], m1[:len(m1)-1], m2} {
		if _, err := dec.open(nil, bad); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("%x: err %v", bad, err)
		}
	}
	other := bytes.Clone(key)
	other[0] ^= 1
	if _, err := newDecryptor(other, header).open(nil, m1); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("wrong key: %v", err)
	}
	for _, want := range []string{"first message, 29 bytes long.", "second"} {
		ct := m1
		if want == "second" {
			ct = m2
		}
		pt, err := dec.open(nil, ct)
		if err != nil || string(pt) != want {
			t.Fatalf("after rejects: %q %v", pt, err)
		}
	}
}

// TestSealBatchLayout: frames sealed back to back in one buffer (each
// region overlapping the previous frame's tail) equal frames sealed alone.
func TestSealBatchLayout(t *testing.T) {
	key, header := testKeyHeader()
	msgs := [][]byte{{}, []byte("a"), bytes.Repeat([]byte("b"), 59), bytes.Repeat([]byte("c"), 60), bytes.Repeat([]byte("d"), 61), {}, bytes.Repeat([]byte("e"), 1000), []byte("f")}
	s := &Stream{enc: newEncryptor(key, header)}
	size := scratch - 4
	for _, m := range msgs {
		size += 4 + len(m) + 16
	}
	got := s.sealBatch(make([]byte, size), msgs)
	ref := newRefState(key, header)
	var want []byte
	for _, m := range msgs {
		want = AppendFrame(want, ref.push(m, 0))
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("batch:\n got  %x\n want %x", got, want)
	}
}

// TestInPlaceAllocs: sealing and opening in place allocate nothing.
func TestInPlaceAllocs(t *testing.T) {
	key, header := testKeyHeader()
	enc, dec := newEncryptor(key, header), newDecryptor(key, header)
	const n = 1024
	sealRegion := make([]byte, scratch+n+16)
	openRegion := make([]byte, scratch-1+n+Overhead)
	allocs := testing.AllocsPerRun(100, func() {
		enc.sealInPlace(sealRegion)
		copy(openRegion[scratch-1:], sealRegion[scratch-1:])
		if _, _, err := dec.openInPlace(openRegion); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per message", allocs)
	}
}
