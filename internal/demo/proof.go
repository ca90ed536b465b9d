package demo

import (
	"errors"
	"fmt"
	"io"

	"github.com/fieldsync/fieldsync/hypercore"
)

// demoProof shows what evidence exports rest on: someone who knows only the
// core key checks one observation, and its place in the signed log, from a
// proof alone; a proof with one changed byte is refused.
func demoProof(out io.Writer, c *hypercore.Core) error {
	h := c.Head()
	idx := h.Length / 2
	p, err := c.Proof(hypercore.ProofRequest{
		Fork:     h.Fork,
		Block:    &hypercore.BlockRequest{Index: idx},
		Upgrade:  &hypercore.UpgradeRequest{Start: 0, Length: h.Length},
		Manifest: true,
	})
	if err != nil {
		return err
	}
	wire := hypercore.AppendDataMessage(nil, 1, p)

	// The stranger's side: the key, and the proof's bytes.
	key := c.Key()
	check := func(msg []byte) (*hypercore.VerifiedProof, error) {
		_, got, err := hypercore.DecodeDataMessage(msg)
		if err != nil {
			return nil, err
		}
		if got.Manifest == nil {
			return nil, errors.New("proof carries no manifest")
		}
		v, err := hypercore.NewVerifier(key, got.Manifest)
		if err != nil {
			return nil, err
		}
		return hypercore.VerifyProof(v, hypercore.TreeState{}, nil, got)
	}
	vp, err := check(wire)
	if err != nil {
		return fmt.Errorf("demo: a good proof was refused: %w", err)
	}
	fmt.Fprintf(out, "5. a stranger holding only the core key checked observation %d with a %d-byte proof: signed head at length %d, tree hash %x…\n",
		vp.Block.Index, len(wire), vp.Length, vp.TreeHash[:8])
	bad := append([]byte(nil), wire...)
	bad[len(bad)/3] ^= 0x01
	if _, err := check(bad); err == nil {
		return errors.New("demo: a tampered proof was accepted")
	}
	fmt.Fprintf(out, "6. the same proof with one byte changed is refused\n")
	return nil
}
