package hyperbee

import (
	"errors"
	"fmt"
)

// Protocol is the Header protocol of a Hyperbee.
const Protocol = "hyperbee"

// ErrDecode marks a block that is not a valid Hyperbee message.
var ErrDecode = errors.New("hyperbee: undecodable block")

// Header is block 0 of a bee.
type Header struct {
	Protocol string
	// Metadata is nil when the header has none.
	Metadata *Metadata
}

// Metadata is the optional part of a header. A nil field is absent.
type Metadata struct {
	ContentFeed []byte // hyperdrive: the key of the blob core
	UserData    []byte
}

// Node is one block after the header: the key and value of one write and
// the index of the tree nodes it changed. Value is nil for a delete (JS:
// null); an empty non-nil Value is a put of zero bytes.
type Node struct {
	Index []byte // an encoded YoloIndex
	Key   []byte
	Value []byte
}

// Level is one tree node inside a YoloIndex: Keys are block numbers,
// Children are pairs (block number, offset), flattened.
type Level struct {
	Keys     []uint64
	Children []uint64
}

// YoloIndex is the list of tree nodes a block holds; node 0 is the root of
// the tree as of that block.
type YoloIndex struct {
	Levels []Level
}

// ---- protobuf primitives ----

func appendVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func varintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

func appendBytesField(b []byte, field int, v []byte) []byte {
	b = append(b, byte(field<<3|2))
	b = appendVarint(b, uint64(len(v)))
	return append(b, v...)
}

type reader struct {
	b   []byte
	off int
}

func (r *reader) done() bool { return r.off >= len(r.b) }

func (r *reader) varint() (uint64, error) {
	var v uint64
	for i := 0; i < 10; i++ {
		if r.off >= len(r.b) {
			return 0, fmt.Errorf("%w: truncated varint", ErrDecode)
		}
		c := r.b[r.off]
		r.off++
		if i == 9 && c > 1 {
			return 0, fmt.Errorf("%w: varint overflows 64 bits", ErrDecode)
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v, nil
		}
	}
	return 0, fmt.Errorf("%w: varint too long", ErrDecode)
}

func (r *reader) bytes() ([]byte, error) {
	n, err := r.varint()
	if err != nil {
		return nil, err
	}
	if n > uint64(len(r.b)-r.off) {
		return nil, fmt.Errorf("%w: field of %d bytes past the end", ErrDecode, n)
	}
	v := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return v, nil
}

// field reads a tag; wire is the protobuf wire type.
func (r *reader) field() (num uint64, wire int, err error) {
	tag, err := r.varint()
	if err != nil {
		return 0, 0, err
	}
	return tag >> 3, int(tag & 7), nil
}

func (r *reader) skip(wire int) error {
	switch wire {
	case 0:
		_, err := r.varint()
		return err
	case 1:
		if len(r.b)-r.off < 8 {
			return fmt.Errorf("%w: truncated fixed64", ErrDecode)
		}
		r.off += 8
	case 2:
		_, err := r.bytes()
		return err
	case 5:
		if len(r.b)-r.off < 4 {
			return fmt.Errorf("%w: truncated fixed32", ErrDecode)
		}
		r.off += 4
	default:
		return fmt.Errorf("%w: wire type %d", ErrDecode, wire)
	}
	return nil
}

func want(wire, expected int, what string) error {
	if wire != expected {
		return fmt.Errorf("%w: %s has wire type %d", ErrDecode, what, wire)
	}
	return nil
}

// ---- Header ----

// Encode returns the header's bytes as JS hyperbee writes them.
func (h Header) Encode() []byte {
	b := appendBytesField(nil, 1, []byte(h.Protocol))
	if h.Metadata != nil {
		var m []byte
		if h.Metadata.ContentFeed != nil {
			m = appendBytesField(m, 1, h.Metadata.ContentFeed)
		}
		if h.Metadata.UserData != nil {
			m = appendBytesField(m, 2, h.Metadata.UserData)
		}
		b = appendBytesField(b, 2, m)
	}
	return b
}

// DecodeHeader parses block 0.
func DecodeHeader(b []byte) (Header, error) {
	var h Header
	r := reader{b: b}
	found := false
	for !r.done() {
		num, wire, err := r.field()
		if err != nil {
			return Header{}, err
		}
		switch num {
		case 1:
			if err := want(wire, 2, "header protocol"); err != nil {
				return Header{}, err
			}
			v, err := r.bytes()
			if err != nil {
				return Header{}, err
			}
			h.Protocol, found = string(v), true
		case 2:
			if err := want(wire, 2, "header metadata"); err != nil {
				return Header{}, err
			}
			v, err := r.bytes()
			if err != nil {
				return Header{}, err
			}
			m, err := decodeMetadata(v)
			if err != nil {
				return Header{}, err
			}
			h.Metadata = m
		default:
			if err := r.skip(wire); err != nil {
				return Header{}, err
			}
		}
	}
	if !found {
		return Header{}, fmt.Errorf("%w: header without protocol", ErrDecode)
	}
	return h, nil
}

func decodeMetadata(b []byte) (*Metadata, error) {
	m := &Metadata{}
	r := reader{b: b}
	for !r.done() {
		num, wire, err := r.field()
		if err != nil {
			return nil, err
		}
		switch num {
		case 1, 2:
			if err := want(wire, 2, "metadata field"); err != nil {
				return nil, err
			}
			v, err := r.bytes()
			if err != nil {
				return nil, err
			}
			v = append([]byte{}, v...)
			if num == 1 {
				m.ContentFeed = v
			} else {
				m.UserData = v
			}
		default:
			if err := r.skip(wire); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

// ---- Node ----

// Encode returns the node's bytes as JS hyperbee writes them.
func (n Node) Encode() []byte {
	b := make([]byte, 0, len(n.Index)+len(n.Key)+len(n.Value)+16)
	b = appendBytesField(b, 1, n.Index)
	b = appendBytesField(b, 2, n.Key)
	if n.Value != nil {
		b = appendBytesField(b, 3, n.Value)
	}
	return b
}

// DecodeNode parses a block after the header. The result aliases b.
func DecodeNode(b []byte) (Node, error) {
	var n Node
	r := reader{b: b}
	var haveIndex, haveKey bool
	for !r.done() {
		num, wire, err := r.field()
		if err != nil {
			return Node{}, err
		}
		switch num {
		case 1, 2, 3:
			if err := want(wire, 2, "node field"); err != nil {
				return Node{}, err
			}
			v, err := r.bytes()
			if err != nil {
				return Node{}, err
			}
			switch num {
			case 1:
				n.Index, haveIndex = v, true
			case 2:
				n.Key, haveKey = v, true
			case 3:
				if v == nil {
					v = []byte{}
				}
				n.Value = v
			}
		default:
			if err := r.skip(wire); err != nil {
				return Node{}, err
			}
		}
	}
	if !haveIndex || !haveKey {
		return Node{}, fmt.Errorf("%w: node without index or key", ErrDecode)
	}
	if n.Index == nil {
		n.Index = []byte{}
	}
	if n.Key == nil {
		n.Key = []byte{}
	}
	return n, nil
}

// ---- YoloIndex ----

// Encode returns the index's bytes as JS hyperbee writes them (packed
// repeated fields; an empty list is omitted).
func (y YoloIndex) Encode() []byte {
	var b []byte
	for _, l := range y.Levels {
		ln := packedLen(l.Keys) + packedLen(l.Children)
		b = append(b, 1<<3|2)
		b = appendVarint(b, uint64(ln))
		b = appendPacked(b, 1, l.Keys)
		b = appendPacked(b, 2, l.Children)
	}
	return b
}

func packedLen(vs []uint64) int {
	n := 0
	for _, v := range vs {
		n += varintLen(v)
	}
	if n == 0 {
		return 0
	}
	return 1 + varintLen(uint64(n)) + n
}

func appendPacked(b []byte, field int, vs []uint64) []byte {
	n := 0
	for _, v := range vs {
		n += varintLen(v)
	}
	if n == 0 {
		return b
	}
	b = append(b, byte(field<<3|2))
	b = appendVarint(b, uint64(n))
	for _, v := range vs {
		b = appendVarint(b, v)
	}
	return b
}

// DecodeYoloIndex parses a node's index. Like JS, a non-packed (varint)
// entry is also accepted.
func DecodeYoloIndex(b []byte) (YoloIndex, error) {
	var y YoloIndex
	r := reader{b: b}
	for !r.done() {
		num, wire, err := r.field()
		if err != nil {
			return YoloIndex{}, err
		}
		if num != 1 {
			if err := r.skip(wire); err != nil {
				return YoloIndex{}, err
			}
			continue
		}
		if err := want(wire, 2, "index level"); err != nil {
			return YoloIndex{}, err
		}
		v, err := r.bytes()
		if err != nil {
			return YoloIndex{}, err
		}
		l, err := decodeLevel(v)
		if err != nil {
			return YoloIndex{}, err
		}
		y.Levels = append(y.Levels, l)
	}
	return y, nil
}

func decodeLevel(b []byte) (Level, error) {
	var l Level
	r := reader{b: b}
	for !r.done() {
		num, wire, err := r.field()
		if err != nil {
			return Level{}, err
		}
		if num != 1 && num != 2 {
			if err := r.skip(wire); err != nil {
				return Level{}, err
			}
			continue
		}
		dst := &l.Keys
		if num == 2 {
			dst = &l.Children
		}
		switch wire {
		case 0:
			v, err := r.varint()
			if err != nil {
				return Level{}, err
			}
			*dst = append(*dst, v)
		case 2:
			p, err := r.bytes()
			if err != nil {
				return Level{}, err
			}
			pr := reader{b: p}
			for !pr.done() {
				v, err := pr.varint()
				if err != nil {
					return Level{}, err
				}
				*dst = append(*dst, v)
			}
		default:
			return Level{}, fmt.Errorf("%w: index level field has wire type %d", ErrDecode, wire)
		}
	}
	if len(l.Children)%2 != 0 {
		return Level{}, fmt.Errorf("%w: odd number of child pointers", ErrDecode)
	}
	if len(l.Children) != 0 && len(l.Children) != 2*(len(l.Keys)+1) {
		return Level{}, fmt.Errorf("%w: %d keys with %d children", ErrDecode, len(l.Keys), len(l.Children)/2)
	}
	return l, nil
}
