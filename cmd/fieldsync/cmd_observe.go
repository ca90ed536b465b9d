package main

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/fieldsync/fieldsync/geo"
	"github.com/fieldsync/fieldsync/internal/atomicfile"
	"github.com/fieldsync/fieldsync/observations/project"
	"github.com/fieldsync/fieldsync/observations/record"
	"github.com/spf13/cobra"
)

// parseTag reads a --tag KEY=VALUE (see record.ParseTag).
func parseTag(s string) (string, record.Tag, error) {
	k, v, err := record.ParseTag(s)
	if err != nil {
		return "", record.Tag{}, usageErr("--tag %v", err)
	}
	return k, v, nil
}

func newObserveCmd(g *globals) *cobra.Command {
	var lat, lon, alt, accuracy float64
	var geomFile, notes string
	var tags, attach []string
	var asJSON bool
	c := &cobra.Command{
		Use:   "observe --lat LAT --lon LON [flags]",
		Short: "Record an observation at a place, with tags and attachments",
		Long: `Record an observation in this device's signed log: a point (--lat/--lon,
optional --alt and --accuracy in metres) or any GeoJSON geometry
(--geometry FILE), tags (--tag KEY=VALUE, repeatable; true/false become
booleans and plain numbers numbers), notes, and files (--attach FILE,
repeatable; stored in this device's media core). Everything is checked
before anything is written. Prints the new observation's id.`,
		Example: `  fieldsync observe --lat -3.4653 --lon -62.2159 --tag category=illegal-logging --notes "Fresh stumps" --attach stump.jpg
  fieldsync observe --geometry clearing.geojson --tag category=deforestation --json`,
		Args: nArgs(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := openProject(cmd, g)
			if err != nil {
				return err
			}
			var geom geo.Geometry
			switch {
			case geomFile != "":
				if cmd.Flags().Changed("lat") || cmd.Flags().Changed("lon") {
					return usageErr("give either --geometry or --lat/--lon, not both")
				}
				if geom, err = readGeometry(geomFile); err != nil {
					return err
				}
			case cmd.Flags().Changed("lat") && cmd.Flags().Changed("lon"):
				var a *float64
				if cmd.Flags().Changed("alt") {
					a = &alt
				}
				if geom, err = geo.NewPoint(lon, lat, a); err != nil {
					return usageErr("%v", err)
				}
			default:
				return usageErr("where was it? give --lat and --lon, or --geometry FILE")
			}
			o := &record.Observation{Geometry: &geom, Tags: map[string]record.Tag{}}
			if cmd.Flags().Changed("accuracy") {
				o.Accuracy = &accuracy
			}
			for _, t := range tags {
				k, v, err := parseTag(t)
				if err != nil {
					return err
				}
				o.Tags[k] = v
			}
			if notes != "" {
				o.Tags["notes"] = record.String(notes)
			}
			files, err := readAttachments(attach)
			if err != nil {
				return err
			}
			v, err := p.Observe(cmd.Context(), o, files)
			if errors.Is(err, record.ErrInvalid) {
				return usageErr("%v", err)
			}
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(g.stdout, map[string]string{"id": o.ID, "version": string(v)})
			}
			_, err = fmt.Fprintln(g.stdout, o.ID)
			return err
		},
	}
	f := c.Flags()
	f.Float64Var(&lat, "lat", 0, "latitude, degrees (WGS84)")
	f.Float64Var(&lon, "lon", 0, "longitude, degrees (WGS84)")
	f.Float64Var(&alt, "alt", 0, "altitude, metres")
	f.Float64Var(&accuracy, "accuracy", 0, "horizontal accuracy, metres")
	f.StringVar(&geomFile, "geometry", "", "a GeoJSON geometry file instead of --lat/--lon")
	f.StringArrayVar(&tags, "tag", nil, "KEY=VALUE (repeatable)")
	f.StringVar(&notes, "notes", "", "free text (the notes tag)")
	f.StringArrayVar(&attach, "attach", nil, "a file to attach (repeatable)")
	f.BoolVar(&asJSON, "json", false, `print {"id", "version"}`)
	durabilityFlag(c, &g.durability)
	return c
}

// showReport is the JSON of `fieldsync show`.
type showReport struct {
	ID       string          `json:"id"`
	Current  versionReport   `json:"current"`
	Forked   bool            `json:"forked"`
	Heads    []string        `json:"heads"`
	Versions []versionReport `json:"versions,omitempty"` // with --history
}

type versionReport struct {
	Version string              `json:"version"`
	Author  string              `json:"author"` // the device name its core's device record gives
	Record  *record.Observation `json:"record"`
}

func newShowCmd(g *globals) *cobra.Command {
	var history, asJSON bool
	c := &cobra.Command{
		Use:   "show ID",
		Short: "Show an observation: its current version, forks and history",
		Example: `  fieldsync show 3f1c9a0b2d4e5f60718293a4
  fieldsync show 3f1c9a0b2d4e5f60718293a4 --history --json`,
		Args: nArgs(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := openProject(cmd, g)
			if err != nil {
				return err
			}
			h, err := p.History(args[0])
			if errors.Is(err, project.ErrNotFound) {
				return usageErr("%v", err)
			}
			if err != nil {
				return err
			}
			authors := map[string]string{}
			author := func(v record.VersionID) string {
				key, _, _ := v.Parse()
				k := hex.EncodeToString(key[:])
				if a, ok := authors[k]; ok {
					return a
				}
				authors[k] = p.Author(key)
				return authors[k]
			}
			rep := showReport{ID: h.ID, Forked: h.Forked(), Current: versionReport{Version: string(h.Current.ID), Author: author(h.Current.ID), Record: h.Current.Obs}}
			for _, hd := range h.Heads {
				rep.Heads = append(rep.Heads, string(hd.ID))
			}
			if history {
				for _, v := range h.Versions {
					rep.Versions = append(rep.Versions, versionReport{Version: string(v.ID), Author: author(v.ID), Record: v.Obs})
				}
			}
			if asJSON {
				return writeJSON(g.stdout, rep)
			}
			b, _ := h.Current.Obs.Encode()
			fmt.Fprintf(g.stdout, "%s (version %s by %s)\n%s\n", h.ID, short(h.Current.ID), rep.Current.Author, b)
			if h.Forked() {
				fmt.Fprintf(g.stdout, "forked: %d concurrent versions; shown: the latest updated (%s)\n", len(h.Heads), h.Current.Obs.Updated)
			}
			if history {
				for _, v := range rep.Versions {
					fmt.Fprintf(g.stdout, "  %s  %s  by %s%s\n", v.Record.Updated, short(record.VersionID(v.Version)), v.Author, map[bool]string{true: "  (deleted)"}[v.Record.Deleted])
				}
			}
			return nil
		},
	}
	c.Flags().BoolVar(&history, "history", false, "list every version with its author")
	c.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	return c
}

func short(v record.VersionID) string {
	s := string(v)
	if k, i, ok := strings.Cut(s, "@"); ok && len(k) > 12 {
		return k[:12] + "…@" + i
	}
	return s
}

func newMediaCmd(g *globals) *cobra.Command {
	c := groupCmd(&cobra.Command{Use: "media", Short: "Attachments of observations"})
	var out string
	get := &cobra.Command{
		Use:   "get ID NAME -o FILE",
		Short: "Write an attachment's bytes to FILE, checked against its SHA-256",
		Long: `Write attachment NAME of observation ID to FILE ("-": standard output).
The bytes are checked against the SHA-256 the observation records before
anything is written; a missing or damaged attachment is an error and FILE
is left untouched.`,
		Example: `  fieldsync media get 3f1c9a0b2d4e5f60718293a4 stump.jpg -o stump.jpg`,
		Args:    nArgs(2, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usageErr("-o FILE is required (- for standard output)")
			}
			p, err := openProject(cmd, g)
			if err != nil {
				return err
			}
			var buf bytes.Buffer
			if _, err := p.Attachment(args[0], args[1], &buf); err != nil {
				if errors.Is(err, project.ErrNotFound) {
					return usageErr("%v", err)
				}
				return err
			}
			if out == "-" {
				_, err = g.stdout.Write(buf.Bytes())
				return err
			}
			return atomicfile.WriteFile(out, buf.Bytes(), 0o644)
		},
	}
	get.Flags().StringVarP(&out, "output", "o", "", "file to write (- for standard output)")
	c.AddCommand(get)
	return c
}

// readGeometry reads a --geometry file: a GeoJSON geometry.
func readGeometry(path string) (geo.Geometry, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return geo.Geometry{}, usageErr("--geometry: %v", err)
	}
	g, err := geo.Parse(b)
	if err != nil {
		return geo.Geometry{}, usageErr("--geometry %s: %v", path, err)
	}
	return g, nil
}
