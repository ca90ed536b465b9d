package main

import (
	"io"

	"github.com/spf13/cobra"
)

// globals is what every command shares: the process's streams.
type globals struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	home, project  string // --home, --project
	durability     string // --durability of the command that writes
}

func newRootCmd(g *globals) *cobra.Command {
	root := groupCmd(&cobra.Command{
		Use:   "fieldsync",
		Short: "Offline-first field observations in signed, verifiable logs",
		Long: `fieldsync keeps each device's observations in its own Hypercore 11 log:
append-only, signed by the device, verifiable by anyone.

Exit codes: 0 ok, 1 failure or failed check, 2 bad command line or input
(audit: data incomplete here), 3 sync found no teammate, 4 sync incomplete
at its timeout.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       versionLine(),
	})
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &exitError{code: exitUsage, err: err}
	})
	projectFlags(root, g)
	root.AddCommand(newCoreCmd(g), newDemoCmd(g), newInitCmd(g), newJoinCmd(g), newInviteCmd(g), newStatusCmd(g),
		newObserveCmd(g), newShowCmd(g), newMediaCmd(g), newEditCmd(g), newDeleteCmd(g), newImportCmd(g), newListCmd(g),
		newReindexCmd(g), newSyncCmd(g), newServeCmd(g), newExportCmd(g), newVerifyCmd(g), newAuditCmd(g), newWebCmd(g))
	return root
}

// groupCmd makes c a command that only holds subcommands: without one it
// prints help; with an unknown one it is a usage error.
func groupCmd(c *cobra.Command) *cobra.Command {
	c.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usageErr("unknown command %q for %q (see %s --help)", args[0], cmd.CommandPath(), cmd.CommandPath())
		}
		return nil
	}
	c.RunE = func(cmd *cobra.Command, args []string) error { return cmd.Help() }
	return c
}

// nArgs checks the argument count as cobra.RangeArgs does, as a usage error.
func nArgs(lo, hi int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < lo || (hi >= 0 && len(args) > hi) {
			return usageErr("%s: wrong number of arguments (usage: %s)", cmd.CommandPath(), cmd.UseLine())
		}
		return nil
	}
}
