package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/fieldsync/fieldsync/geo"
	"github.com/fieldsync/fieldsync/observations"
	"github.com/fieldsync/fieldsync/observations/record"
	"github.com/spf13/cobra"
)

func newImportCmd(g *globals) *cobra.Command {
	var timeProp string
	var asJSON bool
	c := &cobra.Command{
		Use:   "import FILE",
		Short: "Import GeoJSON features as observations (all or nothing)",
		Long: `Import a GeoJSON FeatureCollection, a single Feature, or one Feature per
line ("-" reads standard input). Each feature becomes an observation;
its properties become tags (null ones are dropped), its id the tag
import_id. --time-property NAME takes each observation's created time from
that property (else the time of the import). Every feature is checked first: one invalid feature imports
nothing, and the error names it. Checked records wait in memory (up to 64
MiB, then in a temporary file in the project's directory) and are written
10,000 at a time, then signed once: an import stopped at any moment (a
failure, Ctrl-C, a crash) leaves nothing visible, and memory does not grow
with the file's size. A feature too large to store (over 8 MiB as a
record) is bad input.`,
		Example: `  fieldsync import sightings.geojson
  ogr2ogr -f GeoJSONSeq /vsistdout/ survey.gpkg | fieldsync import -`,
		Args: nArgs(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := openProject(cmd, g)
			if err != nil {
				return err
			}
			var in io.Reader = g.stdin
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return usageErr("%v", err)
				}
				defer f.Close()
				in = f
			}
			var prog *progress
			n, err := p.Import(cmd.Context(), in, timeProp, func(done, total uint64) {
				if prog == nil {
					prog = newProgress(g.stderr, "import", total)
				}
				prog.update(done, total)
			})
			if prog != nil {
				prog.done()
			}
			var ie *observations.IndexError
			switch {
			case errors.Is(err, record.ErrInvalid) || errors.Is(err, geo.ErrInvalid):
				return usageErr("%s: %v", args[0], err)
			case errors.As(err, &ie):
				return fmt.Errorf("imported %d observation(s), but indexing them failed: %w (the next list or reindex retries)", n, ie.Err)
			case err != nil:
				return err
			}
			if asJSON {
				return writeJSON(g.stdout, map[string]int{"imported": n})
			}
			_, err = fmt.Fprintf(g.stdout, "imported %d observation(s)\n", n)
			return err
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, `print {"imported": N}`)
	c.Flags().StringVar(&timeProp, "time-property", "", "a property holding when each feature was recorded (RFC 3339 or a date): used as its created time")
	durabilityFlag(c, &g.durability)
	return c
}
