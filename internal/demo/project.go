package demo

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"

	"github.com/fieldsync/fieldsync/fixtures"
	"github.com/fieldsync/fieldsync/geo"
	"github.com/fieldsync/fieldsync/observations"
	"github.com/fieldsync/fieldsync/observations/project"
	"github.com/fieldsync/fieldsync/observations/query"
	"github.com/fieldsync/fieldsync/observations/record"
	"github.com/paulmach/orb"
)

// demoProject runs the daily job of a monitoring team on the river-basin
// fixtures: a project, an import, an observation with photos, queries.
func demoProject(ctx context.Context, out io.Writer, dir string) error {
	p, err := observations.Create(ctx, filepath.Join(dir, "home"), "rio-negro", "Maria's laptop")
	if err != nil {
		return err
	}
	obs, err := project.ParseFeatures(bytes.NewReader(fixtures.RiverBasin()), "recorded")
	if err != nil {
		return fmt.Errorf("demo: fixtures: %w", err)
	}
	if err := p.Project.Import(obs, p.Durability, nil); err != nil {
		return err
	}
	fmt.Fprintf(out, "8. project %q: imported %d observations recorded along the Rio Negro (one signed batch)\n", p.Name, len(obs))

	g, _ := geo.NewPoint(-62.9631, -0.8012, nil)
	o := &record.Observation{Geometry: &g,
		Tags: map[string]record.Tag{"category": record.String("mining"), "notes": record.String("New dredge, photographed from the canoe")}}
	var files []project.File
	photos := fixtures.Photos()
	names := make([]string, 0, len(photos))
	for n := range photos {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		files = append(files, project.File{Name: n, Data: photos[n]})
	}
	if _, err := p.Observe(ctx, o, files); err != nil {
		return err
	}
	var back bytes.Buffer
	if _, err := p.Attachment(o.ID, names[0], &back); err != nil || !bytes.Equal(back.Bytes(), photos[names[0]]) {
		return fmt.Errorf("demo: attachment did not come back: %v", err)
	}
	fmt.Fprintf(out, "9. recorded a new mining observation with %d photos (media core, checked by SHA-256 on the way back)\n", len(files))

	x, err := p.OpenIndex(ctx)
	if err != nil {
		return err
	}
	defer x.Close()
	since, _ := query.ParseTime("2026-06-01")
	area, _ := geo.Parse([]byte(`{"type":"Polygon","coordinates":[[[-62.1,-1.9],[-61.2,-1.9],[-61.2,-2.5],[-62.1,-2.5],[-62.1,-1.9]]]}`))
	territory, _ := geo.NewArea(area)
	for _, q := range []struct {
		what string
		f    query.Filter
	}{
		{"within 5 km of the new dredge", query.Filter{Near: &geo.Circle{Center: orb.Point{-62.9631, -0.8012}, Radius: 5000}}},
		{"mining inside the claimed territory", query.Filter{Within: &territory, Tags: map[string]record.Tag{"category": record.String("mining")}}},
		{"fires recorded since June", query.Filter{Since: since, Tags: map[string]record.Tag{"category": record.String("fire")}}},
	} {
		items, err := x.Query(&q.f, 0)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "   query %-38s %3d observation(s)\n", q.what+":", len(items))
	}
	fmt.Fprintf(out, "10. the index is a GeoPackage: open %s in QGIS or `ogrinfo`\n", filepath.Base(p.IndexPath()))
	return nil
}
