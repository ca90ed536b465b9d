package hyperblobs

import (
	"bytes"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"

	"github.com/fieldsync/fieldsync/hypercore"
)

func newCore(t *testing.T) *hypercore.Core {
	t.Helper()
	c, err := hypercore.Create(filepath.Join(t.TempDir(), "blobs"), hypercore.CreateOptions{Durability: hypercore.DurabilityOS})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestPutGet(t *testing.T) {
	c := newCore(t)
	b := New(c, 0)
	var ids []ID
	var datas [][]byte
	for _, n := range []int{0, 1, 65535, 65536, 65537, 300000} {
		d := make([]byte, n)
		for i := range d {
			d[i] = byte(i*31 + n)
		}
		id, err := b.Put(d)
		if err != nil {
			t.Fatal(err)
		}
		ids, datas = append(ids, id), append(datas, d)
	}
	want := []ID{{0, 0, 0, 0}, {0, 0, 1, 1}, {1, 1, 1, 65535}, {65536, 2, 1, 65536}, {131072, 3, 2, 65537}, {196609, 5, 5, 300000}}
	for i, id := range ids {
		if id != want[i] {
			t.Fatalf("blob %d: id %+v, want %+v", i, id, want[i])
		}
		got, err := b.Get(id)
		if err != nil || !bytes.Equal(got, datas[i]) {
			t.Fatalf("blob %d: %d bytes, %v", i, len(got), err)
		}
	}
	if h := c.Head(); h.Length != 10 || h.ByteLength != 496609 {
		t.Fatalf("core head %+v", h)
	}
	j, _ := json.Marshal(ids[5])
	if string(j) != `{"byteOffset":196609,"blockOffset":5,"blockLength":5,"byteLength":300000}` {
		t.Fatalf("json %s", j)
	}
	// Pieces written through a Writer land in the same blocks.
	w, err := b.Writer()
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 70000; i += 7000 {
		w.Write(datas[5][i : i+7000])
	}
	id, err := w.Close()
	if err != nil || id.BlockLength != 2 || id.ByteLength != 70000 {
		t.Fatalf("writer id %+v %v", id, err)
	}
	got, _ := b.Get(id)
	if !bytes.Equal(got, datas[5][:70000]) {
		t.Fatal("writer blob differs")
	}
}

func TestBadID(t *testing.T) {
	c := newCore(t)
	b := New(c, 0)
	id, err := b.Put(make([]byte, 100000))
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []ID{{BlockOffset: 0, BlockLength: 2, ByteLength: 99999}, {BlockOffset: 0, BlockLength: 2, ByteLength: 100001}, {BlockOffset: 1, BlockLength: 5, ByteLength: 5}} {
		if _, err := b.Get(bad); err == nil {
			t.Fatalf("id %+v read without error", bad)
		} else if !errors.Is(err, ErrCorrupt) && !errors.Is(err, hypercore.ErrNotAvailable) {
			t.Logf("id %+v: %v", bad, err)
		}
	}
	if got, err := b.Get(id); err != nil || len(got) != 100000 {
		t.Fatal(err)
	}
}
