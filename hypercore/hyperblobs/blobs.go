package hyperblobs

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/fieldsync/fieldsync/hypercore"
)

// DefaultBlockSize is the size of the blocks a blob is cut into.
const DefaultBlockSize = 1 << 16

// ErrCorrupt marks an ID that does not match the core's blocks.
var ErrCorrupt = errors.New("hyperblobs: blob does not match its id")

// ID names a blob. Its JSON field order is that of JS hyperblobs' write
// stream, so an entry Go writes has the bytes JS would write.
type ID struct {
	ByteOffset  uint64 `json:"byteOffset"`
	BlockOffset uint64 `json:"blockOffset"`
	BlockLength uint64 `json:"blockLength"`
	ByteLength  uint64 `json:"byteLength"`
}

// Core is what blobs are read from: *hypercore.Core satisfies it.
type Core interface {
	Get(index uint64) ([]byte, error)
	Head() hypercore.Head
}

// AppendCore is what blobs are written to: *hypercore.Core satisfies it.
type AppendCore interface {
	Core
	Append(blocks ...[]byte) (uint64, error)
}

// Blobs reads and writes blobs in one core. Writes are serialised.
type Blobs struct {
	core      Core
	blockSize int
	mu        sync.Mutex
}

// New returns the blob store over core, writing blocks of blockSize bytes
// (0: DefaultBlockSize).
func New(core Core, blockSize int) *Blobs {
	if blockSize <= 0 {
		blockSize = DefaultBlockSize
	}
	return &Blobs{core: core, blockSize: blockSize}
}

// Put appends data as one blob and returns its ID. The blocks go in
// batches of at most 16 MiB, each batch one Append.
func (b *Blobs) Put(data []byte) (ID, error) {
	w, err := b.Writer()
	if err != nil {
		return ID{}, err
	}
	if _, err := w.Write(data); err != nil {
		return ID{}, err
	}
	return w.Close()
}

// Writer starts a blob written in pieces; Close returns its ID. No other
// write may happen on the core until Close.
func (b *Blobs) Writer() (*Writer, error) {
	ac, ok := b.core.(AppendCore)
	if !ok {
		return nil, errors.New("hyperblobs: the core is read-only")
	}
	b.mu.Lock()
	h := ac.Head()
	return &Writer{b: b, core: ac, id: ID{ByteOffset: h.ByteLength, BlockOffset: h.Length}}, nil
}

// Writer cuts what is written into blocks and appends them.
type Writer struct {
	b       *Blobs
	core    AppendCore
	id      ID
	buf     []byte   // the incomplete last block
	pending [][]byte // complete blocks not yet appended
	done    bool
	err     error
}

const flushBytes = 16 << 20

// Write adds p to the blob.
func (w *Writer) Write(p []byte) (int, error) {
	if w.done {
		return 0, errors.New("hyperblobs: write after close")
	}
	if w.err != nil {
		return 0, w.err
	}
	n := len(p)
	bs := w.b.blockSize
	for len(p) > 0 {
		if len(w.buf) == 0 && len(p) >= bs {
			w.pending = append(w.pending, append([]byte(nil), p[:bs]...))
			p = p[bs:]
		} else {
			take := min(bs-len(w.buf), len(p))
			w.buf = append(w.buf, p[:take]...)
			p = p[take:]
			if len(w.buf) == bs {
				w.pending = append(w.pending, w.buf)
				w.buf = nil
			}
		}
		if len(w.pending)*bs >= flushBytes {
			if err := w.flush(); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

func (w *Writer) flush() error {
	if len(w.pending) == 0 {
		return nil
	}
	if _, err := w.core.Append(w.pending...); err != nil {
		w.err = fmt.Errorf("hyperblobs: append: %w", err)
		return w.err
	}
	for _, p := range w.pending {
		w.id.BlockLength++
		w.id.ByteLength += uint64(len(p))
	}
	w.pending = nil
	return nil
}

// Close appends what is left and returns the blob's ID.
func (w *Writer) Close() (ID, error) {
	if w.done {
		return w.id, w.err
	}
	w.done = true
	defer w.b.mu.Unlock()
	if w.err != nil {
		return ID{}, w.err
	}
	if len(w.buf) > 0 {
		w.pending = append(w.pending, w.buf)
		w.buf = nil
	}
	if err := w.flush(); err != nil {
		return ID{}, err
	}
	return w.id, nil
}

// Get returns the whole blob.
func (b *Blobs) Get(id ID) ([]byte, error) {
	if id.ByteLength > 1<<40 {
		return nil, fmt.Errorf("%w: %d bytes", ErrCorrupt, id.ByteLength)
	}
	out := make([]byte, 0, min(id.ByteLength, 64<<20))
	r := b.Reader(id)
	for {
		if len(out) == cap(out) {
			out = append(out, 0)[:len(out)]
		}
		n, err := r.Read(out[len(out):cap(out)])
		out = out[:len(out)+n]
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// Reader streams a blob block by block, checking that its blocks add up to
// its ID.
func (b *Blobs) Reader(id ID) io.Reader {
	return &reader{b: b, id: id, next: id.BlockOffset}
}

type reader struct {
	b    *Blobs
	id   ID
	next uint64 // next block
	read uint64 // bytes returned
	cur  []byte
}

func (r *reader) Read(p []byte) (int, error) {
	for len(r.cur) == 0 {
		if r.next >= r.id.BlockOffset+r.id.BlockLength {
			if r.read != r.id.ByteLength {
				return 0, fmt.Errorf("%w: blocks hold %d bytes, id says %d", ErrCorrupt, r.read, r.id.ByteLength)
			}
			return 0, io.EOF
		}
		blk, err := r.b.core.Get(r.next)
		if err != nil {
			return 0, fmt.Errorf("hyperblobs: read block %d: %w", r.next, err)
		}
		r.next++
		if uint64(len(blk)) > r.id.ByteLength-r.read {
			return 0, fmt.Errorf("%w: blocks hold more than %d bytes", ErrCorrupt, r.id.ByteLength)
		}
		r.cur = blk
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	r.read += uint64(n)
	return n, nil
}
