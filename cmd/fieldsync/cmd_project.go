package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/fieldsync/fieldsync/observations"
	"github.com/fieldsync/fieldsync/observations/project"
	"github.com/spf13/cobra"
)

// projectFlags adds --home and --project to the root command.
func projectFlags(root *cobra.Command, g *globals) {
	root.PersistentFlags().StringVar(&g.home, "home", "", "fieldsync home directory (default $FIELDSYNC_HOME, else %LocalAppData%\\fieldsync on Windows, ~/Library/Application Support/fieldsync on macOS, $XDG_DATA_HOME/fieldsync or ~/.local/share/fieldsync elsewhere)")
	root.PersistentFlags().StringVar(&g.project, "project", "", "project to use (default $FIELDSYNC_PROJECT, else the home's default)")
}

// openProject opens the project named by --project, the environment or
// the home's default, for a command that reads or records data with the
// --durability it was given ("" for commands that do not write).
func openProject(cmd *cobra.Command, g *globals) (*observations.Project, error) {
	name := g.project
	if name == "" {
		name = os.Getenv("FIELDSYNC_PROJECT")
	}
	p, err := observations.Open(cmd.Context(), g.home, name)
	if errors.Is(err, observations.ErrNoProject) {
		return nil, usageErr("%v", err)
	}
	if err != nil {
		return nil, err
	}
	if g.durability != "" {
		if p.Durability, err = parseDurability(g.durability); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func newInitCmd(g *globals) *cobra.Command {
	var device string
	var asJSON bool
	c := &cobra.Command{
		Use:   "init NAME",
		Short: "Create a project and make it the default",
		Long: `Create a project: a random secret project key, this device's identity
(made on first use) and its data and media cores, under the fieldsync home.
The first project becomes the default. Share it with "fieldsync invite".`,
		Example: `  fieldsync init rio-negro --device-name "Maria's laptop"`,
		Args:    nArgs(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := observations.Create(cmd.Context(), g.home, args[0], device)
			if err != nil {
				return projectErr(err)
			}
			return printProject(cmd, g, p, asJSON, "created")
		},
	}
	c.Flags().StringVar(&device, "device-name", "", "what teammates see this device as (default: the host name)")
	c.Flags().BoolVar(&asJSON, "json", false, "print the project status as JSON")
	return c
}

func newJoinCmd(g *globals) *cobra.Command {
	var device string
	var asJSON bool
	c := &cobra.Command{
		Use:   "join CODE",
		Short: "Join a project with the code a teammate's `fieldsync invite` printed",
		Long: `Join a project: CODE carries its name and secret key (case, spaces and
dashes do not matter; a mistyped letter is caught by its checksum). This
device's cores for the project are created; syncing brings the others'.`,
		Example: `  fieldsync join yrro-obay-... --device-name "João's laptop"`,
		Args:    nArgs(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := observations.Join(cmd.Context(), g.home, args[0], device)
			if err != nil {
				return projectErr(err)
			}
			return printProject(cmd, g, p, asJSON, "joined")
		},
	}
	c.Flags().StringVar(&device, "device-name", "", "what teammates see this device as (default: the host name)")
	c.Flags().BoolVar(&asJSON, "json", false, "print the project status as JSON")
	return c
}

// projectErr makes the user's mistakes usage errors (exit 2).
func projectErr(err error) error {
	if errors.Is(err, project.ErrExists) || errors.Is(err, project.ErrBadName) || errors.Is(err, project.ErrBadCode) {
		return &exitError{code: exitUsage, err: err}
	}
	return err
}

func newInviteCmd(g *globals) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "invite",
		Short: "Print the code that lets a teammate join this project",
		Long: `Print the join code of the project: its name and secret key, in letters
chosen to be read aloud and typed, with a checksum. Anyone with the code
can read and add to the project: give it only to teammates.`,
		Example: `  fieldsync invite
  fieldsync invite --project rio-negro --json`,
		Args: nArgs(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := openProject(cmd, g)
			if err != nil {
				return err
			}
			code, err := project.Invite(p.Name, p.Key)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(g.stdout, map[string]string{"code": code})
			}
			_, err = fmt.Fprintln(g.stdout, code)
			return err
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, `print {"code": "..."}`)
	return c
}

// statusReport is the JSON of `fieldsync status`.
type statusReport = observations.Status

func newStatusCmd(g *globals) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:     "status",
		Short:   "Show the project, this device and the cores held",
		Example: "  fieldsync status\n  fieldsync status --json",
		Args:    nArgs(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := openProject(cmd, g)
			if err != nil {
				return err
			}
			return printProject(cmd, g, p, asJSON, "")
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	return c
}

func printProject(cmd *cobra.Command, g *globals, p *observations.Project, asJSON bool, verb string) error {
	rep, err := p.Status(cmd.Context())
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(g.stdout, rep)
	}
	if verb != "" {
		fmt.Fprintf(g.stdout, "%s project %q as %q (invite teammates with `fieldsync invite`)\n", verb, p.Name, p.DeviceName)
	}
	tw := newTable(g.stdout)
	tw.row("project", p.Name+map[bool]string{true: " (default)", false: ""}[rep.Default])
	tw.row("home", rep.Home)
	tw.row("device", fmt.Sprintf("%s (identity %s…)", p.DeviceName, rep.Device.Identity[:16]))
	c := rep.Observations
	tw.row("observations", fmt.Sprintf("%d (%d deleted, %d forked; %d versions)", c.Current, c.Deleted, c.Forked, c.Versions))
	for _, c := range rep.Cores {
		who := "from a teammate"
		if c.Own != "" {
			who = "this device's " + c.Own
		}
		held := plural(c.Length, "block")
		if c.Contiguous < c.Length {
			held = fmt.Sprintf("%d of %s", c.Contiguous, plural(c.Length, "block"))
		}
		tw.row("core "+c.Key[:16]+"…", fmt.Sprintf("%s, %s, %d bytes", who, held, c.ByteLength))
	}
	if st := rep.Serve; st != nil {
		tw.row("serve", fmt.Sprintf("running (pid %d) on %s since %s, %d peer(s) connected", st.PID, st.Listen, st.Started, len(st.Peers)))
		if st.DHT != nil {
			tw.row("dht", dhtStatusLine(*st.DHT))
		}
		for _, pe := range st.Peers {
			tw.row("peer "+pe.Key[:16]+"…", fmt.Sprintf("%d core(s) behind, %d blocks in, %d out", pe.Behind, pe.BlocksDownloaded, pe.BlocksUploaded))
		}
	}
	return tw.flush()
}

func plural(n uint64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.FormatUint(n, 10) + " " + word + "s"
}

// readAttachments reads the --attach files; a missing one is a usage error.
func readAttachments(paths []string) ([]project.File, error) {
	var files []project.File
	for _, path := range paths {
		f, err := project.ReadFile(path)
		if err != nil {
			return nil, usageErr("%v", err)
		}
		files = append(files, f)
	}
	return files, nil
}
