package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/fieldsync/fieldsync/export"
	"github.com/fieldsync/fieldsync/observations/index"
	"github.com/fieldsync/fieldsync/observations/query"
	"github.com/fieldsync/fieldsync/observations/record"
)

// demoExport: the last teammate exports the merged map as GeoJSON and the
// mining observations as an evidence bundle, which is then verified as a
// stranger would.
func demoExport(ctx context.Context, out io.Writer, dir string, d *demoDevice) error {
	x, err := openIndex(d.p)
	if err != nil {
		return err
	}
	defer x.Close()
	geoPath := filepath.Join(dir, "rio-negro.geojson")
	f, err := os.Create(geoPath)
	if err != nil {
		return err
	}
	w := export.NewGeoJSON(f)
	n := 0
	err = x.Each(&query.Filter{}, func(it *index.Item) error {
		o, err := it.Observation()
		if err != nil {
			return err
		}
		n++
		return w.Write(&export.Record{Version: record.VersionID(it.Version), Author: it.Author, Forked: it.Forked, Obs: o})
	})
	if err == nil {
		err = w.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "12. %s exported the merged map: %d observations in %s (RFC 7946 GeoJSON)\n", d.name, n, filepath.Base(geoPath))

	bundlePath := filepath.Join(dir, "mining-evidence.zip")
	bf, err := os.Create(bundlePath)
	if err != nil {
		return err
	}
	mining := export.Selection{Tags: map[string]record.Tag{"category": record.String("mining")}}
	_, err = export.WriteEvidence(ctx, bf, d.p, d.id, export.EvidenceOptions{Selection: mining})
	if cerr := bf.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	res, err := export.Verify(ctx, bundlePath, export.VerifyOptions{})
	if err != nil {
		return fmt.Errorf("demo: the evidence bundle does not verify: %w", err)
	}
	fmt.Fprintf(out, "13. evidence bundle %s: %d mining observations by %d devices, with the complete signed logs of their devices\n", filepath.Base(bundlePath), res.Observations, len(res.Authors))
	fmt.Fprintf(out, "    verified offline with no project, as a stranger would (fieldsync verify): every hash, signed log and feature checks, and nothing matching was left out\n")
	return nil
}
