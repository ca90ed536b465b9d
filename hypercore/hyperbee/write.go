package hyperbee

import (
	"errors"
	"fmt"
	"slices"
)

// ErrReadOnly is returned by writes on a checkout or a core without Append.
var ErrReadOnly = errors.New("hyperbee: read-only")

// Put sets key to value (an empty value is stored as zero bytes). Like JS
// hyperbee (alwaysDuplicate), a put of an unchanged value still appends a
// block. An empty core gets the header first.
func (b *Bee) Put(k, value []byte) error {
	w, err := b.batch()
	if err != nil {
		return err
	}
	if err := w.Put(k, value); err != nil {
		return err
	}
	return w.Flush()
}

// Del deletes key; deleting an absent key writes nothing.
func (b *Bee) Del(k []byte) error {
	w, err := b.batch()
	if err != nil {
		return err
	}
	if err := w.Del(k); err != nil {
		return err
	}
	return w.Flush()
}

// Batch collects writes and appends them in one Append. Each write makes
// the same block as a single Put or Del would (unlike JS's batch, which
// compacts intermediate indexes): the blocks are identical to those of the
// same writes made one at a time.
type Batch struct {
	b       *Bee
	core    AppendCore
	base    uint64   // core length when the batch started
	pending [][]byte // encoded blocks base, base+1, ...
	header  bool     // pending[0] is the header
}

// Batch starts a batch. Only one batch (or Put/Del) may be in progress on a
// bee at a time; the caller serialises them.
func (b *Bee) Batch() (*Batch, error) { return b.batch() }

func (b *Bee) batch() (*Batch, error) {
	ac, ok := b.core.(AppendCore)
	if !ok || b.version != 0 {
		return nil, ErrReadOnly
	}
	w := &Batch{b: &Bee{core: &overlay{AppendCore: ac}, cache: b.cache}, core: ac, base: ac.Length()}
	w.b.core.(*overlay).w = w
	if w.base == 0 {
		w.pending = append(w.pending, Header{Protocol: Protocol}.Encode())
		w.header = true
	}
	return w, nil
}

// overlay shows a batch's pending blocks after the core's.
type overlay struct {
	AppendCore
	w *Batch
}

func (o *overlay) Length() uint64 { return o.w.base + uint64(len(o.w.pending)) }

func (o *overlay) Get(i uint64) ([]byte, error) {
	if i >= o.w.base {
		if j := i - o.w.base; j < uint64(len(o.w.pending)) {
			return o.w.pending[j], nil
		}
	}
	return o.AppendCore.Get(i)
}

// Flush appends the pending blocks. The batch may be used again after.
func (w *Batch) Flush() error {
	if len(w.pending) == 0 {
		return nil
	}
	if w.core.Length() != w.base {
		return fmt.Errorf("hyperbee: the core changed during a batch (length %d, batch started at %d)", w.core.Length(), w.base)
	}
	if _, err := w.core.Append(w.pending...); err != nil {
		return fmt.Errorf("hyperbee: append %d blocks: %w", len(w.pending), err)
	}
	w.base += uint64(len(w.pending))
	w.pending = nil
	return nil
}

func (w *Batch) seq() uint64 { return w.base + uint64(len(w.pending)) }

func (w *Batch) appendNode(root *node, seq uint64, k, value []byte) {
	var index []*node
	root.indexChanges(&index, seq)
	index[0] = root
	y := YoloIndex{Levels: make([]Level, len(index))}
	for i, n := range index {
		l := Level{Keys: make([]uint64, len(n.keys)), Children: make([]uint64, 0, 2*len(n.children))}
		for j, kk := range n.keys {
			l.Keys[j] = kk.seq
		}
		for _, c := range n.children {
			l.Children = append(l.Children, c.seq, c.offset)
		}
		y.Levels[i] = l
	}
	w.pending = append(w.pending, Node{Index: y.Encode(), Key: k, Value: value}.Encode())
}

// indexChanges gives every changed node under n (n included) an offset in
// the new block's index, depth first, as JS does.
func (n *node) indexChanges(index *[]*node, seq uint64) uint64 {
	offset := uint64(len(*index))
	*index = append(*index, nil)
	n.changed = false
	for i := range n.children {
		c := &n.children[i]
		if c.node == nil || !c.node.changed {
			continue
		}
		c.seq = seq
		c.offset = c.node.indexChanges(index, seq)
		(*index)[c.offset] = c.node
	}
	return offset
}

// Put adds a put to the batch.
func (w *Batch) Put(k, value []byte) error {
	if k == nil {
		k = []byte{}
	}
	if value == nil {
		value = []byte{}
	}
	b := w.b
	root, err := b.root()
	if err != nil {
		return err
	}
	if root == nil {
		root = &node{changed: true}
	}
	seq := w.seq()
	target := key{seq: seq, value: k}
	var stack []*node
	n := root
	for len(n.children) > 0 {
		if len(stack) > maxDepth {
			return fmt.Errorf("%w: tree deeper than %d", ErrDecode, maxDepth)
		}
		stack = append(stack, n)
		n.changed = true
		i, found, err := b.search(n, k)
		if err != nil {
			return err
		}
		if found {
			n.keys[i] = target
			w.appendNode(root, seq, k, value)
			return nil
		}
		if n, err = b.childNode(n, i); err != nil {
			return err
		}
	}
	needsSplit, err := b.insertKey(n, target, nil)
	if err != nil {
		return err
	}
	for needsSplit {
		var parent *node
		if len(stack) > 0 {
			parent = stack[len(stack)-1]
			stack = stack[:len(stack)-1]
		}
		median, right, err := b.split(n)
		if err != nil {
			return err
		}
		if parent != nil {
			if needsSplit, err = b.insertKey(parent, median, right); err != nil {
				return err
			}
			n = parent
		} else {
			root = &node{changed: true, keys: []key{median}, children: []child{{node: n}, {node: right}}}
			needsSplit = false
		}
	}
	w.appendNode(root, seq, k, value)
	return nil
}

// insertKey puts k into n (replacing an equal key), with right as the
// child after it when given; it says whether n is now too full.
func (b *Bee) insertKey(n *node, k key, right *node) (bool, error) {
	i, found, err := b.search(n, k.value)
	if err != nil {
		return false, err
	}
	n.changed = true
	if found {
		n.keys[i] = k
		return false, nil
	}
	n.keys = slices.Insert(n.keys, i, k)
	if right != nil {
		n.children = slices.Insert(n.children, i+1, child{node: right})
	}
	return len(n.keys) >= maxChildren, nil
}

func (b *Bee) split(n *node) (median key, right *node, err error) {
	ln := len(n.keys) >> 1
	right = &node{changed: true}
	right.keys = slices.Clone(n.keys[len(n.keys)-ln:])
	n.keys = n.keys[:len(n.keys)-ln]
	if _, err := b.getKey(n, len(n.keys)-1); err != nil {
		return key{}, nil, err
	}
	median = n.keys[len(n.keys)-1]
	n.keys = n.keys[:len(n.keys)-1]
	if len(n.children) > 0 {
		right.children = slices.Clone(n.children[len(n.children)-(ln+1):])
		n.children = n.children[:len(n.children)-(ln+1)]
	}
	n.changed = true
	return median, right, nil
}

// Del adds a delete to the batch; an absent key adds nothing.
func (w *Batch) Del(k []byte) error {
	if k == nil {
		k = []byte{}
	}
	b := w.b
	n, err := b.root()
	if err != nil || n == nil {
		return err
	}
	seq := w.seq()
	var stack []*node
	for {
		if len(stack) > maxDepth {
			return fmt.Errorf("%w: tree deeper than %d", ErrDecode, maxDepth)
		}
		stack = append(stack, n)
		i, found, err := b.search(n, k)
		if err != nil {
			return err
		}
		if found {
			if len(n.children) > 0 {
				if stack, err = b.setKeyToNearestLeaf(n, i, stack); err != nil {
					return err
				}
			} else {
				n.removeKey(i)
			}
			for _, s := range stack {
				s.changed = true
			}
			root, err := b.rebalance(stack)
			if err != nil {
				return err
			}
			w.appendNode(root, seq, k, nil)
			return nil
		}
		if len(n.children) == 0 {
			return nil
		}
		if n, err = b.childNode(n, i); err != nil {
			return err
		}
	}
}

func (n *node) removeKey(i int) {
	n.keys = slices.Delete(n.keys, i, i+1)
	if len(n.children) > 0 {
		n.children = slices.Delete(n.children, i+1, i+2)
	}
	n.changed = true
}

func (b *Bee) leafSize(n *node, goLeft bool) (int, error) {
	for depth := 0; len(n.children) > 0; depth++ {
		if depth > maxDepth {
			return 0, fmt.Errorf("%w: tree deeper than %d", ErrDecode, maxDepth)
		}
		i := len(n.children) - 1
		if goLeft {
			i = 0
		}
		var err error
		if n, err = b.childNode(n, i); err != nil {
			return 0, err
		}
	}
	return len(n.keys), nil
}

func (b *Bee) setKeyToNearestLeaf(n *node, i int, stack []*node) ([]*node, error) {
	left, err := b.childNode(n, i)
	if err != nil {
		return nil, err
	}
	right, err := b.childNode(n, i+1)
	if err != nil {
		return nil, err
	}
	ls, err := b.leafSize(left, false)
	if err != nil {
		return nil, err
	}
	rs, err := b.leafSize(right, true)
	if err != nil {
		return nil, err
	}
	if ls < rs {
		stack = append(stack, right)
		for len(right.children) > 0 {
			right = right.children[0].node // loaded by leafSize
			stack = append(stack, right)
		}
		n.keys[i] = right.keys[0]
		right.keys = slices.Delete(right.keys, 0, 1)
	} else {
		stack = append(stack, left)
		for len(left.children) > 0 {
			left = left.children[len(left.children)-1].node
			stack = append(stack, left)
		}
		n.keys[i] = left.keys[len(left.keys)-1]
		left.keys = left.keys[:len(left.keys)-1]
	}
	return stack, nil
}

func (b *Bee) siblings(n, parent *node) (left *node, index int, right *node, err error) {
	for i := range parent.children {
		if parent.children[i].node != n {
			continue
		}
		if i > 0 {
			if left, err = b.childNode(parent, i-1); err != nil {
				return nil, 0, nil, err
			}
		}
		if i < len(parent.children)-1 {
			if right, err = b.childNode(parent, i+1); err != nil {
				return nil, 0, nil, err
			}
		}
		return left, i, right, nil
	}
	return nil, 0, nil, fmt.Errorf("%w: a tree node is not a child of its parent", ErrDecode)
}

func (b *Bee) rebalance(stack []*node) (*node, error) {
	root := stack[0]
	for len(stack) > 1 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		parent := stack[len(stack)-1]
		if len(n.keys) >= minKeys {
			return root, nil
		}
		left, index, right, err := b.siblings(n, parent)
		if err != nil {
			return nil, err
		}
		if left != nil && len(left.keys) > minKeys {
			left.changed = true
			n.keys = slices.Insert(n.keys, 0, parent.keys[index-1])
			if len(left.children) > 0 {
				n.children = slices.Insert(n.children, 0, left.children[len(left.children)-1])
				left.children = left.children[:len(left.children)-1]
			}
			parent.keys[index-1] = left.keys[len(left.keys)-1]
			left.keys = left.keys[:len(left.keys)-1]
			return root, nil
		}
		if right != nil && len(right.keys) > minKeys {
			right.changed = true
			n.keys = append(n.keys, parent.keys[index])
			if len(right.children) > 0 {
				n.children = append(n.children, right.children[0])
				right.children = slices.Delete(right.children, 0, 1)
			}
			parent.keys[index] = right.keys[0]
			right.keys = slices.Delete(right.keys, 0, 1)
			return root, nil
		}
		if left != nil {
			index--
			right = n
		} else {
			left = n
		}
		left.changed = true
		left.keys = append(left.keys, parent.keys[index])
		left.keys = append(left.keys, right.keys...)
		left.children = append(left.children, right.children...)
		parent.removeKey(index)
	}
	if len(root.keys) == 0 && len(root.children) > 0 {
		return b.childNode(root, 0)
	}
	return root, nil
}
