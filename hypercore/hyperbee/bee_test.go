package hyperbee

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/fieldsync/fieldsync/hypercore"
)

// memCore is an in-memory core for unit tests.
type memCore struct{ blocks [][]byte }

func (m *memCore) Get(i uint64) ([]byte, error) {
	if i >= uint64(len(m.blocks)) {
		return nil, fmt.Errorf("block %d of %d: %w", i, len(m.blocks), hypercore.ErrNotAvailable)
	}
	return m.blocks[i], nil
}
func (m *memCore) Length() uint64 { return uint64(len(m.blocks)) }
func (m *memCore) Append(bs ...[]byte) (uint64, error) {
	for _, b := range bs {
		m.blocks = append(m.blocks, slices.Clone(b))
	}
	return uint64(len(m.blocks)), nil
}

type model map[string]string

func (m model) sorted() []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func collect(t *testing.T, b *Bee, r Range) []Entry {
	t.Helper()
	var out []Entry
	for e, err := range b.Entries(r) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// checkTree walks the tree and checks the B-tree rules: sorted keys,
// sizes, equal leaf depth.
func checkTree(t *testing.T, b *Bee) {
	t.Helper()
	root, err := b.root()
	if err != nil || root == nil {
		return
	}
	leafDepth := -1
	var walk func(n *node, depth int, lo, hi []byte)
	walk = func(n *node, depth int, lo, hi []byte) {
		if n != root && (len(n.keys) < minKeys || len(n.keys) >= maxChildren) {
			t.Fatalf("node %d/%d has %d keys", n.seq, n.offset, len(n.keys))
		}
		var prev []byte = lo
		for i := range n.keys {
			k, err := b.getKey(n, i)
			if err != nil {
				t.Fatal(err)
			}
			if prev != nil && bytes.Compare(prev, k) >= 0 {
				t.Fatalf("keys out of order: %q then %q", prev, k)
			}
			prev = k
		}
		if hi != nil && prev != nil && bytes.Compare(prev, hi) >= 0 {
			t.Fatalf("key %q not below %q", prev, hi)
		}
		if len(n.children) == 0 {
			if leafDepth == -1 {
				leafDepth = depth
			} else if leafDepth != depth {
				t.Fatalf("leaves at depths %d and %d", leafDepth, depth)
			}
			return
		}
		for i := range n.children {
			c, err := b.childNode(n, i)
			if err != nil {
				t.Fatal(err)
			}
			var clo, chi []byte = lo, hi
			if i > 0 {
				clo = n.keys[i-1].value
			}
			if i < len(n.keys) {
				chi = n.keys[i].value
			}
			walk(c, depth+1, clo, chi)
		}
	}
	walk(root, 0, nil, nil)
}

func checkModel(t *testing.T, b *Bee, m model) {
	t.Helper()
	checkTree(t, b)
	keys := m.sorted()
	got := collect(t, b, Range{})
	if len(got) != len(keys) {
		t.Fatalf("range: %d entries, want %d", len(got), len(keys))
	}
	for i, e := range got {
		if string(e.Key) != keys[i] || string(e.Value) != m[keys[i]] {
			t.Fatalf("range entry %d: %q=%q, want %q=%q", i, e.Key, e.Value, keys[i], m[keys[i]])
		}
	}
	rev := collect(t, b, Range{Reverse: true})
	for i, e := range rev {
		if string(e.Key) != keys[len(keys)-1-i] {
			t.Fatalf("reverse entry %d: %q", i, e.Key)
		}
	}
	for _, k := range keys {
		e, err := b.Get([]byte(k))
		if err != nil {
			t.Fatal(err)
		}
		if e == nil || string(e.Value) != m[k] {
			t.Fatalf("get %q: %v, want %q", k, e, m[k])
		}
	}
	if e, err := b.Get([]byte("absent-key")); err != nil || e != nil {
		t.Fatalf("get absent: %v %v", e, err)
	}
}

func TestPutGetDelModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	core := &memCore{}
	b, err := Create(core, &Metadata{ContentFeed: bytes.Repeat([]byte{7}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	m := model{}
	var history []HistoryEntry
	for i := range 3000 {
		k := fmt.Sprintf("key-%04d", rng.IntN(800))
		if rng.IntN(4) == 0 {
			_, had := m[k]
			if err := b.Del([]byte(k)); err != nil {
				t.Fatal(err)
			}
			if had {
				delete(m, k)
				history = append(history, HistoryEntry{Entry: Entry{Key: []byte(k)}, Deleted: true})
			}
		} else {
			v := fmt.Sprintf("value-%d", i)
			if err := b.Put([]byte(k), []byte(v)); err != nil {
				t.Fatal(err)
			}
			m[k] = v
			history = append(history, HistoryEntry{Entry: Entry{Key: []byte(k), Value: []byte(v)}})
		}
		if i%500 == 0 {
			checkModel(t, b, m)
		}
	}
	checkModel(t, b, m)

	h, err := b.Header()
	if err != nil || h.Protocol != Protocol || !bytes.Equal(h.Metadata.ContentFeed, bytes.Repeat([]byte{7}, 32)) {
		t.Fatalf("header %+v %v", h, err)
	}
	i := 0
	for e, err := range b.History(0, 0) {
		if err != nil {
			t.Fatal(err)
		}
		w := history[i]
		if e.Seq != uint64(i+1) || !bytes.Equal(e.Key, w.Key) || e.Deleted != w.Deleted || !bytes.Equal(e.Value, w.Value) {
			t.Fatalf("history %d: %+v, want %+v", i, e, w)
		}
		i++
	}
	if i != len(history) {
		t.Fatalf("history has %d writes, want %d", i, len(history))
	}

	// A checkout sees the bee as it was.
	old := b.Checkout(100)
	old2 := model{}
	for _, w := range history[:99] {
		if w.Deleted {
			delete(old2, string(w.Key))
		} else {
			old2[string(w.Key)] = string(w.Value)
		}
	}
	checkModel(t, old, old2)
	if err := old.Put([]byte("x"), nil); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("put on a checkout: %v", err)
	}
}

func TestRangeBounds(t *testing.T) {
	core := &memCore{}
	b, err := Create(core, nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := b.Batch()
	if err != nil {
		t.Fatal(err)
	}
	m := model{}
	for i := 0; i < 500; i += 2 {
		k := fmt.Sprintf("%03d", i)
		m[k] = k
		if err := w.Put([]byte(k), []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if core.Length() != 251 {
		t.Fatalf("length %d after a batch of 250", core.Length())
	}
	keys := m.sorted()
	for trial := range 200 {
		rng := rand.New(rand.NewPCG(uint64(trial), 9))
		lo := fmt.Sprintf("%03d", rng.IntN(520))
		hi := fmt.Sprintf("%03d", rng.IntN(520))
		r := Range{Reverse: rng.IntN(2) == 0, Limit: rng.IntN(3) * 7}
		loIncl, hiIncl := rng.IntN(2) == 0, rng.IntN(2) == 0
		if loIncl {
			r.Gte = []byte(lo)
		} else {
			r.Gt = []byte(lo)
		}
		if hiIncl {
			r.Lte = []byte(hi)
		} else {
			r.Lt = []byte(hi)
		}
		var want []string
		for _, k := range keys {
			if (k > lo || (loIncl && k == lo)) && (k < hi || (hiIncl && k == hi)) {
				want = append(want, k)
			}
		}
		if r.Reverse {
			slices.Reverse(want)
		}
		if r.Limit > 0 && len(want) > r.Limit {
			want = want[:r.Limit]
		}
		var got []string
		for _, e := range collect(t, b, r) {
			got = append(got, string(e.Key))
		}
		if !slices.Equal(got, want) {
			t.Fatalf("range %+v: got %v, want %v", r, got, want)
		}
	}
}

// A bee on a real core, reopened.
func TestOnHypercore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bee")
	c, err := hypercore.Create(dir, hypercore.CreateOptions{Durability: hypercore.DurabilityOS})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Create(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if err := b.Put([]byte(fmt.Sprint(i)), []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c, err = hypercore.Open(dir, hypercore.OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b, err = Open(c)
	if err != nil {
		t.Fatal(err)
	}
	e, err := b.Get([]byte("42"))
	if err != nil || e == nil || e.Value[0] != 42 || e.Seq != 43 {
		t.Fatalf("get 42: %+v %v", e, err)
	}
	if err := b.Put([]byte("x"), nil); err == nil {
		t.Fatal("put on a read-only core succeeded")
	}
}

func TestNotABee(t *testing.T) {
	core := &memCore{blocks: [][]byte{Header{Protocol: "hyperdrive"}.Encode()}}
	if _, err := Open(core); !errors.Is(err, ErrDecode) {
		t.Fatalf("open a non-bee: %v", err)
	}
	core = &memCore{blocks: [][]byte{{0xff}}}
	if _, err := Open(core); !errors.Is(err, ErrDecode) {
		t.Fatalf("open garbage: %v", err)
	}
}

// A forged block pointing at itself must not loop.
func TestCycleRejected(t *testing.T) {
	idx := YoloIndex{Levels: []Level{{Keys: []uint64{1}, Children: []uint64{1, 0, 1, 0}}}}.Encode()
	core := &memCore{blocks: [][]byte{Header{Protocol: Protocol}.Encode(), Node{Index: idx, Key: []byte("a"), Value: []byte("b")}.Encode()}}
	b, err := Open(core)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get([]byte("z")); !errors.Is(err, ErrDecode) {
		t.Fatalf("get through a cycle: %v", err)
	}
}
