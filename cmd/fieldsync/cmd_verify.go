package main

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/fieldsync/fieldsync/export"
	"github.com/fieldsync/fieldsync/hypercore"
	"github.com/fieldsync/fieldsync/index"
	"github.com/fieldsync/fieldsync/observation"
	"github.com/fieldsync/fieldsync/project"
	"github.com/fieldsync/fieldsync/query"
	"github.com/spf13/cobra"
)

func runExportEvidence(g *globals, p *project.Project, x *index.Index, f *query.Filter, selection map[string]any, out string, id ed25519.PrivateKey, asJSON bool) error {
	af, err := createAtomic(out)
	if err != nil {
		return err
	}
	defer af.abort()
	r := p.NewReader()
	defer r.Close()
	b := export.NewBundle(af, p.Name, p.DeviceName, id, selection)
	var missing []string
	n := 0
	err = x.Each(f, func(it *index.Item) error {
		o, err := it.Observation()
		if err != nil {
			return err
		}
		version := observation.VersionID(it.Version)
		key, idx, err := version.Parse()
		if err != nil {
			return err
		}
		c, err := r.Core(key)
		if err != nil {
			return err
		}
		h := c.Head()
		proof, err := c.Proof(hypercore.ProofRequest{Fork: h.Fork, Block: &hypercore.BlockRequest{Index: idx},
			Upgrade: &hypercore.UpgradeRequest{Start: 0, Length: h.Length}, Manifest: true})
		if err != nil {
			return fmt.Errorf("observation %s: proof: %w", o.ID, err)
		}
		dev, err := c.Proof(hypercore.ProofRequest{Fork: h.Fork, Block: &hypercore.BlockRequest{Index: 0},
			Upgrade: &hypercore.UpgradeRequest{Start: 0, Length: h.Length}, Manifest: true})
		if err != nil {
			return fmt.Errorf("device record of %x: proof: %w", key[:4], err)
		}
		if err := b.AddDevice(key, dev); err != nil {
			return err
		}
		for _, a := range o.Attachments {
			if _, err := r.Attachment(a); errors.Is(err, project.ErrMissing) {
				missing = append(missing, o.ID+"/"+a.Name)
			}
		}
		if len(missing) > 0 {
			return nil // keep listing what is missing; nothing will be written
		}
		n++
		return b.Add(&export.BundleItem{Record: export.Record{Version: version, Author: it.Author, Forked: it.Forked, Obs: o}, Proof: proof}, r.Attachment)
	})
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		return fmt.Errorf("cannot export evidence: %d attachment(s) are not on this device (sync with their authors first): %s", len(missing), strings.Join(missing, ", "))
	}
	if err := b.Close(); err != nil {
		return err
	}
	if err := af.commit(); err != nil {
		return err
	}
	if asJSON {
		return writeJSON(g.stdout, map[string]any{"exported": n, "format": "evidence", "file": out})
	}
	_, err = fmt.Fprintf(g.stdout, "exported %d observation(s) with their proofs to %s (check it with: fieldsync verify %s)\n", n, out, out)
	return err
}

func newVerifyCmd(g *globals) *cobra.Command {
	var asJSON bool
	var exporter string
	c := &cobra.Command{
		Use:   "verify BUNDLE.zip",
		Short: "Check an evidence bundle offline: hashes, signatures, proofs, observations, photos",
		Long: `Check an evidence bundle made by "fieldsync export evidence", without any
project and without the network: the SHA-256 of every file against
MANIFEST.json, the exporter's signature over it, every observation's proof
against its author's signed log, that every feature says exactly what its
signed block says, every device record and every attachment. Prints what was
verified (observations, authors, time span); exits 1 naming the file and the
reason at the first failure. --exporter KEY also requires the bundle to be
signed by that device identity.`,
		Example: `  fieldsync verify mining-evidence.zip
  fieldsync verify mining-evidence.zip --json --exporter 3fa4…`,
		Args: nArgs(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := os.Stat(args[0]); err != nil {
				return usageErr("%v", err)
			}
			res, err := export.Verify(args[0])
			if errors.Is(err, export.ErrNotBundle) {
				return usageErr("%v", err)
			}
			if err == nil && exporter != "" && !strings.EqualFold(exporter, res.Exporter.Identity) {
				err = fmt.Errorf("signed by exporter %s, not %s", res.Exporter.Identity, exporter)
			}
			if err != nil {
				if asJSON {
					writeJSON(g.stdout, map[string]any{"ok": false, "error": err.Error()})
				}
				return &exitError{code: 1, err: fmt.Errorf("%s: %w", args[0], err)}
			}
			if asJSON {
				return writeJSON(g.stdout, map[string]any{"ok": true, "result": res})
			}
			fmt.Fprintf(g.stdout, "%s: verified\n", args[0])
			fmt.Fprintf(g.stdout, "  %d observation(s), %d attachment(s), project %q, exported %s by %q (identity %s)\n",
				res.Observations, res.Attachments, res.Project, res.Created, res.Exporter.Name, res.Exporter.Identity)
			if res.Earliest != "" {
				fmt.Fprintf(g.stdout, "  recorded from %s to %s\n", res.Earliest, res.Latest)
			}
			for _, a := range res.Authors {
				fmt.Fprintf(g.stdout, "  %d by %q (identity %s, log %s)\n", a.Observations, a.Name, a.Identity, a.Core)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	c.Flags().StringVar(&exporter, "exporter", "", "require this exporter identity key (hex)")
	return c
}
