package main

import (
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/fieldsync/fieldsync/hypercore"
	"github.com/fieldsync/fieldsync/observations/project"
	"github.com/spf13/cobra"
)

// projectFlags adds --home and --project to the root command.
func projectFlags(root *cobra.Command, g *globals) {
	root.PersistentFlags().StringVar(&g.home, "home", "", "fieldsync home directory (default $FIELDSYNC_HOME, else ~/.local/share/fieldsync)")
	root.PersistentFlags().StringVar(&g.project, "project", "", "project to use (default $FIELDSYNC_PROJECT, else the home's default)")
}

// openHome opens the home named by --home or the environment.
func openHome(g *globals) (*project.Home, error) {
	dir := g.home
	if dir == "" {
		d, err := project.DefaultDir()
		if err != nil {
			return nil, err
		}
		dir = d
	}
	h, err := project.OpenHome(dir)
	if err != nil {
		return nil, err
	}
	return h, nil
}

// openProject opens the project named by --project, the environment or
// the home's default.
func openProject(g *globals) (*project.Home, *project.Project, error) {
	h, err := openHome(g)
	if err != nil {
		return nil, nil, err
	}
	name := g.project
	if name == "" {
		name = os.Getenv("FIELDSYNC_PROJECT")
	}
	if name == "" {
		if name, err = h.Default(); err != nil {
			return nil, nil, err
		}
	}
	if name == "" {
		return nil, nil, usageErr("no project yet in %s: create one with `fieldsync init NAME` or join one with `fieldsync join CODE`", h.Dir)
	}
	p, err := h.Open(name)
	if errors.Is(err, project.ErrNoProject) {
		return nil, nil, usageErr("%v", err)
	}
	return h, p, err
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
			h, err := openHome(g)
			if err != nil {
				return err
			}
			p, err := h.Create(args[0], device)
			if err != nil {
				return projectErr(err)
			}
			return printProject(g, h, p, asJSON, "created")
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
			name, key, err := project.ParseInvite(args[0])
			if err != nil {
				return usageErr("%v", err)
			}
			h, err := openHome(g)
			if err != nil {
				return err
			}
			p, err := h.Join(name, key, device)
			if err != nil {
				return projectErr(err)
			}
			return printProject(g, h, p, asJSON, "joined")
		},
	}
	c.Flags().StringVar(&device, "device-name", "", "what teammates see this device as (default: the host name)")
	c.Flags().BoolVar(&asJSON, "json", false, "print the project status as JSON")
	return c
}

// projectErr makes the user's mistakes usage errors (exit 2).
func projectErr(err error) error {
	if errors.Is(err, project.ErrExists) || errors.Is(err, project.ErrBadName) {
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
			_, p, err := openProject(g)
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
type statusReport struct {
	Home         string       `json:"home"`
	Project      string       `json:"project"`
	Default      bool         `json:"default"`
	DiscoveryKey string       `json:"discoveryKey"`
	Device       deviceReport `json:"device"`
	Cores        []coreReport `json:"cores"`
	Observations countReport  `json:"observations"`
	Serve        *serveState  `json:"serve,omitempty"` // a running `fieldsync serve`: its peers
}

type countReport struct {
	Current  int `json:"current"`  // not deleted
	Deleted  int `json:"deleted"`  // tombstoned
	Forked   int `json:"forked"`   // with concurrent versions
	Versions int `json:"versions"` // every version of every observation
}

type deviceReport struct {
	Name     string `json:"name"`
	Identity string `json:"identity"`
}

type coreReport struct {
	Key        string `json:"key"`
	Own        string `json:"own,omitempty"` // "data" or "media" for this device's cores
	Length     uint64 `json:"length"`
	Contiguous uint64 `json:"contiguous"`
	ByteLength uint64 `json:"byteLength"`
}

func newStatusCmd(g *globals) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:     "status",
		Short:   "Show the project, this device and the cores held",
		Example: "  fieldsync status\n  fieldsync status --json",
		Args:    nArgs(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			h, p, err := openProject(g)
			if err != nil {
				return err
			}
			return printProject(g, h, p, asJSON, "")
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	return c
}

func printProject(g *globals, h *project.Home, p *project.Project, asJSON bool, verb string) error {
	id, err := h.Identity()
	if err != nil {
		return err
	}
	def, _ := h.Default()
	dk := p.DiscoveryKey()
	rep := statusReport{
		Home: h.Dir, Project: p.Name, Default: def == p.Name, DiscoveryKey: hex.EncodeToString(dk[:]),
		Device: deviceReport{Name: p.DeviceName, Identity: hex.EncodeToString(id.Public().(ed25519.PublicKey))},
		Cores:  []coreReport{},
	}
	own := map[[32]byte]string{p.OwnCoreKey(project.CoreData): project.CoreData, p.OwnCoreKey(project.CoreMedia): project.CoreMedia}
	keys, err := p.CoreKeys()
	if err != nil {
		return err
	}
	for _, k := range keys {
		c, err := hypercore.Open(p.Dir+"/cores/"+hex.EncodeToString(k[:]), hypercore.OpenOptions{ReadOnly: true})
		if err != nil {
			return fmt.Errorf("core %x: %w", k[:4], err)
		}
		hd := c.Head()
		rep.Cores = append(rep.Cores, coreReport{Key: hex.EncodeToString(k[:]), Own: own[k], Length: hd.Length, Contiguous: c.Contiguous(), ByteLength: hd.ByteLength})
		c.Close()
	}
	x, err := openIndex(p)
	if err != nil {
		return err
	}
	c := &rep.Observations
	c.Current, c.Deleted, c.Forked, c.Versions, err = x.Counts()
	x.Close()
	if err != nil {
		return err
	}
	if st, ok := readServeState(p); ok {
		rep.Serve = st
	}
	if asJSON {
		return writeJSON(g.stdout, rep)
	}
	if verb != "" {
		fmt.Fprintf(g.stdout, "%s project %q as %q (invite teammates with `fieldsync invite`)\n", verb, p.Name, p.DeviceName)
	}
	tw := newTable(g.stdout)
	tw.row("project", p.Name+map[bool]string{true: " (default)", false: ""}[rep.Default])
	tw.row("home", h.Dir)
	tw.row("device", fmt.Sprintf("%s (identity %s…)", p.DeviceName, rep.Device.Identity[:16]))
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

// openProjectToWrite opens the project for a command that records data,
// with the --durability it was given.
func openProjectToWrite(g *globals, durability string) (*project.Project, hypercore.Durability, error) {
	mode, err := parseDurability(durability)
	if err != nil {
		return nil, 0, err
	}
	_, p, err := openProject(g)
	return p, mode, err
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
