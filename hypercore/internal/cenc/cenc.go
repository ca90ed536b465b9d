// Package cenc implements the compact-encoding primitives (holepunchto
// compact-encoding) that Hypercore uses on the wire and in manifests.
//
// Decoders never allocate from a length they have not checked against the
// bytes that remain, and never panic on any input. This package imports
// nothing from fieldsync.
package cenc

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// MaxArray is the largest array count a decoder accepts (as the JS decoder).
const MaxArray = 1 << 20

// ErrShort is returned when the input ends before a value does.
var ErrShort = errors.New("cenc: input too short")

// AppendUint appends n as a compact varint, in its shortest form.
func AppendUint(b []byte, n uint64) []byte {
	switch {
	case n <= 0xfc:
		return append(b, byte(n))
	case n <= 0xffff:
		return binary.LittleEndian.AppendUint16(append(b, 0xfd), uint16(n))
	case n <= 0xffffffff:
		return binary.LittleEndian.AppendUint32(append(b, 0xfe), uint32(n))
	default:
		return binary.LittleEndian.AppendUint64(append(b, 0xff), n)
	}
}

// UintSize is the encoded size of n.
func UintSize(n uint64) int {
	switch {
	case n <= 0xfc:
		return 1
	case n <= 0xffff:
		return 3
	case n <= 0xffffffff:
		return 5
	default:
		return 9
	}
}

// AppendBuffer appends a length-prefixed byte string.
func AppendBuffer(b, v []byte) []byte {
	return append(AppendUint(b, uint64(len(v))), v...)
}

// Decoder reads compact-encoded values from a byte slice. The first error
// is sticky: later reads return zero values, and Err reports it.
type Decoder struct {
	b   []byte
	err error
}

// NewDecoder returns a decoder over b. It does not copy b; slices it returns
// alias b.
func NewDecoder(b []byte) *Decoder { return &Decoder{b: b} }

// Err is the first error met, if any.
func (d *Decoder) Err() error { return d.err }

// Len is the number of bytes left.
func (d *Decoder) Len() int { return len(d.b) }

// Rest returns all remaining bytes (a `raw` field).
func (d *Decoder) Rest() []byte {
	r := d.b
	d.b = nil
	return r
}

func (d *Decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
	d.b = nil
}

// Uint reads a compact varint.
func (d *Decoder) Uint() uint64 {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 1 {
		d.fail(ErrShort)
		return 0
	}
	a := d.b[0]
	switch {
	case a <= 0xfc:
		d.b = d.b[1:]
		return uint64(a)
	case a == 0xfd:
		if len(d.b) < 3 {
			d.fail(ErrShort)
			return 0
		}
		v := binary.LittleEndian.Uint16(d.b[1:])
		d.b = d.b[3:]
		return uint64(v)
	case a == 0xfe:
		if len(d.b) < 5 {
			d.fail(ErrShort)
			return 0
		}
		v := binary.LittleEndian.Uint32(d.b[1:])
		d.b = d.b[5:]
		return uint64(v)
	default:
		if len(d.b) < 9 {
			d.fail(ErrShort)
			return 0
		}
		v := binary.LittleEndian.Uint64(d.b[1:])
		d.b = d.b[9:]
		return v
	}
}

// Fixed reads exactly n bytes.
func (d *Decoder) Fixed(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || len(d.b) < n {
		d.fail(ErrShort)
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

// Buffer reads a length-prefixed byte string.
func (d *Decoder) Buffer() []byte {
	n := d.Uint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail(fmt.Errorf("cenc: buffer length %d exceeds the %d bytes left: %w", n, len(d.b), ErrShort))
		return nil
	}
	return d.Fixed(int(n))
}

// ArrayLen reads an array count and checks it against MaxArray and against
// the bytes left, given the smallest encoded size of one element.
func (d *Decoder) ArrayLen(minElem int) int {
	n := d.Uint()
	if d.err != nil {
		return 0
	}
	if n > MaxArray {
		d.fail(fmt.Errorf("cenc: array of %d elements exceeds the limit of %d", n, MaxArray))
		return 0
	}
	if minElem > 0 && n*uint64(minElem) > uint64(len(d.b)) {
		d.fail(fmt.Errorf("cenc: array of %d elements cannot fit in %d bytes: %w", n, len(d.b), ErrShort))
		return 0
	}
	return int(n)
}

// Fail records err as the decoder's error (for checks made by the caller).
func (d *Decoder) Fail(err error) { d.fail(err) }
