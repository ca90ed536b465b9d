package web

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"

	"github.com/fieldsync/fieldsync/export"
	"github.com/fieldsync/fieldsync/hypercore"
	"github.com/fieldsync/fieldsync/observations"
	"github.com/fieldsync/fieldsync/observations/index"
	"github.com/fieldsync/fieldsync/observations/project"
	"github.com/fieldsync/fieldsync/observations/query"
)

// benchServer is a project of n generated points (FIELDSYNC_BENCH_N,
// default 20,000) with its index, served.
func benchServer(b *testing.B) (*Server, *index.Index, int) {
	b.Helper()
	n := 20000
	if s := os.Getenv("FIELDSYNC_BENCH_N"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	h, err := project.OpenHome(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	p, err := h.Create("bench", "base")
	if err != nil {
		b.Fatal(err)
	}
	var in bytes.Buffer
	cats := []string{"mining", "illegal-logging", "fire", "river-pollution", "wildlife"}
	for i := range n {
		fmt.Fprintf(&in, `{"type":"Feature","geometry":{"type":"Point","coordinates":[%.6f,%.6f]},"properties":{"category":%q,"notes":"observation %d"}}`+"\n",
			-63+float64(i*7919%3200)/1000, -3.6+float64(i*104729%3000)/1000, cats[i%5], i)
	}
	if _, err := p.ImportFeatures(context.Background(), &in, "", hypercore.DurabilityOS, nil); err != nil {
		b.Fatal(err)
	}
	x, err := index.Open(p.IndexPath())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { x.Close() })
	dirs, _ := p.CoreDirs()
	if _, err := x.Update(context.Background(), dirs); err != nil {
		b.Fatal(err)
	}
	s, err := New(Config{Project: &observations.Project{Project: p, Home: h}, Index: x})
	if err != nil {
		b.Fatal(err)
	}
	return s, x, n
}

type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

// BenchmarkObservations: the whole set as GeoJSON (stream), clustered
// for the first view (zoom 5), and the anchor: export's GeoJSON writer
// over the same index, as `fieldsync export geojson` does.
func BenchmarkObservations(b *testing.B) {
	s, x, n := benchServer(b)
	for _, c := range []struct{ name, url string }{
		{"stream", "/api/observations.geojson"},
		{"clustered-z5", "/api/observations.geojson?zoom=5"},
		{"clustered-filtered-z5", "/api/observations.geojson?zoom=5&tag=category=fire"},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				req := httptest.NewRequest("GET", c.url, nil)
				s.ServeHTTP(&discard{h: http.Header{}}, req)
			}
			b.ReportMetric(float64(n), "observations")
		})
	}
	b.Run("anchor-export-geojson", func(b *testing.B) {
		for b.Loop() {
			gw := export.NewGeoJSON(io.Discard)
			x.Each(&query.Filter{}, func(it *index.Item) error {
				o, err := it.Observation()
				if err != nil {
					return err
				}
				return gw.Write(exportRecord(it, o))
			})
			gw.Close()
		}
		b.ReportMetric(float64(n), "observations")
	})
}
