package hypercore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
)

// AppendStream stores batches as one signed batch: the same head as one
// Append of every block, and nothing at all when it stops before the end
// (an error between batches, as a killed process would), even after a
// reopen; the core then takes appends as before.
func TestAppendStream(t *testing.T) {
	seed := bytes.Repeat([]byte{7}, 32)
	block := func(i int) []byte { return []byte(fmt.Sprintf("block %d %s", i, bytes.Repeat([]byte{'x'}, (i+1)%50))) }
	batches := func(from, n, per int) func() ([][]byte, error) {
		i := from
		return func() ([][]byte, error) {
			var out [][]byte
			for ; i < from+n && len(out) < per; i++ {
				out = append(out, block(i))
			}
			return out, nil
		}
	}
	base := t.TempDir()
	one, err := Create(filepath.Join(base, "one"), CreateOptions{Seed: seed, Durability: DurabilityOS})
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	var all [][]byte
	for i := range 1000 {
		all = append(all, block(i))
	}
	one.Append(block(-1))
	if _, err := one.Append(all...); err != nil {
		t.Fatal(err)
	}

	dir := filepath.Join(base, "stream")
	s, err := Create(dir, CreateOptions{Seed: seed, Durability: DurabilityOS})
	if err != nil {
		t.Fatal(err)
	}
	s.Append(block(-1))
	// Stopped after 3 of 10 batches: nothing visible, before or after a reopen.
	stop := errors.New("stop")
	calls := 0
	_, err = s.AppendStream(batches(0, 1000, 100), func(n uint64) error {
		if calls++; calls == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || s.Length() != 1 {
		t.Fatalf("stopped stream: length %d, %v", s.Length(), err)
	}
	s.Close()
	if s, err = Open(dir, OpenOptions{}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Length() != 1 {
		t.Fatalf("after reopen: length %d, want 1", s.Length())
	}
	n, err := s.AppendStream(batches(0, 1000, 128), nil)
	if err != nil || n != 1001 {
		t.Fatalf("stream: %d, %v", n, err)
	}
	a, b := one.Head(), s.Head()
	if a.TreeHash != b.TreeHash || a.Length != b.Length || a.ByteLength != b.ByteLength || !bytes.Equal(a.Signature, b.Signature) {
		t.Fatalf("stream head %+v differs from one append's %+v", b, a)
	}
	if err := s.Verify(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(777); err != nil || !bytes.Equal(got, block(776)) {
		t.Fatalf("get 777 = %q, %v", got, err)
	}
	if n, err := s.Append([]byte("after")); err != nil || n != 1002 {
		t.Fatalf("append after stream: %d, %v", n, err)
	}
}
