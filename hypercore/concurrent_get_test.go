package hypercore

import (
	"bytes"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
)

// Gets running while the same Core appends must never report corruption:
// each proves its block against the head it started from.
func TestGetWhileAppending(t *testing.T) {
	c, err := Create(filepath.Join(t.TempDir(), "core"), CreateOptions{Durability: DurabilityOS})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	block := func(i uint64) []byte { return []byte(fmt.Sprintf("block %d", i)) }
	if _, err := c.Append(block(0)); err != nil {
		t.Fatal(err)
	}
	const n = 3000
	var wg sync.WaitGroup
	errc := make(chan error, 1)
	wg.Go(func() {
		for i := uint64(1); i < n; i++ {
			if _, err := c.Append(block(i)); err != nil {
				errc <- err
				return
			}
		}
	})
	for r := 0; r < 2; r++ {
		wg.Go(func() {
			for k := 0; k < 20000; k++ {
				l := c.Length()
				i := uint64(k*7919+r) % l
				got, err := c.Get(i)
				if err != nil {
					select {
					case errc <- fmt.Errorf("get %d of %d: %w", i, l, err):
					default:
					}
					return
				}
				if !bytes.Equal(got, block(i)) {
					select {
					case errc <- fmt.Errorf("get %d = %q", i, got):
					default:
					}
					return
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}
