package demo

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/fieldsync/fieldsync/export"
	"github.com/fieldsync/fieldsync/internal/atomicfile"
	"github.com/fieldsync/fieldsync/observations/index"
	"github.com/fieldsync/fieldsync/observations/query"
	"github.com/fieldsync/fieldsync/observations/record"
)

// demoExport: the last teammate exports the merged map as GeoJSON and the
// mining observations as an evidence bundle, which is then verified as a
// stranger would.
func demoExport(ctx context.Context, out io.Writer, dir string, d *demoDevice) error {
	x, err := d.p.OpenIndex(ctx)
	if err != nil {
		return err
	}
	defer x.Close()
	geoPath := filepath.Join(dir, "rio-negro.geojson")
	f, err := atomicfile.New(geoPath, 0o644)
	if err != nil {
		return err
	}
	defer f.Abort()
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
	if err == nil {
		err = f.Commit()
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "12. %s exported the merged map: %d observations in %s (RFC 7946 GeoJSON)\n", d.name, n, filepath.Base(geoPath))

	bundlePath := filepath.Join(dir, "mining-evidence.zip")
	bf, err := atomicfile.New(bundlePath, 0o644)
	if err != nil {
		return err
	}
	defer bf.Abort()
	id, err := d.p.Identity()
	if err != nil {
		return err
	}
	mining := export.Selection{Tags: map[string]record.Tag{"category": record.String("mining")}}
	_, err = export.WriteEvidence(ctx, bf, d.p.Project, id, export.EvidenceOptions{Selection: mining})
	if err == nil {
		err = bf.Commit()
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
