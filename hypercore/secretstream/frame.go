package secretstream

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"slices"
)

// MaxFrameSize is the largest unit on the raw stream: a 24-bit length.
const MaxFrameSize = 1<<24 - 1

// MaxMessageSize is the largest plaintext one encrypted message can carry.
const MaxMessageSize = MaxFrameSize - Overhead

// ErrFrameTooLarge means a length prefix exceeded the reader's limit. It is
// reported before anything is allocated for the frame.
var ErrFrameTooLarge = errors.New("secretstream: frame too large")

// readChunk is how much a frame reader allocates ahead of the bytes that
// have arrived: a peer announcing 16 MiB and sending a few bytes costs at
// most this much, and larger frames grow by doubling as their bytes come.
// Frames up to this size (a 64 KiB hypercore block with its proof, say) are
// read with one allocation.
const readChunk = 256 << 10

// ReadFrame reads one u24le(len) ‖ len bytes unit from r and returns its
// len bytes. A length above max (max <= 0 means MaxFrameSize) fails with an
// error wrapping ErrFrameTooLarge before any allocation. io.EOF means r ended
// cleanly between frames; io.ErrUnexpectedEOF means it ended inside one.
func ReadFrame(r *bufio.Reader, max int) ([]byte, error) {
	b, _, err := readFrame(r, max, 0)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// readFrame reads one frame into a new buffer that starts with slack unused
// bytes: the frame is buf[slack:]. started reports whether any byte of the
// frame was consumed from r (if not, r is still at a frame boundary, so a
// timeout is harmless).
func readFrame(r *bufio.Reader, max, slack int) (buf []byte, started bool, err error) {
	if max <= 0 || max > MaxFrameSize {
		max = MaxFrameSize
	}
	hdr, err := r.Peek(3)
	if err != nil {
		if err == io.EOF && len(hdr) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, false, err
	}
	n := int(hdr[0]) | int(hdr[1])<<8 | int(hdr[2])<<16
	if _, err := r.Discard(3); err != nil {
		return nil, true, err
	}
	if n > max {
		return nil, true, fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, n, max)
	}
	size := min(n, readChunk)
	buf = make([]byte, slack+size)
	got := 0
	for {
		if _, err := io.ReadFull(r, buf[slack+got:slack+size]); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, true, err
		}
		got = size
		if got == n {
			return buf, true, nil
		}
		size = min(n, 2*size)
		buf = slices.Grow(buf, size-got)[:slack+size]
	}
}

// putU24 writes n as 3 bytes little-endian.
func putU24(b []byte, n int) {
	_ = b[2]
	b[0] = byte(n)
	b[1] = byte(n >> 8)
	b[2] = byte(n >> 16)
}

// AppendFrame appends u24le(len(p)) ‖ p to dst. p must be at most
// MaxFrameSize bytes.
func AppendFrame(dst, p []byte) []byte {
	if len(p) > MaxFrameSize {
		panic("secretstream: frame too large")
	}
	dst = append(dst, byte(len(p)), byte(len(p)>>8), byte(len(p)>>16))
	return append(dst, p...)
}
