package web

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Tile ids as the pmtiles npm package (4.3.0, zxyToTileId) computes them.
func TestPMTileID(t *testing.T) {
	for _, c := range [][4]uint64{{0, 0, 0, 0}, {1, 0, 0, 1}, {1, 0, 1, 2}, {1, 1, 1, 3}, {1, 1, 0, 4}, {2, 0, 0, 5}, {2, 3, 0, 20},
		{2, 1, 2, 12}, {5, 7, 19, 623}, {12, 1234, 3001, 13268028}, {20, 777777, 123456, 1391523793496}} {
		if got := pmTileID(int(c[0]), c[1], c[2]); got != c[3] {
			t.Errorf("%d/%d/%d: %d, want %d", c[0], c[1], c[2], got, c[3])
		}
	}
}

func encodeDirectory(es []pmEntry) []byte {
	var b []byte
	b = binary.AppendUvarint(b, uint64(len(es)))
	var last uint64
	for _, e := range es {
		b = binary.AppendUvarint(b, e.TileID-last)
		last = e.TileID
	}
	for _, e := range es {
		b = binary.AppendUvarint(b, uint64(e.RunLength))
	}
	for _, e := range es {
		b = binary.AppendUvarint(b, uint64(e.Length))
	}
	for i, e := range es {
		if i > 0 && e.Offset == es[i-1].Offset+uint64(es[i-1].Length) {
			b = binary.AppendUvarint(b, 0)
		} else {
			b = binary.AppendUvarint(b, e.Offset+1)
		}
	}
	return b
}

func gz(b []byte) []byte {
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	zw.Write(b)
	zw.Close()
	return out.Bytes()
}

// writePMTiles writes a raster archive: tile 0/0/0, and behind a leaf
// directory a run of two zoom-2 tiles sharing their bytes and one more.
func writePMTiles(t *testing.T, tileType byte) (string, map[[3]int][]byte) {
	t.Helper()
	t0, t12, t20 := []byte("\x89PNG zoom 0"), []byte("\x89PNG zoom 2, twice"), []byte("\x89PNG zoom 2, corner")
	data := append(append(append([]byte{}, t0...), t12...), t20...)
	leaf := gz(encodeDirectory([]pmEntry{
		{TileID: 12, Offset: uint64(len(t0)), Length: uint32(len(t12)), RunLength: 2},
		{TileID: 20, Offset: uint64(len(t0) + len(t12)), Length: uint32(len(t20)), RunLength: 1},
	}))
	root := gz(encodeDirectory([]pmEntry{
		{TileID: 0, Offset: 0, Length: uint32(len(t0)), RunLength: 1},
		{TileID: 5, Offset: 0, Length: uint32(len(leaf)), RunLength: 0},
	}))
	h := make([]byte, pmHeaderLen)
	copy(h, "PMTiles")
	h[7] = 3
	put := func(at int, v uint64) { binary.LittleEndian.PutUint64(h[at:], v) }
	rootOff := uint64(pmHeaderLen)
	leafOff := rootOff + uint64(len(root))
	dataOff := leafOff + uint64(len(leaf))
	put(8, rootOff)
	put(16, uint64(len(root)))
	put(24, dataOff+uint64(len(data)))
	put(32, 0)
	put(40, leafOff)
	put(48, uint64(len(leaf)))
	put(56, dataOff)
	put(64, uint64(len(data)))
	h[96], h[97], h[98], h[99], h[100], h[101] = 1, 2, 1, tileType, 0, 2
	file := append(append(append(h, root...), leaf...), data...)
	path := filepath.Join(t.TempDir(), "base.pmtiles")
	if err := os.WriteFile(path, file, 0o644); err != nil {
		t.Fatal(err)
	}
	// The tile after 2/1/2 on the curve shares its bytes.
	var x13, y13 int
	for x := range 4 {
		for y := range 4 {
			if pmTileID(2, uint64(x), uint64(y)) == 13 {
				x13, y13 = x, y
			}
		}
	}
	return path, map[[3]int][]byte{{0, 0, 0}: t0, {2, 1, 2}: t12, {2, x13, y13}: t12, {2, 3, 0}: t20}
}

func TestPMTilesBasemap(t *testing.T) {
	w := newWorld(t, nil)
	path, tiles := writePMTiles(t, 2)
	ts := w.server(t, Config{Basemap: path})
	for zxy, want := range tiles {
		resp, body := get(t, ts.URL+fmt.Sprintf("/api/tiles/%d/%d/%d", zxy[0], zxy[1], zxy[2]))
		if resp.StatusCode != 200 || !bytes.Equal(body, want) || resp.Header.Get("Content-Type") != "image/png" {
			t.Errorf("tile %v: %d %q", zxy, resp.StatusCode, body)
		}
	}
	for _, p := range []string{"/api/tiles/1/0/0", "/api/tiles/2/0/0", "/api/tiles/3/0/0"} {
		if resp, _ := get(t, ts.URL+p); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", p, resp.StatusCode)
		}
	}
	vector, _ := writePMTiles(t, 1)
	if _, err := New(Config{Project: w.p, Index: w.x, Basemap: vector}); err == nil || !strings.Contains(err.Error(), "raster") {
		t.Errorf("a vector archive: %v", err)
	}
	junk := filepath.Join(t.TempDir(), "junk.pmtiles")
	os.WriteFile(junk, append([]byte("PMTiles\x03"), bytes.Repeat([]byte{0xff}, 200)...), 0o644)
	if _, err := New(Config{Project: w.p, Index: w.x, Basemap: junk}); err == nil {
		t.Error("a damaged archive was accepted")
	}
}
