package index

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/fieldsync/fieldsync/geo"
	"github.com/fieldsync/fieldsync/hypercore"
	"github.com/fieldsync/fieldsync/observations/query"
	"github.com/fieldsync/fieldsync/observations/record"
)

// BenchmarkList10000: every observation of 10,000, as `list --format
// json` gets them (query + JSON encoding). CoMapeo core's getMany() of
// 10,000 is the comparison (shared/bench-comapeo).
func BenchmarkList10000(b *testing.B) {
	dir := b.TempDir()
	c, err := hypercore.Create(filepath.Join(dir, "c"), hypercore.CreateOptions{Durability: hypercore.DurabilityOS})
	if err != nil {
		b.Fatal(err)
	}
	var blocks [][]byte
	for i := range 10000 {
		g, _ := geo.NewPoint(float64(i%360)-180, float64(i%170)-85, nil)
		o := record.Observation{Type: "observation", Schema: 1, ID: fmt.Sprintf("o%05d", i), Created: "2026-03-01T00:00:00Z", Updated: "2026-03-01T00:00:00Z", Geometry: &g,
			Tags: map[string]record.Tag{"category": record.String("mining"), "notes": record.String("a note"), "people": record.Number(3), "confirmed": record.Bool(true)}}
		blk, _ := o.Encode()
		blocks = append(blocks, blk)
	}
	c.Append(blocks...)
	key := c.Key()
	c.Close()
	x, err := Open(filepath.Join(dir, "index.gpkg"))
	if err != nil {
		b.Fatal(err)
	}
	defer x.Close()
	if _, err := x.Update(context.Background(), map[[32]byte]string{key: filepath.Join(dir, "c")}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		items, err := x.Query(&query.Filter{}, 0)
		if err != nil || len(items) != 10000 {
			b.Fatal(err)
		}
		// As list --format json writes them.
		var buf bytes.Buffer
		if err := WriteJSON(&buf, items); err != nil {
			b.Fatal(err)
		}
	}
}
