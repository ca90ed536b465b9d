package cenc

import (
	"bytes"
	"errors"
	"testing"
)

func TestUintRoundTrip(t *testing.T) {
	cases := []struct {
		n   uint64
		hex []byte
	}{
		{0, []byte{0}},
		{0xfc, []byte{0xfc}},
		{0xfd, []byte{0xfd, 0xfd, 0}},
		{0xffff, []byte{0xfd, 0xff, 0xff}},
		{0x10000, []byte{0xfe, 0, 0, 1, 0}},
		{1 << 32, []byte{0xff, 0, 0, 0, 0, 1, 0, 0, 0}},
	}
	for _, c := range cases {
		got := AppendUint(nil, c.n)
		if !bytes.Equal(got, c.hex) || UintSize(c.n) != len(c.hex) {
			t.Errorf("AppendUint(%d) = %x, want %x", c.n, got, c.hex)
		}
		d := NewDecoder(got)
		if v := d.Uint(); v != c.n || d.Err() != nil || d.Len() != 0 {
			t.Errorf("decode %x = %d, %v", got, v, d.Err())
		}
		for cut := 0; cut < len(got); cut++ {
			d := NewDecoder(got[:cut])
			d.Uint()
			if !errors.Is(d.Err(), ErrShort) {
				t.Errorf("decode of %x cut to %d: err %v", got, cut, d.Err())
			}
		}
	}
}

func TestLengthsAreBoundedBeforeAllocation(t *testing.T) {
	// A buffer claiming 2^32 bytes with 3 present.
	d := NewDecoder([]byte{0xfe, 0, 0, 0, 0x01, 1, 2, 3})
	if b := d.Buffer(); b != nil || d.Err() == nil {
		t.Fatalf("huge buffer accepted: %v", d.Err())
	}
	// An array count over the limit, and one that cannot fit.
	d = NewDecoder(AppendUint(nil, MaxArray+1))
	if d.ArrayLen(0); d.Err() == nil {
		t.Fatal("array over the limit accepted")
	}
	d = NewDecoder(append(AppendUint(nil, 1000), make([]byte, 10)...))
	if d.ArrayLen(32); d.Err() == nil {
		t.Fatal("array larger than the input accepted")
	}
	// Errors are sticky.
	d = NewDecoder(nil)
	d.Uint()
	if d.Fixed(0) != nil || d.Uint() != 0 || d.Err() == nil {
		t.Fatal("error not sticky")
	}
}

func FuzzDecoder(f *testing.F) {
	f.Add([]byte{0xfd, 0x01})
	f.Add(AppendBuffer(AppendUint(nil, 300), []byte("hello")))
	f.Fuzz(func(t *testing.T, b []byte) {
		d := NewDecoder(b)
		for d.Err() == nil && d.Len() > 0 {
			switch d.Len() % 3 {
			case 0:
				d.Uint()
			case 1:
				d.Buffer()
			default:
				d.ArrayLen(1)
			}
		}
	})
}
