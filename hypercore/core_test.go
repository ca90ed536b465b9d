package hypercore

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// replay rebuilds a vector core with Create/Append/Truncate and checks every
// state against what JS produced.
func replay(t *testing.T, vc vCore, dir string, dur Durability) *Core {
	t.Helper()
	c, err := Create(dir, CreateOptions{Seed: vc.Seed, Compat: vc.Compat, Durability: dur})
	if err != nil {
		t.Fatal(err)
	}
	if k := c.Key(); !bytes.Equal(k[:], vc.Key) {
		t.Fatalf("key = %x, want %x", k, vc.Key)
	}
	if dk := c.DiscoveryKey(); !bytes.Equal(dk[:], vc.DiscoveryKey) {
		t.Fatalf("discovery key = %x, want %x", dk, vc.DiscoveryKey)
	}
	if !bytes.Equal(c.PublicKey(), vc.PublicKey) {
		t.Fatalf("public key = %x, want %x", c.PublicKey(), vc.PublicKey)
	}
	if got := c.Manifest().Encode(); !bytes.Equal(got, vc.ManifestEncoded) {
		t.Fatalf("manifest = %x, want %x", got, vc.ManifestEncoded)
	}
	for i, s := range vc.States {
		switch s.Appended.Op {
		case "append":
			blocks := make([][]byte, len(s.Appended.Values))
			for j, b := range s.Appended.Values {
				blocks[j] = b
			}
			if _, err := c.Append(blocks...); err != nil {
				t.Fatalf("state %d: append: %v", i, err)
			}
		case "truncate":
			if err := c.Truncate(s.Appended.To); err != nil {
				t.Fatalf("state %d: truncate: %v", i, err)
			}
		default:
			t.Fatalf("state %d: unknown op %q", i, s.Appended.Op)
		}
		checkHead(t, c, s, i)
	}
	return c
}

func checkHead(t *testing.T, c *Core, s vState, i int) {
	t.Helper()
	h := c.Head()
	if h.Length != s.Length || h.ByteLength != s.ByteLength || h.Fork != s.Fork {
		t.Fatalf("state %d: head %d/%d/%d, want %d/%d/%d", i, h.Length, h.ByteLength, h.Fork, s.Length, s.ByteLength, s.Fork)
	}
	if !bytes.Equal(h.TreeHash[:], s.TreeHash) {
		t.Fatalf("state %d: tree hash %x, want %x", i, h.TreeHash, s.TreeHash)
	}
	if !bytes.Equal(h.Signature, s.Signature) {
		t.Fatalf("state %d: signature %x\nwant %x", i, h.Signature, s.Signature)
	}
	if got := c.Verifier().Signable(h.TreeHash, h.Length, h.Fork, 0); !bytes.Equal(got, s.Signable) {
		t.Fatalf("state %d: signable %x, want %x", i, got, s.Signable)
	}
	roots := c.Roots()
	if len(roots) != len(s.Roots) {
		t.Fatalf("state %d: %d roots, want %d", i, len(roots), len(s.Roots))
	}
	for j, r := range s.Roots {
		if roots[j] != r.node() {
			t.Fatalf("state %d: root %d = %+v, want %+v", i, j, roots[j], r.node())
		}
	}
}

func TestCoresMatchJS(t *testing.T) {
	v := loadCoreVectors(t)
	ran := 0
	for _, vc := range v.Cores {
		if vc.Seed == nil {
			continue // multisig: TestMultisigMatchesJS
		}
		ran++
		t.Run(vc.Name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "core")
			c := replay(t, vc, dir, DurabilityOS)
			final := vc.States[len(vc.States)-1]
			kp, _ := KeyPairFromSeed(vc.Seed)
			if !bytes.Equal(kp.Secret, vc.SecretKey) {
				t.Fatalf("secret key = %x, want %x", kp.Secret, vc.SecretKey)
			}
			for i, lh := range vc.LeafHashes {
				if got := LeafHash(vc.Blocks[i]); !bytes.Equal(got[:], lh) {
					t.Fatalf("leaf hash %d = %x, want %x", i, got, lh)
				}
			}
			for i := uint64(0); i < final.Length; i++ {
				got, err := c.Get(i)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, vc.Blocks[i]) {
					t.Fatalf("block %d = %x, want %x", i, got, vc.Blocks[i])
				}
			}
			for _, n := range vc.TreeNodes {
				got, err := c.Node(n.Index)
				if err != nil {
					t.Fatalf("node %d: %v", n.Index, err)
				}
				if got != n.node() {
					t.Fatalf("node %d = %+v, want %+v", n.Index, got, n.node())
				}
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			// Reopen: the same head, read-only too.
			for _, ro := range []bool{false, true} {
				c2, err := Open(dir, OpenOptions{ReadOnly: ro})
				if err != nil {
					t.Fatalf("reopen (read-only %v): %v", ro, err)
				}
				checkHead(t, c2, final, len(vc.States)-1)
				if err := c2.Verify(context.Background(), nil); err != nil {
					t.Fatalf("verify: %v", err)
				}
				c2.Close()
			}
		})
	}
	if ran < 6 {
		t.Fatalf("only %d vector cores replayed", ran)
	}
}

func TestMultisigMatchesJS(t *testing.T) {
	v := loadCoreVectors(t)
	for _, vc := range v.Cores {
		if vc.SignerSeeds == nil {
			continue
		}
		m := vc.Manifest.manifest()
		if !bytes.Equal(m.Encode(), vc.ManifestEncoded) {
			t.Fatalf("%s: manifest encoding differs", vc.Name)
		}
		ver, err := NewVerifier(hash32(vc.Key), m)
		if err != nil {
			t.Fatal(err)
		}
		s := vc.States[0]
		var parts []SignatureProof
		for i, seed := range vc.SignerSeeds {
			kp, _ := KeyPairFromSeed(seed)
			sig := ed25519.Sign(kp.Secret, ver.Signable(hash32(s.TreeHash), s.Length, s.Fork, i))
			if !bytes.Equal(sig, vc.PartialSignatures[i]) {
				t.Fatalf("signer %d: %x, want %x", i, sig, vc.PartialSignatures[i])
			}
			parts = append(parts, SignatureProof{Signer: uint64(i), Signature: sig})
		}
		if got := ver.AssembleSignature(parts); !bytes.Equal(got, s.Signature) {
			t.Fatalf("assembled %x\nwant %x", got, s.Signature)
		}
		if err := ver.Verify(hash32(s.TreeHash), s.Length, s.Fork, s.Signature); err != nil {
			t.Fatalf("verify: %v", err)
		}
		// Quorum 2: one signature, a repeated signer, a flipped byte all fail.
		bad := [][]byte{
			ver.AssembleSignature(parts[:1]),
			ver.AssembleSignature([]SignatureProof{parts[0], parts[0]}),
		}
		flipped := bytes.Clone(s.Signature)
		flipped[10] ^= 1
		bad = append(bad, flipped)
		for i, b := range bad {
			if err := ver.Verify(hash32(s.TreeHash), s.Length, s.Fork, b); !errors.Is(err, ErrInvalidSignature) {
				t.Errorf("bad signature %d: err = %v", i, err)
			}
		}
		return
	}
	t.Fatal("no multisig core in the vectors")
}

func TestSignaturesRejectTampering(t *testing.T) {
	v := loadCoreVectors(t)
	for _, vc := range v.Cores {
		if vc.Seed == nil {
			continue
		}
		m := vc.Manifest.manifest()
		ver, err := NewVerifier(hash32(vc.Key), m)
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range vc.States {
			th := hash32(s.TreeHash)
			if err := ver.Verify(th, s.Length, s.Fork, s.Signature); err != nil {
				t.Fatalf("%s state %d: %v", vc.Name, i, err)
			}
			if wantLen := map[bool]int{true: 64, false: 68}[vc.Compat]; len(s.Signature) != wantLen {
				t.Fatalf("%s: signature is %d bytes", vc.Name, len(s.Signature))
			}
			if ver.Verify(th, s.Length+1, s.Fork, s.Signature) == nil || ver.Verify(th, s.Length, s.Fork+1, s.Signature) == nil {
				t.Fatalf("%s state %d: signature accepted for another head", vc.Name, i)
			}
			for b := 0; b < len(s.Signature); b += 7 {
				sig := bytes.Clone(s.Signature)
				sig[b] ^= 0x40
				if ver.Verify(th, s.Length, s.Fork, sig) == nil {
					t.Fatalf("%s state %d: flipped byte %d accepted", vc.Name, i, b)
				}
			}
		}
	}
}

func TestOpenErrors(t *testing.T) {
	base := t.TempDir()
	if _, err := Open(filepath.Join(base, "nope"), OpenOptions{}); !errors.Is(err, ErrNotCore) {
		t.Errorf("missing dir: %v", err)
	}
	if _, err := Open(base, OpenOptions{}); !errors.Is(err, ErrNotCore) {
		t.Errorf("empty dir: %v", err)
	}
	if _, err := Create(filepath.Join(base, "x"), CreateOptions{Seed: []byte{1, 2}}); !errors.Is(err, ErrBadInput) {
		t.Errorf("short seed: %v", err)
	}
	if _, err := os.Stat(filepath.Join(base, "x")); !os.IsNotExist(err) {
		t.Errorf("failed create left %s behind", filepath.Join(base, "x"))
	}
	dir := filepath.Join(base, "c")
	c, err := Create(dir, CreateOptions{Durability: DurabilityOS})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, OpenOptions{}); !errors.Is(err, ErrLocked) {
		t.Errorf("second writer: %v", err)
	}
	if _, err := Create(dir, CreateOptions{}); !errors.Is(err, ErrBadInput) {
		t.Errorf("create over a core: %v", err)
	}
	c.Append([]byte("a"))
	c.Close()
	os.Remove(filepath.Join(dir, secretFile))
	ro, err := Open(dir, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if _, err := ro.Append([]byte("b")); !errors.Is(err, ErrReadOnly) {
		t.Errorf("append without secret: %v", err)
	}
	if got, err := ro.Get(0); err != nil || string(got) != "a" {
		t.Errorf("get without secret = %q, %v", got, err)
	}
}

// A Core built by Append answers every vector request with the bytes the
// JS core sent (Core as the NodeSource, not an in-memory tree).
func TestCoreProofsMatchJS(t *testing.T) {
	v := loadVectors(t)
	proofs := 0
	for _, vc := range v.Cores {
		if vc.Seed == nil || len(vc.Proofs) == 0 {
			continue
		}
		t.Run(vc.Name, func(t *testing.T) {
			c := replay(t, vc.vCore, filepath.Join(t.TempDir(), "core"), DurabilityOS)
			defer c.Close()
			for _, p := range vc.Proofs {
				req := p.Request.request(c.Head().Fork)
				got, err := c.Proof(req)
				if err != nil {
					t.Fatalf("proof %+v: %v", p.Request, err)
				}
				if b := AppendDataMessage(nil, p.Wire.RequestID, got); !bytes.Equal(b, p.Wire.Hex) {
					t.Fatalf("proof %+v:\n got %x\nwant %x", p.Request, b, p.Wire.Hex)
				}
				proofs++
			}
		})
	}
	if proofs < 16 {
		t.Fatalf("only %d proofs compared", proofs)
	}
}

// A core no append has reached yet verifies clean, writable or not.
func TestEmptyCoreVerifies(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "core")
	c, err := Create(dir, CreateOptions{Durability: DurabilityOS})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Verify(context.Background(), nil); err != nil {
		t.Fatalf("verify of an empty core: %v", err)
	}
	c.Close()
	ro, err := Open(dir, OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if err := ro.Verify(context.Background(), nil); err != nil || ro.Length() != 0 {
		t.Fatalf("read-only verify of an empty core: length %d, %v", ro.Length(), err)
	}
}
