package hypercore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync/atomic"
	"testing"
)

// Benchmarks of the on-disk core. The cases mirror the JS reference
// benchmarks (shared/bench-js, copied in bench/js): bench/hypercore.sh runs
// both side by side with the same N, sizes and timed regions. These go test
// benchmarks are the quick, per-operation view of the same code paths:
//
//	go test -run '^$' -bench . -benchtime 1x ./hypercore/   (smoke, < 60 s)
//	go test -run '^$' -bench 'Append/1KiB' ./hypercore/
//
// Block payloads are random (incompressible) and prepared before the timer
// starts. MB/s in the output is 10^6 bytes per second.

const (
	benchReadCount  = 100_000 // blocks of the prepared core for OpenAndReadAll / Verify
	benchReadSize   = 1024
	benchPrepBatch  = 100
	benchPoolBlocks = 16_000 // distinct 1 KiB blocks (a multiple of every batch size); 64 KiB use 200
)

// benchPool returns n distinct random blocks of size bytes, slices of one
// buffer.
func benchPool(n, size int) [][]byte {
	buf := make([]byte, n*size)
	rand.NewChaCha8([32]byte{'h', 'c', 'b', 'e', 'n', 'c', 'h'}).Read(buf)
	out := make([][]byte, n)
	for i := range out {
		out[i] = buf[i*size : (i+1)*size : (i+1)*size]
	}
	return out
}

// BenchmarkAppend: one op is one Append call, of one block (single) or of
// 100 blocks (batch100, one signed batch). os = DurabilityOS (the JS reference's
// durability), fsync = DurabilityFsync.
func BenchmarkAppend(b *testing.B) {
	for _, size := range []int{1 << 10, 64 << 10} {
		poolN := benchPoolBlocks
		if size > 1<<10 {
			poolN = 200
		}
		var pool [][]byte // built on first use, shared by the sub-benchmarks
		for _, batch := range []int{1, 100} {
			for _, dur := range []Durability{DurabilityOS, DurabilityFsync} {
				name := fmt.Sprintf("%dKiB/single/%s", size>>10, dur)
				if batch > 1 {
					name = fmt.Sprintf("%dKiB/batch%d/%s", size>>10, batch, dur)
				}
				b.Run(name, func(b *testing.B) {
					if pool == nil {
						pool = benchPool(poolN, size)
					}
					benchAppend(b, pool, batch, dur)
				})
			}
		}
	}
}

func benchAppend(b *testing.B, pool [][]byte, batch int, dur Durability) {
	size := len(pool[0])
	// Batches are windows of the pool; the pool is a multiple of batch.
	batches := make([][][]byte, len(pool)/batch)
	for i := range batches {
		batches[i] = pool[i*batch : (i+1)*batch]
	}
	c, err := Create(filepath.Join(b.TempDir(), "core"), CreateOptions{Durability: dur})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.SetBytes(int64(size * batch))
	b.ReportAllocs()
	b.ResetTimer()
	var length uint64
	for i := 0; i < b.N; i++ {
		if length, err = c.Append(batches[i%len(batches)]...); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if want := uint64(b.N * batch); length != want || c.Length() != want {
		b.Fatalf("length %d (core says %d), want %d", length, c.Length(), want)
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "blocks/s")
}

// benchPrepare makes a core of count blocks of size bytes in dir, appended
// in batches of benchPrepBatch without fsync, and closes it.
func benchPrepare(b *testing.B, dir string, count, size int) {
	b.Helper()
	pool := benchPool(benchPoolBlocks, size)
	c, err := Create(dir, CreateOptions{Durability: DurabilityOS})
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < count; i += benchPrepBatch {
		lo := i % len(pool)
		hi := lo + min(benchPrepBatch, count-i)
		if _, err := c.Append(pool[lo:hi]...); err != nil {
			b.Fatal(err)
		}
	}
	if c.Length() != uint64(count) {
		b.Fatalf("prepared length %d, want %d", c.Length(), count)
	}
	if err := c.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkOpenAndReadAll: one op is Open of a closed core (OS page cache
// warm), Get of every block in order, and Close, as verify-cost.mjs times
// open_s + get_seq_s.
func BenchmarkOpenAndReadAll(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "core")
	benchPrepare(b, dir, benchReadCount, benchReadSize)
	b.SetBytes(benchReadCount * benchReadSize)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, err := Open(dir, OpenOptions{ReadOnly: true})
		if err != nil {
			b.Fatal(err)
		}
		if c.Length() != benchReadCount {
			b.Fatalf("length %d, want %d", c.Length(), benchReadCount)
		}
		total := 0
		for j := uint64(0); j < benchReadCount; j++ {
			blk, err := c.Get(j)
			if err != nil {
				b.Fatal(err)
			}
			total += len(blk)
		}
		c.Close()
		if total != benchReadCount*benchReadSize {
			b.Fatalf("read %d bytes, want %d", total, benchReadCount*benchReadSize)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*benchReadCount)/b.Elapsed().Seconds(), "blocks/s")
}

// BenchmarkVerify: one op is a full Verify (re-hash of every block and
// tree node, signature check) of an open core of 100,000 × 1 KiB blocks,
// the counterpart of verify-cost.mjs's core.core.audit().
func BenchmarkVerify(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "core")
	benchPrepare(b, dir, benchReadCount, benchReadSize)
	c, err := Open(dir, OpenOptions{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	b.SetBytes(benchReadCount * benchReadSize)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var last atomic.Uint64 // progress is called from several goroutines
		err := c.Verify(ctx, func(done, total uint64) {
			for cur := last.Load(); done > cur && !last.CompareAndSwap(cur, done); cur = last.Load() {
			}
		})
		if err != nil {
			b.Fatal(err)
		}
		if got := last.Load(); got != benchReadCount {
			b.Fatalf("verify checked %d blocks, want %d", got, benchReadCount)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*benchReadCount)/b.Elapsed().Seconds(), "blocks/s")
}
