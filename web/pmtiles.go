package web

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
)

// PMTiles v3 (a single-file tile archive read by ranges): a 127-byte
// header, a root directory, optional leaf directories, tile data.
// Directories list runs of tiles by their Hilbert tile id.

const pmHeaderLen = 127

type pmEntry struct {
	TileID    uint64
	Offset    uint64
	Length    uint32
	RunLength uint32 // 0: a leaf directory
}

type pmtiles struct {
	f                      *os.File
	rootOff, rootLen       uint64
	leafOff, dataOff       uint64
	internalGzip, tileGzip bool
	format                 string
	minZoom, maxZoom       int
	bounds                 string
	root                   []pmEntry
	mu                     sync.Mutex
	leaves                 map[[2]uint64][]pmEntry // (offset, length) → entries
}

var pmTypes = map[byte]string{2: "png", 3: "jpg", 4: "webp", 5: "avif"}

func openPMTiles(path string) (*pmtiles, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("basemap %s: %w", path, err)
	}
	p, err := readPMTiles(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("basemap %s: %w", path, err)
	}
	return p, nil
}

func readPMTiles(f *os.File) (*pmtiles, error) {
	h := make([]byte, pmHeaderLen)
	if _, err := f.ReadAt(h, 0); err != nil {
		return nil, fmt.Errorf("not a PMTiles file: %w", err)
	}
	if string(h[:7]) != "PMTiles" || h[7] != 3 {
		return nil, errors.New("not a PMTiles version 3 file")
	}
	u := func(at int) uint64 { return binary.LittleEndian.Uint64(h[at:]) }
	p := &pmtiles{f: f, rootOff: u(8), rootLen: u(16), leafOff: u(40), dataOff: u(56), leaves: map[[2]uint64][]pmEntry{}}
	switch h[97] {
	case 1:
	case 2:
		p.internalGzip = true
	default:
		return nil, fmt.Errorf("its directories are compressed with method %d; fieldsync reads none or gzip", h[97])
	}
	switch h[98] {
	case 0, 1:
	case 2:
		p.tileGzip = true
	default:
		return nil, fmt.Errorf("its tiles are compressed with method %d; fieldsync reads none or gzip", h[98])
	}
	p.format = pmTypes[h[99]]
	if p.format == "" {
		return nil, fmt.Errorf("it holds tiles of type %d (1 is vector); the map shows raster tiles only (png, jpg, webp, avif)", h[99])
	}
	p.minZoom, p.maxZoom = int(h[100]), int(h[101])
	e7 := func(at int) float64 { return float64(int32(binary.LittleEndian.Uint32(h[at:]))) / 1e7 }
	p.bounds = fmt.Sprintf("%g,%g,%g,%g", e7(102), e7(106), e7(110), e7(114))
	if p.rootLen > 1<<24 {
		return nil, errors.New("its root directory is implausibly large")
	}
	root, err := p.directory(p.rootOff, p.rootLen)
	if err != nil {
		return nil, fmt.Errorf("root directory: %w", err)
	}
	p.root = root
	return p, nil
}

func (p *pmtiles) read(off, n uint64, gz bool) ([]byte, error) {
	if n > 64<<20 {
		return nil, errors.New("a part larger than 64 MiB")
	}
	b := make([]byte, n)
	if _, err := p.f.ReadAt(b, int64(off)); err != nil {
		return nil, err
	}
	if !gz {
		return b, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(zr, 64<<20))
}

func (p *pmtiles) directory(off, n uint64) ([]pmEntry, error) {
	b, err := p.read(off, n, p.internalGzip)
	if err != nil {
		return nil, err
	}
	return decodeDirectory(b)
}

// decodeDirectory reads entries: their count, then tile ids (deltas), run
// lengths, lengths and offsets (0: right after the previous tile).
func decodeDirectory(b []byte) ([]pmEntry, error) {
	r := bytes.NewReader(b)
	next := func() (uint64, error) { return binary.ReadUvarint(r) }
	n, err := next()
	if err != nil {
		return nil, err
	}
	if n > uint64(len(b)) { // every entry takes at least 4 bytes
		return nil, errors.New("a directory claims more entries than it holds")
	}
	es := make([]pmEntry, n)
	var id uint64
	for i := range es {
		v, err := next()
		if err != nil {
			return nil, err
		}
		id += v
		es[i].TileID = id
	}
	for i := range es {
		v, err := next()
		if err != nil {
			return nil, err
		}
		es[i].RunLength = uint32(v)
	}
	for i := range es {
		v, err := next()
		if err != nil {
			return nil, err
		}
		es[i].Length = uint32(v)
	}
	for i := range es {
		v, err := next()
		if err != nil {
			return nil, err
		}
		if v == 0 && i > 0 {
			es[i].Offset = es[i-1].Offset + uint64(es[i-1].Length)
		} else if v == 0 {
			return nil, errors.New("the first entry has no offset")
		} else {
			es[i].Offset = v - 1
		}
	}
	return es, nil
}

// pmTileID is the tile's position on PMTiles' Hilbert curve, after every
// tile of the zoom levels above.
func pmTileID(z int, x, y uint64) uint64 {
	acc := (uint64(1)<<(2*z) - 1) / 3
	for s := uint64(1) << max(z-1, 0); s > 0 && z > 0; s >>= 1 {
		var rx, ry uint64
		if x&s != 0 {
			rx = 1
		}
		if y&s != 0 {
			ry = 1
		}
		acc += s * s * ((3 * rx) ^ ry)
		if ry == 0 {
			if rx == 1 {
				x, y = s-1-(x&(s-1)), s-1-(y&(s-1))
			}
			x, y = y, x
		}
	}
	return acc
}

// find returns the entry covering id: a tile, or a leaf directory.
func find(es []pmEntry, id uint64) (pmEntry, bool) {
	i := sort.Search(len(es), func(i int) bool { return es[i].TileID > id }) - 1
	if i < 0 {
		return pmEntry{}, false
	}
	e := es[i]
	if e.RunLength == 0 || id-e.TileID < uint64(e.RunLength) {
		return e, true
	}
	return pmEntry{}, false
}

// tile returns the bytes of tile z/x/y (XYZ), nil if the file has none.
func (p *pmtiles) tile(z, x, y int) ([]byte, error) {
	id := pmTileID(z, uint64(x), uint64(y))
	dir := p.root
	for depth := 0; depth < 4; depth++ {
		e, ok := find(dir, id)
		if !ok {
			return nil, nil
		}
		if e.RunLength > 0 {
			return p.read(p.dataOff+e.Offset, uint64(e.Length), p.tileGzip)
		}
		key := [2]uint64{e.Offset, uint64(e.Length)}
		p.mu.Lock()
		leaf, ok := p.leaves[key]
		p.mu.Unlock()
		if !ok {
			var err error
			if leaf, err = p.directory(p.leafOff+e.Offset, uint64(e.Length)); err != nil {
				return nil, fmt.Errorf("leaf directory: %w", err)
			}
			p.mu.Lock()
			if len(p.leaves) > 256 {
				clear(p.leaves)
			}
			p.leaves[key] = leaf
			p.mu.Unlock()
		}
		dir = leaf
	}
	return nil, errors.New("directories nested too deep")
}
