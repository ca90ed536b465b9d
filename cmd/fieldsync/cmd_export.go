package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/fieldsync/fieldsync/export"
	"github.com/fieldsync/fieldsync/internal/atomicfile"
	"github.com/fieldsync/fieldsync/internal/safename"
	"github.com/fieldsync/fieldsync/observations/index"
	"github.com/fieldsync/fieldsync/observations/project"
	"github.com/fieldsync/fieldsync/observations/query"
	"github.com/fieldsync/fieldsync/observations/record"
	"github.com/spf13/cobra"
)

// filterFlags are list's filters, shared by export.
type filterFlags struct {
	bbox, near, radius, within, since, until string
	tags                                     []string
	deleted                                  bool
}

func (ff *filterFlags) add(c *cobra.Command) {
	fl := c.Flags()
	fl.StringVar(&ff.bbox, "bbox", "", "W,S,E,N in degrees")
	fl.StringVar(&ff.near, "near", "", "LAT,LON (with --radius)")
	fl.StringVar(&ff.radius, "radius", "", "distance from --near: 500m, 2km")
	fl.StringVar(&ff.within, "within", "", "a GeoJSON file: Polygon, MultiPolygon, or a Feature/FeatureCollection of one")
	fl.StringVar(&ff.since, "since", "", "created at or after (2026-03-01 or RFC 3339)")
	fl.StringVar(&ff.until, "until", "", "created before")
	fl.StringArrayVar(&ff.tags, "tag", nil, "KEY=VALUE that must match (repeatable)")
	fl.BoolVar(&ff.deleted, "deleted", false, "include deleted observations")
}

func (ff *filterFlags) filter() (*query.Filter, error) {
	return buildFilter(ff.bbox, ff.near, ff.radius, ff.within, ff.since, ff.until, ff.tags, ff.deleted)
}

// createAtomic starts an output written whole or not at all (see
// internal/atomicfile); where it cannot be written is a usage error.
func createAtomic(path string) (*atomicfile.File, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return nil, usageErr("%s is a directory", path)
	}
	f, err := atomicfile.New(path, 0o644)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, usageErr("cannot write %s: %v", path, err)
	}
	return f, nil
}

func newExportCmd(g *globals) *cobra.Command {
	var ff filterFlags
	var out, mediaDir string
	var asJSON, allowMissing bool
	c := &cobra.Command{
		Use:   "export geojson|csv|gpkg|evidence",
		Short: "Export observations for maps (GeoJSON, CSV, GeoPackage) or as a verifiable evidence bundle",
		Long: `Export the current observations that pass the filters (the same as
fieldsync list). geojson: one RFC 7946 FeatureCollection (lon/lat, WGS 84;
tags as properties; fieldsync's own fields under "fieldsync:" names, which
tags cannot use). csv: one row per observation: id, lat/lon (points), WKT,
fieldsync's fields, one column per tag. gpkg: a standalone GeoPackage with a
typed column per tag. evidence: a zip that anyone can check offline with
"fieldsync verify" (see VERIFY.md inside). Files are written whole or not
at all; "-o -" writes GeoJSON or CSV to standard output. --media DIR also
writes every attachment to DIR/<observation id>/<name>; attachments not on
this device are listed on stderr and in DIR/missing.json, never skipped
silently.`,
		Example: `  fieldsync export geojson -o river.geojson
  fieldsync export csv --tag category=mining --since 2026-03-01 -o mining.csv
  fieldsync export gpkg --within territory.geojson -o territory.gpkg --media photos/
  fieldsync export evidence --tag category=mining -o mining-evidence.zip`,
		Args: nArgs(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			format := args[0]
			switch format {
			case "geojson", "csv", "gpkg", "evidence":
			default:
				return usageErr("unknown format %q: want geojson, csv, gpkg or evidence", format)
			}
			if out == "" {
				return usageErr("-o FILE is needed (- for standard output)")
			}
			if out == "-" && (format == "gpkg" || format == "evidence") {
				return usageErr("%s is written to a file: give -o FILE", format)
			}
			f, err := ff.filter()
			if err != nil {
				return err
			}
			p, err := openProject(cmd, g)
			if err != nil {
				return err
			}
			if format == "evidence" { // from the signed blocks: no index
				sel, err := ff.selection()
				if err != nil {
					return err
				}
				id, err := p.Identity()
				if err != nil {
					return err
				}
				return runExportEvidence(cmd.Context(), g, p.Project, sel, out, id, allowMissing, asJSON)
			}
			x, err := p.OpenIndex(cmd.Context())
			if err != nil {
				return err
			}
			defer x.Close()
			return runExport(g, p.Project, x, f, format, out, mediaDir, asJSON)
		},
	}
	ff.add(c)
	c.Flags().StringVarP(&out, "output", "o", "", "file to write (- for standard output)")
	c.Flags().StringVar(&mediaDir, "media", "", "also write attachments under this directory")
	c.Flags().BoolVar(&asJSON, "json", false, "print a JSON summary")
	c.Flags().BoolVar(&allowMissing, "allow-missing", false, "evidence: make the bundle even if some photos are not on this device, listing each as missing")
	return c
}

func runExport(g *globals, p *project.Project, x *index.Index, f *query.Filter, format, out, mediaDir string, asJSON bool) error {
	var w io.Writer = g.stdout
	var af *atomicfile.File
	var gpkgTmp string
	var err error
	switch {
	case format == "gpkg":
		tmp, err := os.CreateTemp(filepath.Dir(out), ".fieldsync-export-*.gpkg")
		if err != nil {
			return usageErr("cannot write %s: %v", out, errors.Unwrap(err))
		}
		tmp.Close()
		os.Remove(tmp.Name())
		gpkgTmp = tmp.Name()
		defer os.Remove(gpkgTmp)
		defer os.Remove(gpkgTmp + "-journal")
	case out != "-":
		if af, err = createAtomic(out); err != nil {
			return err
		}
		defer af.Abort()
		w = af
	}
	var ew export.Writer
	switch format {
	case "geojson":
		ew = export.NewGeoJSON(w)
	case "csv":
		cols, err := x.TagColumns()
		if err != nil {
			return err
		}
		names := make([]string, len(cols))
		for i, c := range cols {
			names[i] = c.Name
		}
		ew = export.NewCSV(w, names)
	case "gpkg":
		cols, err := x.TagColumns()
		if err != nil {
			return err
		}
		if ew, err = export.NewGeoPackage(gpkgTmp, cols); err != nil {
			return err
		}
	}
	var media *mediaWriter
	if mediaDir != "" {
		media = &mediaWriter{dir: mediaDir, r: p.NewReader()}
		defer media.r.Close()
	}
	n := 0
	err = x.Each(f, func(it *index.Item) error {
		o, err := it.Observation()
		if err != nil {
			return err
		}
		n++
		if media != nil {
			if err := media.write(o.ID, o.Attachments); err != nil {
				return err
			}
		}
		return ew.Write(&export.Record{Version: observationVersion(it), Author: it.Author, Forked: it.Forked, Obs: o})
	})
	if err != nil {
		if format == "gpkg" {
			ew.Close()
		}
		return err
	}
	if err := ew.Close(); err != nil {
		return err
	}
	switch {
	case format == "gpkg":
		if err := os.Rename(gpkgTmp, out); err != nil {
			return err
		}
		if err := atomicfile.SyncDir(filepath.Dir(out)); err != nil {
			return err
		}
	case af != nil:
		if err := af.Commit(); err != nil {
			return err
		}
	}
	summary := map[string]any{"exported": n, "format": format, "file": out}
	if media != nil {
		summary["attachments"] = media.written
		summary["missing"] = media.missing
		if err := media.report(); err != nil {
			return err
		}
		for _, m := range media.missing {
			fmt.Fprintf(g.stderr, "missing: %s\n", m)
		}
	}
	if asJSON {
		return writeJSON(g.stderrOrStdout(out), summary)
	}
	msg := fmt.Sprintf("exported %d observation(s) to %s", n, out)
	if media != nil {
		msg += fmt.Sprintf("; %d attachment(s) in %s", media.written, mediaDir)
		if len(media.missing) > 0 {
			msg += fmt.Sprintf(", %d not on this device (listed in %s)", len(media.missing), filepath.Join(mediaDir, "missing.json"))
		}
	}
	_, err = fmt.Fprintln(g.stderrOrStdout(out), msg)
	return err
}

// stderrOrStdout: the summary goes to stderr when the export itself is
// on stdout.
func (g *globals) stderrOrStdout(out string) io.Writer {
	if out == "-" {
		return g.stderr
	}
	return g.stdout
}

func observationVersion(it *index.Item) record.VersionID {
	return record.VersionID(it.Version)
}

// mediaWriter writes attachments beside an export and lists the missing.
type mediaWriter struct {
	dir     string
	r       *project.Reader
	written int
	missing []string
}

func (m *mediaWriter) write(id string, atts []record.Attachment) error {
	taken := map[string]bool{}
	for _, a := range atts {
		b, err := m.r.Attachment(a)
		if errors.Is(err, project.ErrMissing) {
			m.missing = append(m.missing, id+"/"+a.Name)
			continue
		}
		if err != nil {
			return err
		}
		// Names come from other devices: made safe for every OS, and
		// distinct ignoring case (Windows and macOS do).
		dir := filepath.Join(m.dir, safename.File(id))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if err := atomicfile.WriteFile(filepath.Join(dir, safename.Unique(a.Name, taken)), b, 0o644); err != nil {
			return err
		}
		m.written++
	}
	return nil
}

func (m *mediaWriter) report() error {
	if err := os.MkdirAll(m.dir, 0o755); err != nil {
		return err
	}
	path := filepath.Join(m.dir, "missing.json")
	if len(m.missing) == 0 {
		os.Remove(path)
		return nil
	}
	var b bytes.Buffer
	writeJSON(&b, map[string]any{"missing": m.missing, "why": "these attachments have not been synced to this device"})
	return atomicfile.WriteFile(path, b.Bytes(), 0o644)
}
