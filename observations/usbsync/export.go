package usbsync

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/fieldsync/fieldsync/hypercore"
	"github.com/fieldsync/fieldsync/internal/atomicfile"
)

// exportAll appends to the folder what this device holds that it lacks,
// then writes the head (last: until then the folder is as it was).
func (s *syncer) exportAll(ctx context.Context) (err error) {
	var written []string // segments of this run, removed if the head is not written
	defer func() {
		if err != nil {
			for _, f := range written {
				os.Remove(f)
			}
		}
	}()
	if s.res.Created {
		if err := os.Mkdir(s.folder, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return writeErr(s.folder, err)
		}
	}
	keys := make([][32]byte, 0, len(s.cores))
	for k := range s.cores {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return string(keys[i][:]) < string(keys[j][:]) })
	changed := false
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			return err
		}
		l := s.cores[k]
		fc, segs, err := s.exportCore(ctx, l, &written)
		if err != nil {
			return err
		}
		if fc != nil {
			fc.Segments = append(fc.Segments, segs...)
			s.h.Cores[k] = fc
			changed = true
		}
	}
	if !changed && !s.res.Created {
		return nil
	}
	s.h.Gen++
	b, err := sealHead(s.p.Key, s.h)
	if err != nil {
		return err
	}
	s.step()
	if err := atomicfile.WriteFile(filepath.Join(s.folder, headName), b, 0o644); err != nil {
		return writeErr(s.folder, err)
	}
	s.step()
	return nil
}

// exportCore writes the blocks of l the folder lacks as new segments and
// returns the core's new folder entry (nil if nothing is to be written).
func (s *syncer) exportCore(ctx context.Context, l *local, written *[]string) (*folderCore, []segment, error) {
	if l.c == nil {
		return nil, nil, nil
	}
	hd := l.c.Head()
	have := l.c.Contiguous()
	if have == 0 {
		return nil, nil, nil
	}
	if have != hd.Length {
		// Only a signed head with all its blocks can be handed on.
		s.res.Skipped = append(s.res.Skipped, fmt.Sprintf("core %s: this device holds %d of its %d blocks; not written to the folder", short(l.key), have, hd.Length))
		return nil, nil, nil
	}
	old := s.h.Cores[l.key]
	var from uint64
	if old != nil {
		if old.Length >= have {
			return nil, nil, nil
		}
		if old.Fork != hd.Fork {
			s.res.Skipped = append(s.res.Skipped, fmt.Sprintf("core %s: the folder holds fork %d, this device fork %d", short(l.key), old.Fork, hd.Fork))
			return nil, nil, nil
		}
		if err := s.checkPrefix(l, old); err != nil {
			s.res.Skipped = append(s.res.Skipped, fmt.Sprintf("core %s: the folder's copy does not match this device's (%v)", short(l.key), err))
			return nil, nil, nil
		}
		from = old.Length
	}
	var segs []segment
	for from < have {
		seg, err := s.writeSegment(ctx, l, from, have, written)
		if err != nil {
			return nil, nil, err
		}
		segs = append(segs, seg)
		from += seg.Count
	}
	fc := &folderCore{Key: l.key, Kind: l.kind, Manifest: l.c.Manifest().Encode(), Fork: hd.Fork, Length: hd.Length, ByteLength: hd.ByteLength, Signature: hd.Signature}
	if old != nil {
		if !l.own {
			fc.Kind = old.Kind
		}
		fc.Segments = old.Segments
	}
	s.res.CoresOut++
	return fc, segs, nil
}

// checkPrefix checks that the folder's signed head of a core is one of
// this device's tree (same writer, no fork): our roots at its length must
// carry its signature.
func (s *syncer) checkPrefix(l *local, old *folderCore) error {
	var roots []hypercore.Node
	for _, idx := range fullRoots(old.Length) {
		n, err := s.node(l, idx)
		if err != nil {
			return err
		}
		roots = append(roots, n)
	}
	return l.c.Verifier().Verify(hypercore.TreeHash(roots), old.Length, old.Fork, old.Signature)
}

// node is tree node idx of a core, computed from its children when a
// replica did not store it.
func (s *syncer) node(l *local, idx uint64) (hypercore.Node, error) {
	n, err := l.c.Node(idx)
	if err == nil {
		return n, nil
	}
	d := depth(idx)
	if d == 0 {
		return hypercore.Node{}, err
	}
	half := uint64(1) << (d - 1)
	a, err := s.node(l, idx-half)
	if err != nil {
		return hypercore.Node{}, err
	}
	b, err := s.node(l, idx+half)
	if err != nil {
		return hypercore.Node{}, err
	}
	return hypercore.ParentNode(a, b), nil
}

// writeSegment writes blocks from `from` (up to end) to a new segment, as
// many as fit under the limit, and commits it.
func (s *syncer) writeSegment(ctx context.Context, l *local, from, end uint64, written *[]string) (segment, error) {
	name, err := newSegName()
	if err != nil {
		return segment{}, err
	}
	seg := segment{Name: name, Start: from}
	path := filepath.Join(s.folder, seg.fileName())
	f, err := atomicfile.New(path, 0o644)
	if err != nil {
		return segment{}, writeErr(s.folder, err)
	}
	defer f.Abort()
	sw := &segWriter{seg: seg, w: bufio.NewWriterSize(f, 1<<20), aead: s.aead}
	limit := uint64(s.opts.SegmentLimit)
	next := from
	var plain []byte
	for next < end && sw.seg.Count < maxSegBlocks {
		if err := ctx.Err(); err != nil {
			return segment{}, err
		}
		// Gather a chunk of blocks.
		plain = append(plain[:0], chunkBlocks)
		var vals [][]byte
		size := 0
		for i := next; i < end && sw.seg.Count+uint64(len(vals)) < maxSegBlocks && (len(vals) == 0 || size < chunkTarget); i++ {
			v, err := s.block(l, i)
			if err != nil {
				return segment{}, err
			}
			vals = append(vals, v)
			size += len(v) + binary.MaxVarintLen32
		}
		// Shrink it until it fits under the limit with the node chunk.
		for {
			est := sw.seg.Size + chunkSize(s.aead, size+20) + nodesEstimate(s.aead, sw.seg.Count+uint64(len(vals)))
			if est <= limit || len(vals) == 0 {
				break
			}
			size -= len(vals[len(vals)-1]) + binary.MaxVarintLen32
			vals = vals[:len(vals)-1]
		}
		if len(vals) == 0 {
			if sw.seg.Count == 0 {
				return segment{}, fmt.Errorf("the segment limit of %d bytes cannot hold block %d of core %s", limit, next, short(l.key))
			}
			break
		}
		plain = binary.AppendUvarint(plain, next)
		plain = binary.AppendUvarint(plain, uint64(len(vals)))
		for _, v := range vals {
			plain = binary.AppendUvarint(plain, uint64(len(v)))
			plain = append(plain, v...)
		}
		if err := sw.chunk(plain); err != nil {
			return segment{}, writeErr(s.folder, err)
		}
		s.step()
		for _, v := range vals {
			s.res.BlocksOut++
			s.res.BytesOut += uint64(len(v))
		}
		sw.seg.Count += uint64(len(vals))
		next += uint64(len(vals))
	}
	// The node chunk: every node the segment's blocks complete.
	var nodes []hypercore.Node
	for i := sw.seg.Start; i < next; i++ {
		for d := uint(0); ; d++ {
			if (i+1)%(uint64(1)<<d) != 0 {
				break
			}
			n, err := s.node(l, 2*i-(uint64(1)<<d-1))
			if err != nil {
				return segment{}, fmt.Errorf("core %s: tree node: %w", short(l.key), err)
			}
			nodes = append(nodes, n)
		}
	}
	sw.seg.NodesOff = sw.seg.Size
	sw.n = nodesChunkIndex
	if err := sw.chunk(encodeNodes(nodes)); err != nil {
		return segment{}, writeErr(s.folder, err)
	}
	if err := sw.w.Flush(); err != nil {
		return segment{}, writeErr(s.folder, err)
	}
	s.step()
	if err := f.Commit(); err != nil {
		return segment{}, writeErr(s.folder, err)
	}
	s.step()
	*written = append(*written, path)
	return sw.seg, nil
}

// block reads block i for the folder: checked against its stored checksum
// (the reader verifies it against the signed tree).
func (s *syncer) block(l *local, i uint64) ([]byte, error) {
	p, err := l.c.Proof(hypercore.ProofRequest{Fork: l.c.Head().Fork, Block: &hypercore.BlockRequest{Index: i}})
	if err != nil {
		return nil, fmt.Errorf("core %s: read block %d: %w", short(l.key), i, err)
	}
	if p.Block == nil {
		return nil, fmt.Errorf("core %s: block %d is not available", short(l.key), i)
	}
	return p.Block.Value, nil
}

// nodesEstimate bounds the node chunk of a segment of n blocks (at most
// two nodes per block, each at most 10+10+32 bytes).
func nodesEstimate(aead cipherAEAD, n uint64) uint64 {
	return chunkSize(aead, int(2*n*52+11))
}

func depth(x uint64) uint {
	d := uint(0)
	for x&1 == 1 {
		x >>= 1
		d++
	}
	return d
}

// fullRoots are the flat indices of the roots of a tree of length leaves.
func fullRoots(length uint64) []uint64 {
	var out []uint64
	var offset uint64
	for length > 0 {
		factor := uint64(1)
		for factor*2 <= length {
			factor *= 2
		}
		out = append(out, offset+factor-1)
		offset += 2 * factor
		length -= factor
	}
	return out
}
