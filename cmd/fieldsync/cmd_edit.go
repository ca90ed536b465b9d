package main

import (
	"errors"
	"fmt"

	"github.com/fieldsync/fieldsync/geo"
	"github.com/fieldsync/fieldsync/observations/project"
	"github.com/fieldsync/fieldsync/observations/record"
	"github.com/spf13/cobra"
)

// editErr maps the project's errors to exit codes.
func editErr(err error) error {
	if errors.Is(err, project.ErrNotFound) || errors.Is(err, record.ErrInvalid) || errors.Is(err, geo.ErrInvalid) {
		return &exitError{code: exitUsage, err: err}
	}
	return err
}

func newEditCmd(g *globals) *cobra.Command {
	var lat, lon float64
	var geomFile, notes string
	var tags, untags, attach []string
	c := &cobra.Command{
		Use:   "edit ID [flags]",
		Short: "Record a new version of an observation",
		Long: `Record a new version of observation ID: move it (--lat/--lon or
--geometry), set or remove tags, change the notes, add attachments. The
old versions stay in the log; the new one supersedes every current head,
so an edit also settles a fork.`,
		Example: `  fieldsync edit 3f1c9a0b2d4e5f60718293a4 --tag category=mining --untag draft
  fieldsync edit 3f1c9a0b2d4e5f60718293a4 --lat -3.4655 --lon -62.2160`,
		Args: nArgs(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := openProject(cmd, g)
			if err != nil {
				return err
			}
			var geom *geo.Geometry
			switch {
			case geomFile != "":
				gg, err := readGeometry(geomFile)
				if err != nil {
					return err
				}
				geom = &gg
			case cmd.Flags().Changed("lat") != cmd.Flags().Changed("lon"):
				return usageErr("give both --lat and --lon")
			case cmd.Flags().Changed("lat"):
				gg, err := geo.NewPoint(lon, lat, nil)
				if err != nil {
					return usageErr("%v", err)
				}
				geom = &gg
			}
			set := map[string]record.Tag{}
			for _, t := range tags {
				k, v, err := parseTag(t)
				if err != nil {
					return err
				}
				set[k] = v
			}
			if cmd.Flags().Changed("notes") {
				set["notes"] = record.String(notes)
			}
			files, err := readAttachments(attach)
			if err != nil {
				return err
			}
			if geom == nil && len(set) == 0 && len(untags) == 0 && len(files) == 0 {
				return usageErr("nothing to change: give --lat/--lon, --geometry, --tag, --untag, --notes or --attach")
			}
			v, err := p.Edit(cmd.Context(), args[0], func(o *record.Observation) error {
				if geom != nil {
					o.Geometry = geom
				}
				for _, k := range untags {
					if _, ok := o.Tags[k]; !ok {
						return usageErr("--untag %s: the observation has no such tag", k)
					}
					delete(o.Tags, k)
				}
				for k, v := range set {
					o.Tags[k] = v
				}
				return nil
			}, files)
			if err != nil {
				return editErr(err)
			}
			_, err = fmt.Fprintln(g.stdout, v)
			return err
		},
	}
	f := c.Flags()
	f.Float64Var(&lat, "lat", 0, "new latitude")
	f.Float64Var(&lon, "lon", 0, "new longitude")
	f.StringVar(&geomFile, "geometry", "", "new GeoJSON geometry file")
	f.StringArrayVar(&tags, "tag", nil, "KEY=VALUE to set (repeatable)")
	f.StringArrayVar(&untags, "untag", nil, "KEY to remove (repeatable)")
	f.StringVar(&notes, "notes", "", "new notes")
	f.StringArrayVar(&attach, "attach", nil, "a file to attach (repeatable)")
	durabilityFlag(c, &g.durability)
	return c
}

func newDeleteCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "delete ID",
		Short: "Delete an observation (a signed tombstone; the history stays)",
		Long: `Delete observation ID: a tombstone version is appended. Lists no longer
show it (unless --deleted); its earlier versions stay in the signed log
and in "fieldsync show ID --history".`,
		Example: `  fieldsync delete 3f1c9a0b2d4e5f60718293a4`,
		Args:    nArgs(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := openProject(cmd, g)
			if err != nil {
				return err
			}
			v, err := p.Delete(cmd.Context(), args[0])
			if err != nil {
				return editErr(err)
			}
			_, err = fmt.Fprintln(g.stdout, v)
			return err
		},
	}
	durabilityFlag(c, &g.durability)
	return c
}
