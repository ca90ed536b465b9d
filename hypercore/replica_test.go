package hypercore

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestProofRefusesRottenBlock: a block whose bytes changed on disk is never
// put in a proof for a peer (the leaf record's CRC-32C catches it), while
// the other blocks are still served.
func TestProofRefusesRottenBlock(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "c")
	c, err := Create(dir, CreateOptions{Seed: bytes.Repeat([]byte{3}, 32), Durability: DurabilityOS})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 10 {
		if _, err := c.Append([]byte(fmt.Sprintf("block number %d", i))); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.OpenFile(filepath.Join(dir, dataFile), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Block 4 starts after four 14-byte blocks.
	if _, err := f.WriteAt([]byte{'X'}, 4*14+3); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for i := range uint64(10) {
		p, err := c.Proof(ProofRequest{Block: &BlockRequest{Index: i}})
		if i == 4 {
			var ce *CorruptError
			if !errors.As(err, &ce) || ce.Block != 4 {
				t.Fatalf("proof of the rotten block 4: %v, want a corruption error naming block 4", err)
			}
			continue
		}
		if err != nil || p.Block == nil || string(p.Block.Value) != fmt.Sprintf("block number %d", i) {
			t.Fatalf("proof of block %d: %v", i, err)
		}
	}
}

// TestMissingNodesCountsWhatEarlierAnswersProve: planning requests for
// blocks 0..n in a row asks for exactly the nodes each proof needs when
// the answers to the earlier requests are counted as known (a replica
// pipelining requests), as the live transcript's 2, 0, 1, 0, 0 shows.
func TestMissingNodesCountsWhatEarlierAnswersProve(t *testing.T) {
	for _, tc := range []struct {
		length uint64
		want   []uint64
	}{
		{5, []uint64{2, 0, 1, 0, 0}},
		{8, []uint64{3, 0, 1, 0, 2, 0, 1, 0}},
		{1, []uint64{0}},
	} {
		roots := make([]Node, 0)
		for _, r := range fullRoots(tc.length) {
			roots = append(roots, Node{Index: r})
		}
		known := map[uint64]bool{}
		var got []uint64
		for i := range tc.length {
			n, learned := MissingNodes(i, roots, func(x uint64) bool { return known[x] }, nil)
			for _, x := range learned {
				known[x] = true
			}
			got = append(got, n)
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("length %d: nodes %v, want %v", tc.length, got, tc.want)
		}
	}
}

// TestPrehashFollowsTheBytes: a leaf hash computed ahead by Prehash is used
// only for the exact bytes it was computed from; a proof whose value was
// replaced afterwards is hashed again and refused.
func TestPrehashFollowsTheBytes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "c")
	c, err := Create(dir, CreateOptions{Seed: bytes.Repeat([]byte{4}, 32), Durability: DurabilityOS})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 8 {
		if _, err := c.Append([]byte(fmt.Sprintf("block %d", i))); err != nil {
			t.Fatal(err)
		}
	}
	state := TreeState{Length: c.Length(), Fork: 0, Roots: c.Roots()}
	for _, swap := range []bool{false, true} {
		p, err := c.Proof(ProofRequest{Block: &BlockRequest{Index: 3, Nodes: 3}})
		if err != nil {
			t.Fatal(err)
		}
		Prehash(p.Block)
		if swap {
			p.Block.Value = []byte("block X") // same length, other bytes
		}
		_, err = VerifyProof(c.Verifier(), state, nil, p)
		if swap && !errors.Is(err, ErrInvalidProof) {
			t.Fatalf("replaced bytes after Prehash: %v, want ErrInvalidProof", err)
		}
		if !swap && err != nil {
			t.Fatalf("prehashed proof: %v", err)
		}
	}
}
