package export

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"

	"github.com/fieldsync/fieldsync/hypercore"
	"github.com/fieldsync/fieldsync/observations/index"
	"github.com/fieldsync/fieldsync/observations/project"
	"github.com/fieldsync/fieldsync/observations/query"
	"github.com/fieldsync/fieldsync/observations/record"
)

// ErrMissingAttachments: an evidence bundle cannot be made because some
// attachments are not on this device (they would be unverifiable gaps).
var ErrMissingAttachments = errors.New("attachments are not on this device")

// WriteEvidence writes the evidence bundle of the observations of p that
// pass f to w, assembled by this device (key). Every observation's proof
// runs from its block to the current signed head of its author's core. If
// any attachment is missing here nothing is written: the error wraps
// ErrMissingAttachments and missing lists them (id/name).
func WriteEvidence(w io.Writer, p *project.Project, x *index.Index, f *query.Filter, key ed25519.PrivateKey, selection map[string]any) (n int, missing []string, err error) {
	r := p.NewReader()
	defer r.Close()
	// First pass: every attachment must be here.
	err = x.Each(f, func(it *index.Item) error {
		o, err := it.Observation()
		if err != nil {
			return err
		}
		for _, a := range o.Attachments {
			if _, err := r.Attachment(a); errors.Is(err, project.ErrMissing) {
				missing = append(missing, o.ID+"/"+a.Name)
			} else if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, nil, err
	}
	if len(missing) > 0 {
		return 0, missing, fmt.Errorf("%d of them (sync with their authors first): %w", len(missing), ErrMissingAttachments)
	}
	b := NewBundle(w, p.Name, p.DeviceName, key, selection)
	defer b.Abort()
	err = x.Each(f, func(it *index.Item) error {
		o, err := it.Observation()
		if err != nil {
			return err
		}
		v := record.VersionID(it.Version)
		core, idx, err := v.Parse()
		if err != nil {
			return err
		}
		c, err := r.Core(core)
		if err != nil {
			return err
		}
		h := c.Head()
		prove := func(i uint64) (*hypercore.Proof, error) {
			return c.Proof(hypercore.ProofRequest{Fork: h.Fork, Block: &hypercore.BlockRequest{Index: i},
				Upgrade: &hypercore.UpgradeRequest{Start: 0, Length: h.Length}, Manifest: true})
		}
		dp, err := prove(0)
		if err != nil {
			return fmt.Errorf("device record of core %x: %w", core[:4], err)
		}
		if err := b.AddDevice(core, dp); err != nil {
			return err
		}
		pr, err := prove(idx)
		if err != nil {
			return fmt.Errorf("observation %s: %w", o.ID, err)
		}
		n++
		return b.Add(&BundleItem{Record: Record{Version: v, Author: it.Author, Forked: it.Forked, Obs: o}, Proof: pr}, r.Attachment)
	})
	if err != nil {
		return 0, nil, err
	}
	return n, nil, b.Close()
}
