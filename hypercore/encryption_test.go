package hypercore

import (
	"bytes"
	"encoding/hex"
	"path/filepath"
	"testing"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The vector of shared/spec/hypercore-encryption.md, made by JS hypercore
// 11.39.5: seed 32×11, encryption key 32×22, default manifest.
func TestEncryptionVectors(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "enc")
	c, err := Create(dir, CreateOptions{Seed: bytes.Repeat([]byte{0x11}, 32), Durability: DurabilityOS})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if k := c.Key(); hex.EncodeToString(k[:]) != "8d01e5648383ea0995591619e0b4e66b3b488ba50e0407486ab8e9138082b0dc" {
		t.Fatalf("core key %x", k)
	}
	if hex.EncodeToString(c.PublicKey()) != "d04ab232742bb4ab3a1368bd4615e4e6d0224ab71a016baf8520a332c9778737" {
		t.Fatalf("public key %x", c.PublicKey())
	}
	if d := c.DiscoveryKey(); hex.EncodeToString(d[:]) != "b301c678a260d4fa348685ee76e771b58c123763ffba832fc2de088d4052025a" {
		t.Fatalf("discovery key %x", d)
	}
	encKey := bytes.Repeat([]byte{0x22}, 32)
	e, err := c.Encryption(encKey)
	if err != nil {
		t.Fatal(err)
	}
	if bk := e.BlockKey(); hex.EncodeToString(bk[:]) != "71dd7ee9b74c6face21a0c759119f03b8aaa4bd39271e25c2b7ba1672993c794" {
		t.Fatalf("block key %x", bk)
	}
	if hex.EncodeToString(e.blindingKey[:]) != "e9727cb800fd7719accb15d3223efe2f184f8b7a80c5d91fca6d28998e607ac3" {
		t.Fatalf("blinding key %x", e.blindingKey)
	}
	obs := `{"id":"obs-1","lat":-3.4653,"lon":-62.2159,"tags":{"type":"tree"}}`
	steps := []struct{ plain, stored, tree string }{
		{"hello", "442767e9c38142c765f152ae46", "c3e701b813a626abcac628adbaeec783e4080edc4b0144257982233c31cbc1f8"},
		{"world", "a7f4ef34544b873321d83b034a", "86430179243099cad453cfceffdb095b7efb98337cbb85252542382d2695d8ea"},
		{obs, "26d5c845c72560a004b2dd6f23b591f46047ce9c1c06a36c35aca90ff05b2e7e7416cad5ec6723596dd0d452037fdf99ff6d61f9b40da2756b0a074c8f630c48", "03d40bf58abbf3530b9c20fdf9628183d3a70c3fafc06b46b66f1f0186e5c882"},
	}
	for i, s := range steps {
		if _, err := c.AppendEncrypted(e, []byte(s.plain)); err != nil {
			t.Fatal(err)
		}
		stored, err := c.Get(uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(stored, unhex(t, s.stored)) || len(stored) != len(s.plain)+8 {
			t.Fatalf("block %d stored %x, want %s…", i, stored, s.stored)
		}
		if h := c.Head(); hex.EncodeToString(h.TreeHash[:]) != s.tree {
			t.Fatalf("tree hash after block %d: %x, want %s", i, h.TreeHash, s.tree)
		}
		plain, err := c.GetDecrypted(e, uint64(i))
		if err != nil || string(plain) != s.plain {
			t.Fatalf("block %d decrypts to %q (%v)", i, plain, err)
		}
		if f, _ := e.Fork(uint64(i), stored); f != 0 {
			t.Fatalf("block %d fork %d", i, f)
		}
	}
	last, _ := c.Get(2)
	if hex.EncodeToString(last[len(last)-10:]) != "cb37750211f3cdb8f093" {
		t.Fatalf("block 2 ends %x", last[len(last)-10:])
	}
	if h := c.Head(); h.ByteLength != 76+24 {
		t.Fatalf("byte length %d, want 100 (76 + 3 pads)", h.ByteLength)
	}
	wantSig := "0100e0337f4b19c9037c43b9abf99d75971fafc92175690d78eb89eb10ff17d1d7f46e47f6206e5c47ea2d53d9eee009df46c28c1ddea220e0a964191bc60b2d59020000"
	if sig := c.Head().Signature; hex.EncodeToString(sig) != wantSig {
		t.Fatalf("signature at length 3:\n %x\nwant %s", sig, wantSig)
	}

	// truncate(2) then "again": fork 1, a different pad.
	if err := c.Truncate(2); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AppendEncrypted(e, []byte("again")); err != nil {
		t.Fatal(err)
	}
	b2, _ := c.Get(2)
	if hex.EncodeToString(b2) != "27d5c845c72560a007530189c6" {
		t.Fatalf("block 2 at fork 1: %x", b2)
	}
	if h := c.Head(); hex.EncodeToString(h.TreeHash[:]) != "8c2dcdc401c7487fc8280614b748965ff6a21f88a3c662a97734660ae98fe5e7" {
		t.Fatalf("tree hash at fork 1: %x", h.TreeHash)
	}
	if f, _ := e.Fork(2, b2); f != 1 {
		t.Fatalf("block 2 fork %d, want 1", f)
	}
	if p, _ := c.GetDecrypted(e, 2); string(p) != "again" {
		t.Fatalf("block 2 decrypts to %q", p)
	}

	// The same blocks under {key: blockKey, block: true}.
	bk := e.BlockKey()
	e2, err := NewBlockKeyEncryption(bk[:])
	if err != nil {
		t.Fatal(err)
	}
	if got := e2.Encrypt(0, 0, []byte("hello")); hex.EncodeToString(got) != steps[0].stored {
		t.Fatalf("block-key encryption %x", got)
	}
}

func TestEncryptionCompatVector(t *testing.T) {
	c, err := Create(filepath.Join(t.TempDir(), "compat"), CreateOptions{Seed: bytes.Repeat([]byte{0x11}, 32), Compat: true, Durability: DurabilityOS})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	e, err := c.Encryption(bytes.Repeat([]byte{0x22}, 32))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AppendEncrypted(e, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	b, _ := c.Get(0)
	if hex.EncodeToString(b) != "f1b915490ec0fcc8c2018d98fa" {
		t.Fatalf("compat block 0: %x", b)
	}
}

func TestEncryptionBadKey(t *testing.T) {
	if _, err := NewEncryption(Hash{}, make([]byte, 31), false); err == nil {
		t.Fatal("a 31-byte key was accepted")
	}
	e, _ := NewEncryption(Hash{}, make([]byte, 32), false)
	if _, err := e.Decrypt(0, make([]byte, 7)); err == nil {
		t.Fatal("a 7-byte block decrypted")
	}
}
