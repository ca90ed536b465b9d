package main

import (
	"encoding/csv"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/fieldsync/fieldsync/geo"
	"github.com/fieldsync/fieldsync/observations/index"
	"github.com/fieldsync/fieldsync/observations/query"
	"github.com/fieldsync/fieldsync/observations/record"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkt"
	"github.com/spf13/cobra"
)

// rawListItem is one observation in `list --format json`.

// listItem is a listed observation, decoded (and what scripts reading
// `list --format json` get).
type listItem struct {
	Version string              `json:"version"`
	Forked  bool                `json:"forked"`
	Record  *record.Observation `json:"record"`
}

func newListCmd(g *globals) *cobra.Command {
	var ff filterFlags
	var format string
	var limit int
	c := &cobra.Command{
		Use:   "list [filters]",
		Short: "List observations, filtered by place, time and tags",
		Long: `List the current version of every observation that passes all the
filters: --bbox W,S,E,N (W > E crosses the antimeridian), --near LAT,LON
with --radius (500m, 2km), --within FILE.geojson (a Polygon or
MultiPolygon; holes excluded), --since/--until (a date or an RFC 3339
time; created at or after / before), --tag KEY=VALUE (repeatable, all
must match), --deleted (include deleted ones), --limit. A point must lie
in the place; a line or polygon matches a box or circle when any vertex
does, an area when every vertex does. --format: table, json, geojson (one
RFC 7946 FeatureCollection) or csv.`,
		Example: `  fieldsync list --near -3.46,-62.21 --radius 2km --since 2026-03-01
  fieldsync list --within territory.geojson --tag category=mining --format geojson > mining.geojson`,
		Args: nArgs(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := ff.filter()
			if err != nil {
				return err
			}
			switch format {
			case "table", "json", "geojson", "csv":
			default:
				return usageErr("--format must be table, json, geojson or csv, not %q", format)
			}
			if limit < 0 {
				return usageErr("--limit must be positive")
			}
			p, err := openProject(cmd, g)
			if err != nil {
				return err
			}
			x, err := p.OpenIndex(cmd.Context())
			if err != nil {
				return err
			}
			defer x.Close()
			found, err := x.Query(f, limit)
			if err != nil {
				return err
			}
			if format == "json" {
				return index.WriteJSON(g.stdout, found)
			}
			items := make([]listItem, 0, len(found))
			for i := range found {
				o, err := found[i].Observation()
				if err != nil {
					return err
				}
				items = append(items, listItem{Version: found[i].Version, Forked: found[i].Forked, Record: o})
			}
			return printList(g, items, format)
		},
	}
	ff.add(c)
	fl := c.Flags()
	fl.IntVar(&limit, "limit", 0, "at most this many (0: all)")
	fl.StringVar(&format, "format", "table", "table, json, geojson or csv")
	return c
}

func buildFilter(bbox, near, radius, within, since, until string, tags []string, deleted bool) (*query.Filter, error) {
	f := &query.Filter{Deleted: deleted}
	if bbox != "" {
		b, err := geo.ParseBBox(bbox)
		if err != nil {
			return nil, usageErr("--bbox: %v", err)
		}
		f.BBox = &b
	}
	if (near == "") != (radius == "") {
		return nil, usageErr("--near and --radius go together")
	}
	if near != "" {
		c, err := geo.ParseLatLon(near)
		if err != nil {
			return nil, usageErr("--near: %v", err)
		}
		r, err := geo.ParseDistance(radius)
		if err != nil {
			return nil, usageErr("--radius: %v", err)
		}
		f.Near = &geo.Circle{Center: c, Radius: r}
	}
	if within != "" {
		a, err := readArea(within)
		if err != nil {
			return nil, usageErr("--within %s: %v", within, err)
		}
		f.Within = &a
	}
	var err error
	if since != "" {
		if f.Since, err = query.ParseTime(since); err != nil {
			return nil, usageErr("--since: %v", err)
		}
	}
	if until != "" {
		if f.Until, err = query.ParseTime(until); err != nil {
			return nil, usageErr("--until: %v", err)
		}
	}
	if len(tags) > 0 {
		f.Tags = map[string]record.Tag{}
		for _, t := range tags {
			k, v, err := parseTag(t)
			if err != nil {
				return nil, err
			}
			f.Tags[k] = v
		}
	}
	return f, nil
}

// readArea reads a --within file (see geo.ParseArea).
func readArea(path string) (geo.Area, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return geo.Area{}, err
	}
	return geo.ParseArea(b)
}

func printList(g *globals, items []listItem, format string) error {
	switch format {
	case "json":
		if items == nil {
			items = []listItem{}
		}
		return writeJSON(g.stdout, items)
	case "geojson":
		type feature struct {
			Type       string                `json:"type"`
			ID         string                `json:"id"`
			Geometry   *geo.Geometry         `json:"geometry"`
			Properties map[string]record.Tag `json:"properties"`
			Fieldsync  map[string]any        `json:"fieldsync"`
		}
		fc := struct {
			Type     string    `json:"type"`
			Features []feature `json:"features"`
		}{Type: "FeatureCollection", Features: []feature{}}
		for _, it := range items {
			r := it.Record
			props := r.Tags
			if props == nil {
				props = map[string]record.Tag{}
			}
			fc.Features = append(fc.Features, feature{Type: "Feature", ID: r.ID, Geometry: r.Geometry, Properties: props,
				Fieldsync: map[string]any{"version": it.Version, "created": r.Created, "updated": r.Updated, "deleted": r.Deleted, "forked": it.Forked, "attachments": r.Attachments}})
		}
		return writeJSON(g.stdout, fc)
	case "csv":
		keys := map[string]bool{}
		for _, it := range items {
			for k := range it.Record.Tags {
				keys[k] = true
			}
		}
		tagCols := make([]string, 0, len(keys))
		for k := range keys {
			tagCols = append(tagCols, k)
		}
		slices.Sort(tagCols)
		w := csv.NewWriter(g.stdout)
		w.Write(append([]string{"id", "created", "updated", "lat", "lon", "wkt"}, tagCols...))
		for _, it := range items {
			r := it.Record
			lat, lon, shape := "", "", ""
			if r.Geometry != nil {
				if p, ok := r.Geometry.Orb().(orb.Point); ok {
					lat, lon = fmt.Sprint(p[1]), fmt.Sprint(p[0])
				} else {
					shape = wkt.MarshalString(r.Geometry.Orb())
				}
			}
			row := []string{r.ID, r.Created, r.Updated, lat, lon, shape}
			for _, k := range tagCols {
				v := ""
				if t, ok := r.Tags[k]; ok {
					if s, isStr := t.Value().(string); isStr {
						v = s
					} else {
						b, _ := t.MarshalJSON()
						v = string(b)
					}
				}
				row = append(row, v)
			}
			w.Write(row)
		}
		w.Flush()
		return w.Error()
	}
	tw := newTable(g.stdout)
	for _, it := range items {
		r := it.Record
		where := ""
		if r.Geometry != nil {
			if p, ok := r.Geometry.Orb().(orb.Point); ok {
				where = fmt.Sprintf("%.5f,%.5f", p[1], p[0])
			} else {
				where = r.Geometry.Type()
			}
		}
		var ts []string
		for k, v := range r.Tags {
			b, _ := v.MarshalJSON()
			ts = append(ts, k+"="+strings.Trim(string(b), `"`))
		}
		slices.Sort(ts)
		flags := ""
		if it.Forked {
			flags = " (forked)"
		}
		if r.Deleted {
			flags += " (deleted)"
		}
		tw.row(r.ID+flags, r.Created+"  "+where+"  "+strings.Join(ts, " "))
	}
	if len(items) == 0 {
		fmt.Fprintln(g.stderr, "no observation matches")
	}
	return tw.flush()
}

func newReindexCmd(g *globals) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "reindex",
		Short: "Rebuild the project's index (index.gpkg) from its cores",
		Long: `Delete the project's index and rebuild it from the cores, which are the
only source of truth. Queries give the same results after as before.`,
		Example: "  fieldsync reindex",
		Args:    nArgs(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := openProject(cmd, g)
			if err != nil {
				return err
			}
			blocks, c, err := p.Reindex(cmd.Context())
			if err != nil {
				return err
			}
			cur, del, forked, versions := c.Current, c.Deleted, c.Forked, c.Versions
			if asJSON {
				return writeJSON(g.stdout, map[string]any{"blocks": blocks, "versions": versions, "observations": cur, "deleted": del, "forked": forked})
			}
			_, err = fmt.Fprintf(g.stdout, "reindexed %d blocks: %d observations (%d deleted, %d forked), %d versions\n", blocks, cur, del, forked, versions)
			return err
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the counts as JSON")
	return c
}
