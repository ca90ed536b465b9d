package index

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/geo"
	"github.com/fieldsync/fieldsync/hypercore"
	"github.com/fieldsync/fieldsync/observations/query"
	"github.com/fieldsync/fieldsync/observations/record"
	"github.com/paulmach/orb"
)

// BenchmarkQuery: 100,000 points ($FIELDSYNC_BENCH_N overrides: the
// bench/observations.sh script runs 1,000,000) spread over the world; each
// query selects about 100 of them (a box, a circle, a polygon). Baselines: the
// same query testing every row of the table (scan-table: what the index
// saves), and testing records already decoded in memory (scan-memory: a
// lower bound no store reaches). Reports p50/p99 per query kind.
func BenchmarkQuery(b *testing.B) {
	n := benchN(100000)
	dir := b.TempDir()
	c, err := hypercore.Create(filepath.Join(dir, "c"), hypercore.CreateOptions{Durability: hypercore.DurabilityOS})
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	var blocks [][]byte
	var records []*record.Observation
	for i := range n {
		g, _ := geo.NewPoint(rng.Float64()*360-180, rng.Float64()*170-85, nil)
		o := record.Observation{Type: "observation", Schema: 1, ID: fmt.Sprintf("o%06d", i), Created: "2026-03-01T00:00:00Z", Updated: "2026-03-01T00:00:00Z", Geometry: &g}
		blk, _ := o.Encode()
		blocks = append(blocks, blk)
		records = append(records, &o)
	}
	if _, err := c.Append(blocks...); err != nil {
		b.Fatal(err)
	}
	key := c.Key()
	c.Close()
	x, err := Open(filepath.Join(dir, "index.gpkg"))
	if err != nil {
		b.Fatal(err)
	}
	defer x.Close()
	t0 := time.Now()
	if _, err := x.Update(context.Background(), map[[32]byte]string{key: filepath.Join(dir, "c")}); err != nil {
		b.Fatal(err)
	}
	b.Logf("indexed %d observations in %v (%.0f/s)", n, time.Since(t0).Round(time.Millisecond), float64(n)/time.Since(t0).Seconds())
	// ~100 points: an area of 100/n of the 360×170 degrees (a square of
	// 7.8° at 100,000), a circle and a triangle of about that area.
	scale := math.Sqrt(100000 / float64(n))
	side := 7.8 * scale
	kinds := map[string]func() *query.Filter{
		"bbox": func() *query.Filter {
			w, s := rng.Float64()*(360-side)-180, rng.Float64()*(170-side)-85
			return &query.Filter{BBox: &geo.BBox{W: w, S: s, E: w + side, N: s + side}}
		},
		"radius": func() *query.Filter {
			return &query.Filter{Near: &geo.Circle{Center: orb.Point{rng.Float64()*300 - 150, rng.Float64()*100 - 50}, Radius: 480000 * scale}}
		},
		"polygon": func() *query.Filter {
			lon, lat := rng.Float64()*300-150, rng.Float64()*100-50
			g, _ := geo.Parse([]byte(fmt.Sprintf(`{"type":"Polygon","coordinates":[[[%v,%v],[%v,%v],[%v,%v],[%v,%v]]]}`, lon, lat, lon+11*scale, lat, lon+5.5*scale, lat+11*scale, lon, lat)))
			a, _ := geo.NewArea(g)
			return &query.Filter{Within: &a}
		},
	}
	for _, name := range []string{"bbox", "radius", "polygon"} {
		b.Run(name+"/index", func(b *testing.B) {
			var lat []time.Duration
			found := 0
			for i := 0; i < b.N; i++ {
				f := kinds[name]()
				t := time.Now()
				items, err := x.Query(f, 0)
				lat = append(lat, time.Since(t))
				if err != nil {
					b.Fatal(err)
				}
				found += len(items)
			}
			report(b, lat, found)
		})
		b.Run(name+"/scan-table", func(b *testing.B) {
			var lat []time.Duration
			found := 0
			for i := 0; i < b.N; i++ {
				f := kinds[name]()
				t := time.Now()
				items, err := x.query(f, 0, false)
				lat = append(lat, time.Since(t))
				if err != nil {
					b.Fatal(err)
				}
				found += len(items)
			}
			report(b, lat, found)
		})
		b.Run(name+"/scan-memory", func(b *testing.B) {
			var lat []time.Duration
			found := 0
			for i := 0; i < b.N; i++ {
				f := kinds[name]()
				t := time.Now()
				for _, o := range records {
					if f.Match(o) {
						found++
					}
				}
				lat = append(lat, time.Since(t))
			}
			report(b, lat, found)
		})
	}
}

// benchN is $FIELDSYNC_BENCH_N, else def.
func benchN(def int) int {
	if n, err := strconv.Atoi(os.Getenv("FIELDSYNC_BENCH_N")); err == nil && n > 0 {
		return n
	}
	return def
}

func report(b *testing.B, lat []time.Duration, found int) {
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(found)/float64(len(lat)), "found/op")
}
