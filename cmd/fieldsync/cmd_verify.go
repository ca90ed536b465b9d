package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strings"

	"github.com/fieldsync/fieldsync/export"
	"github.com/fieldsync/fieldsync/geo"
	"github.com/fieldsync/fieldsync/observations/project"
	"github.com/spf13/cobra"
)

// selection is the filter flags recorded as an evidence bundle's
// selection: the same conditions, with the polygon of --within itself.
func (ff *filterFlags) selection() (export.Selection, error) {
	f, err := ff.filter()
	if err != nil {
		return export.Selection{}, err
	}
	f.Within = nil
	s, err := export.SelectionOf(f)
	if err != nil {
		return s, err
	}
	if ff.within != "" {
		g, err := areaGeometry(ff.within)
		if err != nil {
			return s, usageErr("--within %s: %v", ff.within, err)
		}
		s.Within = &g
	}
	return s, nil
}

// areaGeometry reads the polygon of a GeoJSON geometry, Feature or
// FeatureCollection of one feature (as --within does).
func areaGeometry(path string) (geo.Geometry, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return geo.Geometry{}, err
	}
	var probe struct {
		Type     string            `json:"type"`
		Geometry json.RawMessage   `json:"geometry"`
		Features []json.RawMessage `json:"features"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return geo.Geometry{}, fmt.Errorf("not GeoJSON: %v", err)
	}
	switch probe.Type {
	case "FeatureCollection":
		if len(probe.Features) != 1 {
			return geo.Geometry{}, fmt.Errorf("a FeatureCollection of %d features: give one area", len(probe.Features))
		}
		var f struct {
			Geometry json.RawMessage `json:"geometry"`
		}
		json.Unmarshal(probe.Features[0], &f)
		b = f.Geometry
	case "Feature":
		b = probe.Geometry
	}
	g, err := geo.Parse(b)
	if err != nil {
		return geo.Geometry{}, err
	}
	if _, err := geo.NewArea(g); err != nil {
		return geo.Geometry{}, err
	}
	return g, nil
}

// evidenceMemory keeps an evidence export or verification within a
// bounded footprint: its live heap (a few hundred bytes per observation
// version, for the selection run over the logs) stays small, but at the
// GOGC of 400 main sets for replication it could grow five times before a
// collection. It returns the settings to restore; GOGC and GOMEMLIMIT in
// the environment win.
func evidenceMemory() (restore func()) {
	gc, limit := -2, int64(-2)
	if os.Getenv("GOGC") == "" {
		gc = debug.SetGCPercent(100)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		limit = debug.SetMemoryLimit(150 << 20)
	}
	return func() {
		if gc != -2 {
			debug.SetGCPercent(gc)
		}
		if limit != -2 {
			debug.SetMemoryLimit(limit)
		}
	}
}

func runExportEvidence(ctx context.Context, g *globals, p *project.Project, sel export.Selection, out string, id ed25519.PrivateKey, allowMissing, asJSON bool) error {
	defer evidenceMemory()()
	af, err := createAtomic(out)
	if err != nil {
		return err
	}
	defer af.Abort()
	res, err := export.WriteEvidence(ctx, af, p, id, export.EvidenceOptions{Selection: sel, AllowMissing: allowMissing})
	if errors.Is(err, export.ErrMissingAttachments) {
		var list []string
		for _, m := range res.Missing {
			list = append(list, m.Observation+"/"+m.Name)
		}
		return fmt.Errorf("cannot export evidence: %w: %s", err, strings.Join(list, ", "))
	}
	if err != nil {
		return err
	}
	if err := af.Commit(); err != nil {
		return err
	}
	for _, m := range res.Missing {
		fmt.Fprintf(g.stderr, "MISSING from the bundle (listed in it as missing): %s of observation %s\n", m.Name, m.Observation)
	}
	if asJSON {
		return writeJSON(g.stdout, map[string]any{"exported": res.Observations, "attachments": res.Attachments, "logs": res.Logs, "missing": res.Missing, "format": "evidence", "file": out})
	}
	_, err = fmt.Fprintf(g.stdout, "exported %d observation(s), %d attachment(s) and the signed logs of %d device(s) to %s (check it with: fieldsync verify %s)\n", res.Observations, res.Attachments, res.Logs, out, out)
	return err
}

func newVerifyCmd(g *globals) *cobra.Command {
	var asJSON, lenient bool
	var exporter string
	c := &cobra.Command{
		Use:   "verify BUNDLE.zip|FOLDER",
		Short: "Check an evidence bundle offline: signatures, completeness, observations, photos",
		Long: `Check an evidence bundle made by "fieldsync export evidence" — the zip, the
same files zipped again, or the folder they were extracted to — without any
project and without the network. It checks the SHA-256 of every file against
MANIFEST.json and the exporter's signature over it; every block of every
device's log against the log's signed head; that the exporter's key is one
of those devices; and then runs the bundle's selection again over the logs:
observations.geojson and report.html must be exactly what the signed blocks
give — every matching observation, in its current version, none left out —
and every photo present or listed as missing. VERIFY.md inside the bundle
explains how to redo each check with other tools.

Exit status: 0 valid, 1 invalid (naming the file and what is wrong), 2
unreadable (not a bundle, a newer format, a zip bomb). --exporter KEY also
requires the bundle to be signed by that identity key. Bytes no hash covers
are refused (comments, data before or after the zip, links); a re-zipped
bundle is accepted; --lenient-container also accepts unknown zip extra fields
and skips files like __MACOSX/ and .DS_Store.`,
		Example: `  fieldsync verify mining-evidence.zip
  fieldsync verify mining-evidence/                 (an extracted bundle)
  fieldsync verify mining-evidence.zip --json --exporter 3fa4…`,
		Args: nArgs(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := os.Stat(args[0]); err != nil {
				return usageErr("%v", err)
			}
			defer evidenceMemory()()
			res, err := export.Verify(cmd.Context(), args[0], export.VerifyOptions{LenientContainer: lenient})
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
			printVerified(g, args[0], res)
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	c.Flags().StringVar(&exporter, "exporter", "", "require this exporter identity key (hex)")
	c.Flags().BoolVar(&lenient, "lenient-container", false, "accept any zip extra field and folder, skip __MACOSX/, .DS_Store, Thumbs.db, desktop.ini")
	return c
}

func printVerified(g *globals, path string, res *export.VerifyResult) {
	w := g.stdout
	fmt.Fprintf(w, "%s: verified\n", path)
	fmt.Fprintf(w, "  EXPORTED BY %q, identity key %s\n", res.Exporter.Name, res.Exporter.Identity)
	fmt.Fprintf(w, "    (its signed device record is in the bundle: log %s; compare the key with one you trust, or use --exporter KEY)\n", res.Exporter.Log)
	fmt.Fprintf(w, "  %d observation(s) in their current version, %d deleted, %d attachment(s); nothing matching the selection was left out of the logs below\n", res.Observations, res.Deleted, res.Attachments)
	if len(res.Missing) > 0 {
		fmt.Fprintf(w, "  MISSING: %d attachment(s) the exporter did not have (listed in the bundle):\n", len(res.Missing))
		for _, m := range res.Missing {
			fmt.Fprintf(w, "    %s of observation %s (%s, %d bytes, SHA-256 %s)\n", m.Name, m.Observation, m.Type, m.Size, m.SHA256)
		}
	}
	for _, s := range res.Selection.Describe() {
		fmt.Fprintf(w, "  selection: %s\n", s)
	}
	if res.Earliest != "" {
		fmt.Fprintf(w, "  recorded from %s to %s (by the devices' clocks)\n", res.Earliest, res.Latest)
	}
	for _, a := range res.Authors {
		fmt.Fprintf(w, "  device %q (identity %s): log %s, %d blocks, %d observation(s) selected\n", a.Name, a.Identity, a.Core, a.Length, a.Observations)
	}
	fmt.Fprintf(w, "  as stated by the exporter, not signed by the observers: project %q, exported %s\n", res.Project, res.Created)
	fmt.Fprintf(w, "  container: %s\n", res.Container)
	for _, warn := range res.Warnings {
		fmt.Fprintf(w, "  WARNING: %s\n", warn)
	}
}
