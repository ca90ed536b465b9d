package replicate

import (
	"crypto/rand"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/hypercore"
)

// BenchmarkReplicate downloads a whole core over loopback TCP (Noise,
// protomux, hypercore/alpha), both peers in this process. One op = one
// complete download of count blocks into a new replica (DurabilityOS, the
// durability of the JS reference). bench/replicate.sh compares the CLI
// processes with the JS reference in the same run.
func BenchmarkReplicate(b *testing.B) {
	for _, tc := range []struct {
		count, size int
	}{{100000, 1024}, {10000, 64 << 10}} {
		b.Run(fmt.Sprintf("%dx%dKiB", tc.count, tc.size>>10), func(b *testing.B) {
			src, err := hypercore.Create(filepath.Join(b.TempDir(), "w"), hypercore.CreateOptions{Durability: hypercore.DurabilityOS})
			if err != nil {
				b.Fatal(err)
			}
			defer src.Close()
			batch := make([][]byte, 0, 1000)
			for i := range tc.count {
				blk := make([]byte, tc.size)
				rand.Read(blk)
				batch = append(batch, blk)
				if len(batch) == cap(batch) || i == tc.count-1 {
					if _, err := src.Append(batch...); err != nil {
						b.Fatal(err)
					}
					batch = batch[:0]
				}
			}
			b.SetBytes(int64(tc.count * tc.size))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				dir := filepath.Join(b.TempDir(), "r")
				start := time.Now()
				res := replicate(b, src, nil, dir, CoreConfig{})
				if res.errDown != nil || res.down.Err() != nil {
					b.Fatal(res.errDown, res.down.Err())
				}
				b.ReportMetric(float64(tc.count)/time.Since(start).Seconds(), "blocks/s")
				res.down.Core().Close()
			}
		})
	}
}
