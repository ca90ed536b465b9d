package usbsync

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/fieldsync/fieldsync/hypercore"
	"github.com/fieldsync/fieldsync/observations/record"
	"golang.org/x/crypto/blake2b"
	"golang.org/x/crypto/chacha20poly1305"
)

// The head file: magic, format version, folder id, project MAC, then the
// sealed body (nonce and ciphertext).
const (
	headName    = "head"
	magic       = "FIELDSYNC-FOLDER"
	version     = 1
	idSize      = 16
	macSize     = 32
	nonceSize   = chacha20poly1305.NonceSizeX
	headPrefix  = len(magic) + 1 + idSize + macSize
	segSuffix   = ".seg"
	segNameSize = 16
)

// Limits on what a head or a segment may say (a damaged or hostile folder
// must not make us allocate without bound).
const (
	maxHead        = 64 << 20
	maxChunk       = hypercore.MaxBlockSize + 1<<20
	maxCores       = 100000
	maxSegments    = 1 << 20
	maxSignature   = 1 << 16
	maxManifest    = 1 << 16
	chunkTarget    = 1 << 20   // block bytes gathered per sealed chunk
	maxSegBlocks   = 1 << 18   // blocks per segment (bounds its node chunk)
	DefaultSegment = 2<<30 - 1 // no file of 2 GiB or more (FAT32 stops at 4)
)

// Chunk types.
const (
	chunkBlocks = 'B'
	chunkNodes  = 'N'
)

// keys are the folder's secrets, derived from the project key and the
// folder id.
type keys struct {
	mac [32]byte
	enc [32]byte
}

func deriveKeys(projectKey [32]byte, id []byte) keys {
	var k keys
	copy(k.mac[:], keyed(projectKey, "fieldsync sync folder mac v1", id))
	copy(k.enc[:], keyed(projectKey, "fieldsync sync folder key v1", id))
	return k
}

func keyed(key [32]byte, tag string, data []byte) []byte {
	h, _ := blake2b.New256(key[:])
	h.Write([]byte(tag))
	h.Write([]byte{0})
	h.Write(data)
	return h.Sum(nil)
}

// folderMAC identifies the project: keyed by the project key, so it says
// nothing to anyone without it, and salted by the folder id, so two sticks
// of one project cannot be linked.
func folderMAC(projectKey [32]byte, id []byte) []byte {
	return keyed(projectKey, "fieldsync sync folder project v1", id)
}

// segment is one file of a core's blocks [Start, Start+Count).
type segment struct {
	Name     [segNameSize]byte
	Start    uint64
	Count    uint64
	Size     uint64 // bytes of the file
	NodesOff uint64 // where its node chunk starts
}

func (s *segment) fileName() string { return hex.EncodeToString(s.Name[:]) + segSuffix }

// folderCore is one core as the folder holds it: the writer's signed head
// and the segments holding blocks [0, Length).
type folderCore struct {
	Key        [32]byte
	Kind       record.CoreKind
	Manifest   []byte
	Fork       uint64
	Length     uint64
	ByteLength uint64
	Signature  []byte
	Segments   []segment
}

// head is the decoded folder head.
type head struct {
	ID    [idSize]byte
	Gen   uint64
	Cores map[[32]byte]*folderCore
}

func (h *head) encodeBody() []byte {
	b := binary.AppendUvarint(nil, h.Gen)
	b = binary.AppendUvarint(b, uint64(len(h.Cores)))
	for _, c := range sortedCores(h.Cores) {
		b = append(b, c.Key[:]...)
		b = append(b, byte(c.Kind))
		b = binary.AppendUvarint(b, uint64(len(c.Manifest)))
		b = append(b, c.Manifest...)
		b = binary.AppendUvarint(b, c.Fork)
		b = binary.AppendUvarint(b, c.Length)
		b = binary.AppendUvarint(b, c.ByteLength)
		b = binary.AppendUvarint(b, uint64(len(c.Signature)))
		b = append(b, c.Signature...)
		b = binary.AppendUvarint(b, uint64(len(c.Segments)))
		for _, s := range c.Segments {
			b = append(b, s.Name[:]...)
			b = binary.AppendUvarint(b, s.Start)
			b = binary.AppendUvarint(b, s.Count)
			b = binary.AppendUvarint(b, s.Size)
			b = binary.AppendUvarint(b, s.NodesOff)
		}
	}
	return b
}

// reader decodes varints and byte strings, remembering the first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errors.New("bad number")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes(n uint64) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = errors.New("short record")
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) lenBytes(limit uint64) []byte {
	n := r.uvarint()
	if n > limit {
		if r.err == nil {
			r.err = errors.New("field too large")
		}
		return nil
	}
	return bytes.Clone(r.bytes(n))
}

func decodeBody(b []byte) (*head, error) {
	r := &reader{b: b}
	h := &head{Gen: r.uvarint(), Cores: map[[32]byte]*folderCore{}}
	n := r.uvarint()
	if n > maxCores {
		return nil, errors.New("too many cores")
	}
	for range n {
		c := &folderCore{}
		copy(c.Key[:], r.bytes(32))
		if k := r.bytes(1); k != nil {
			c.Kind = record.CoreKind(k[0])
		}
		c.Manifest = r.lenBytes(maxManifest)
		c.Fork = r.uvarint()
		c.Length = r.uvarint()
		c.ByteLength = r.uvarint()
		c.Signature = r.lenBytes(maxSignature)
		ns := r.uvarint()
		if ns > maxSegments {
			return nil, errors.New("too many segments")
		}
		next := uint64(0)
		for range ns {
			var s segment
			copy(s.Name[:], r.bytes(segNameSize))
			s.Start, s.Count, s.Size, s.NodesOff = r.uvarint(), r.uvarint(), r.uvarint(), r.uvarint()
			if r.err == nil && (s.Start != next || s.Count == 0 || s.NodesOff > s.Size || s.Count > maxSegBlocks) {
				return nil, errors.New("segments do not follow each other")
			}
			next = s.Start + s.Count
			c.Segments = append(c.Segments, s)
		}
		if r.err != nil {
			return nil, r.err
		}
		if next != c.Length {
			return nil, errors.New("segments do not cover the core")
		}
		if _, dup := h.Cores[c.Key]; dup {
			return nil, errors.New("a core listed twice")
		}
		h.Cores[c.Key] = c
	}
	if r.err != nil {
		return nil, r.err
	}
	if len(r.b) != 0 {
		return nil, errors.New("trailing bytes")
	}
	return h, nil
}

// headAD is the head's clear prefix, authenticated with its body.
func headPrefixBytes(id []byte, mac []byte) []byte {
	b := append([]byte(magic), version)
	b = append(b, id...)
	return append(b, mac...)
}

func sealHead(projectKey [32]byte, h *head) ([]byte, error) {
	k := deriveKeys(projectKey, h.ID[:])
	prefix := headPrefixBytes(h.ID[:], folderMAC(projectKey, h.ID[:]))
	aead, err := chacha20poly1305.NewX(k.enc[:])
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, nonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out := append(prefix, nonce...)
	return aead.Seal(out, nonce, h.encodeBody(), prefix), nil
}

// openHead reads and checks the head; it tells apart a file that is no
// folder head, a newer format, another project's folder and a damaged one.
func openHead(projectKey [32]byte, b []byte) (*head, error) {
	if len(b) < len(magic)+1 || string(b[:len(magic)]) != magic {
		return nil, ErrNotFolder
	}
	if v := b[len(magic)]; v != version {
		if v > version {
			return nil, fmt.Errorf("%w (format %d; this fieldsync reads format %d)", ErrNewerVersion, v, version)
		}
		return nil, ErrNotFolder
	}
	if len(b) < headPrefix+nonceSize {
		return nil, fmt.Errorf("%w: the head is cut short", ErrDamaged)
	}
	id := b[len(magic)+1 : len(magic)+1+idSize]
	mac := b[len(magic)+1+idSize : headPrefix]
	if !hmacEqual(mac, folderMAC(projectKey, id)) {
		return nil, ErrOtherProject
	}
	k := deriveKeys(projectKey, id)
	aead, err := chacha20poly1305.NewX(k.enc[:])
	if err != nil {
		return nil, err
	}
	nonce := b[headPrefix : headPrefix+nonceSize]
	body, err := aead.Open(nil, nonce, b[headPrefix+nonceSize:], b[:headPrefix])
	if err != nil {
		return nil, fmt.Errorf("%w: the head fails its check", ErrDamaged)
	}
	h, err := decodeBody(body)
	if err != nil {
		return nil, fmt.Errorf("%w: the head: %v", ErrDamaged, err)
	}
	copy(h.ID[:], id)
	return h, nil
}

func hmacEqual(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	var v byte
	for i := range a {
		v |= a[i] ^ b[i]
	}
	return v == 0
}

// chunkAD binds a chunk to its segment and position.
func chunkAD(name [segNameSize]byte, n uint64) []byte {
	b := append([]byte("fieldsync sync folder chunk v1\x00"), name[:]...)
	return binary.BigEndian.AppendUint64(b, n)
}

// segWriter writes one segment: sealed chunks, each a 4-byte length, a
// nonce and the ciphertext.
type segWriter struct {
	seg   segment
	w     *bufio.Writer
	aead  cipherAEAD
	n     uint64 // chunks written
	nonce [nonceSize]byte
	buf   []byte
}

type cipherAEAD interface {
	Seal(dst, nonce, plaintext, additionalData []byte) []byte
	Open(dst, nonce, ciphertext, additionalData []byte) ([]byte, error)
	Overhead() int
}

func (sw *segWriter) chunk(plain []byte) error {
	if _, err := rand.Read(sw.nonce[:]); err != nil {
		return err
	}
	need := 4 + nonceSize + len(plain) + sw.aead.Overhead()
	if cap(sw.buf) < need {
		sw.buf = make([]byte, 0, need)
	}
	b := binary.LittleEndian.AppendUint32(sw.buf[:0], uint32(need-4))
	b = append(b, sw.nonce[:]...)
	b = sw.aead.Seal(b, sw.nonce[:], plain, chunkAD(sw.seg.Name, sw.n))
	sw.n++
	if _, err := sw.w.Write(b); err != nil {
		return err
	}
	sw.seg.Size += uint64(len(b))
	return nil
}

// chunkSize is the bytes a chunk of plain bytes takes in a segment.
func chunkSize(aead cipherAEAD, plain int) uint64 {
	return uint64(4 + nonceSize + plain + aead.Overhead())
}

// segReader reads one segment's chunks in order.
type segReader struct {
	seg  segment
	core [32]byte
	f    *os.File
	r    *bufio.Reader
	aead cipherAEAD
	n    uint64 // chunks read
	off  uint64
}

// SegmentError names a segment that cannot be used.
type SegmentError struct {
	File   string // the segment's file name in the folder
	Core   string // the core it belongs to (8 hex digits)
	Offset uint64
	Reason string
}

func (e *SegmentError) Error() string {
	return fmt.Sprintf("segment %s (core %s) of the sync folder is damaged at byte %d: %s", e.File, e.Core, e.Offset, e.Reason)
}

func (e *SegmentError) Unwrap() error { return ErrDamaged }

func (sr *segReader) fail(reason string) error {
	return &SegmentError{File: sr.seg.fileName(), Core: hex.EncodeToString(sr.core[:4]), Offset: sr.off, Reason: reason}
}

func openSegment(dir string, core [32]byte, s segment, aead cipherAEAD) (*segReader, error) {
	sr := &segReader{seg: s, core: core, aead: aead}
	f, err := os.Open(filepath.Join(dir, s.fileName()))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, sr.fail("the file is missing")
		}
		return nil, fmt.Errorf("open segment %s: %w", s.fileName(), err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open segment %s: %w", s.fileName(), err)
	}
	if uint64(st.Size()) < s.Size {
		f.Close()
		sr.off = uint64(st.Size())
		return nil, sr.fail(fmt.Sprintf("the file is truncated (%d of %d bytes)", st.Size(), s.Size))
	}
	sr.f = f
	sr.r = bufio.NewReaderSize(f, 1<<20)
	return sr, nil
}

func (sr *segReader) close() {
	if sr.f != nil {
		sr.f.Close()
	}
}

// seekNodes positions the reader at the node chunk.
func (sr *segReader) seekNodes() error {
	if _, err := sr.f.Seek(int64(sr.seg.NodesOff), io.SeekStart); err != nil {
		return fmt.Errorf("read segment %s: %w", sr.seg.fileName(), err)
	}
	sr.r.Reset(sr.f)
	sr.off = sr.seg.NodesOff
	sr.n = ^uint64(0) // the node chunk is numbered last
	return nil
}

// next returns the next chunk's plaintext (valid until the next call).
func (sr *segReader) next() ([]byte, error) {
	var lb [4]byte
	if sr.off+4 > sr.seg.Size {
		return nil, sr.fail("a chunk runs past the end the head records")
	}
	if _, err := io.ReadFull(sr.r, lb[:]); err != nil {
		return nil, sr.fail("cut short: " + err.Error())
	}
	n := uint64(binary.LittleEndian.Uint32(lb[:]))
	if n < nonceSize+uint64(sr.aead.Overhead()) || n > maxChunk || sr.off+4+n > sr.seg.Size {
		return nil, sr.fail("a chunk has an impossible length")
	}
	b := make([]byte, n) // not reused: verified blocks point into it until stored
	if _, err := io.ReadFull(sr.r, b); err != nil {
		return nil, sr.fail("cut short: " + err.Error())
	}
	idx := sr.n
	if idx == ^uint64(0) {
		idx = nodesChunkIndex
	}
	plain, err := sr.aead.Open(b[nonceSize:nonceSize], b[:nonceSize], b[nonceSize:], chunkAD(sr.seg.Name, idx))
	if err != nil {
		return nil, sr.fail("its bytes do not match their checksum")
	}
	sr.off += 4 + n
	if sr.n != ^uint64(0) {
		sr.n++
	}
	return plain, nil
}

// nodesChunkIndex numbers the node chunk in its authenticated data.
const nodesChunkIndex = 1<<64 - 1

func encodeNodes(nodes []hypercore.Node) []byte {
	b := []byte{chunkNodes}
	b = binary.AppendUvarint(b, uint64(len(nodes)))
	for _, n := range nodes {
		b = binary.AppendUvarint(b, n.Index)
		b = binary.AppendUvarint(b, n.Size)
		b = append(b, n.Hash[:]...)
	}
	return b
}

func decodeNodes(b []byte, add func(hypercore.Node)) error {
	if len(b) == 0 || b[0] != chunkNodes {
		return errors.New("not a node chunk")
	}
	r := &reader{b: b[1:]}
	n := r.uvarint()
	if n > uint64(len(b)) {
		return errors.New("bad node count")
	}
	for range n {
		var nd hypercore.Node
		nd.Index = r.uvarint()
		nd.Size = r.uvarint()
		copy(nd.Hash[:], r.bytes(32))
		if r.err != nil {
			return r.err
		}
		add(nd)
	}
	if r.err != nil || len(r.b) != 0 {
		return errors.New("bad node chunk")
	}
	return nil
}

// newSegName is a random name: it says nothing and never collides with a
// file a crashed attempt left behind.
func newSegName() ([segNameSize]byte, error) {
	var n [segNameSize]byte
	_, err := rand.Read(n[:])
	return n, err
}
