package hyperbee

import (
	"bytes"
	"reflect"
	"testing"
)

func FuzzDecodeNode(f *testing.F) {
	idx := YoloIndex{Levels: []Level{{Keys: []uint64{3, 9}, Children: []uint64{1, 0, 2, 1, 3, 1}}, {Keys: []uint64{4}}}}.Encode()
	f.Add(Node{Index: idx, Key: []byte("k"), Value: []byte("v")}.Encode())
	f.Add(Node{Index: nil, Key: nil}.Encode())
	f.Add(Header{Protocol: Protocol, Metadata: &Metadata{ContentFeed: make([]byte, 32)}}.Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		if n, err := DecodeNode(b); err == nil {
			n2, err := DecodeNode(n.Encode())
			if err != nil || !bytes.Equal(n.Key, n2.Key) || !bytes.Equal(n.Index, n2.Index) || (n.Value == nil) != (n2.Value == nil) || !bytes.Equal(n.Value, n2.Value) {
				t.Fatalf("node does not survive a round trip: %v", err)
			}
		}
		if y, err := DecodeYoloIndex(b); err == nil {
			y2, err := DecodeYoloIndex(y.Encode())
			if err != nil || len(y.Levels) != len(y2.Levels) {
				t.Fatalf("index does not survive a round trip: %v", err)
			}
			for i := range y.Levels {
				if len(y.Levels[i].Keys)+len(y2.Levels[i].Keys) > 0 && !reflect.DeepEqual(y.Levels[i].Keys, y2.Levels[i].Keys) {
					t.Fatalf("level %d keys differ", i)
				}
			}
		}
		if h, err := DecodeHeader(b); err == nil {
			if _, err := DecodeHeader(h.Encode()); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// FuzzBee reads a bee made of fuzzed blocks: every read must end, with
// data or an error, never a panic or a loop.
func FuzzBee(f *testing.F) {
	core := &memCore{}
	b, _ := Create(core, nil)
	for _, k := range []string{"m", "c", "x", "a", "e", "q", "z", "b", "d", "f", "g", "h"} {
		_ = b.Put([]byte(k), []byte(k+k))
	}
	_ = b.Del([]byte("e"))
	var seed []byte
	for _, blk := range core.blocks {
		seed = append(seed, byte(len(blk)))
		seed = append(seed, blk...)
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, data []byte) {
		mc := &memCore{}
		for len(data) > 0 {
			n := min(int(data[0]), len(data)-1)
			mc.blocks = append(mc.blocks, data[1:1+n])
			data = data[1+n:]
		}
		b, err := Open(mc)
		if err != nil {
			return
		}
		for _, k := range []string{"a", "e", "m", "zz"} {
			_, _ = b.Get([]byte(k))
		}
		n := 0
		for _, err := range b.Entries(Range{}) {
			if err != nil || n > 1<<16 {
				break
			}
			n++
		}
		for _, err := range b.Entries(Range{Reverse: true, Gte: []byte("b"), Lt: []byte("q")}) {
			if err != nil {
				break
			}
		}
		for _, err := range b.History(0, 0) {
			if err != nil {
				break
			}
		}
		w, err := b.Batch()
		if err == nil {
			_ = w.Put([]byte("k"), []byte("v"))
			_ = w.Del([]byte("m"))
		}
	})
}
