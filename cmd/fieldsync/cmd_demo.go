package main

import (
	"github.com/fieldsync/fieldsync/internal/demo"
	"github.com/spf13/cobra"
)

func newDemoCmd(g *globals) *cobra.Command {
	var dir string
	var keep bool
	c := &cobra.Command{
		Use:   "demo",
		Short: "Run the main job end to end on built-in sample data",
		Long: `Run fieldsync's main job on built-in sample observations, in a temporary
directory: a device records them in its signed log, reopens it, verifies
every block and signature, proves one observation to a stranger who knows
only the core key, and a second device fetches the whole log over an
encrypted connection on 127.0.0.1, verifying every block. Then a project
imports 300 observations along a river, records one with photos, and
queries its GeoPackage index by distance, area, tag and time.`,
		Example: `  fieldsync demo
  fieldsync demo --dir ./demo-core --keep`,
		Args: nArgs(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return inputErr(demo.Run(cmd.Context(), g.stdout, dir, keep))
		},
	}
	c.Flags().StringVar(&dir, "dir", "", "where to put the demo core (default: a temporary directory)")
	c.Flags().BoolVar(&keep, "keep", false, "keep the demo files afterwards")
	return c
}
