package hypercore

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

// verifyChunk is the number of blocks one verify step reads at once. It is
// a power of two so that every tree node of depth < log2(verifyChunk)+1 has
// its whole span inside one chunk.
const verifyChunk = 4096

// verifyWindow is the most data one verify worker reads at once.
const verifyWindow = 4 << 20

// Notes lists findings that are not errors: one head copy is damaged (what
// a crash during a head write leaves, or a flipped byte; the other copy
// holds the head, and the next append rewrites both).
func (c *Core) Notes() ([]string, error) {
	_, _, done, err := c.reading()
	if err != nil {
		return nil, err
	}
	defer done()
	_, bad, err := readHeads(c.headF)
	if err != nil {
		return nil, err
	}
	var notes []string
	if bad > 0 {
		notes = append(notes, "one of the two head copies is damaged (a head write interrupted by a crash, or a flipped byte); the other holds the signed head, and the next append rewrites both")
	}
	return notes, nil
}

// Verify re-reads and re-hashes every block and tree node of the current
// head, checks the signed roots, and reports the first problem found (lowest
// block, then lowest node) as a *CorruptError. progress, if not nil, is
// called with blocks done so far. It uses every CPU.
func (c *Core) Verify(ctx context.Context, progress func(done, total uint64)) error {
	st, _, release, err := c.reading()
	if err != nil {
		return err
	}
	defer release()
	c.mu.RLock()
	rolled := c.rolledBk
	c.mu.RUnlock()
	if rolled != "" {
		return corruptFile(headFile, rolled)
	}
	if _, err := c.checkHead(st); err != nil {
		return err
	}
	if st.Have < st.Length {
		return c.verifyPrefix(ctx, st, progress)
	}
	n := st.Length
	chunks := (n + verifyChunk - 1) / verifyChunk
	errs := make([]error, chunks)
	bounds := make([][2]uint64, chunks) // data byte range of each chunk
	var next, done atomic.Uint64
	var wg sync.WaitGroup
	workers := min(uint64(runtime.GOMAXPROCS(0)), max(chunks, 1))
	for w := uint64(0); w < workers; w++ {
		wg.Go(func() {
			var tbuf, dbuf []byte
			for {
				k := next.Add(1) - 1
				if k >= chunks || ctx.Err() != nil {
					return
				}
				lo, hi := k*verifyChunk, min((k+1)*verifyChunk, n)
				bounds[k], errs[k] = c.verifyRange(lo, hi, n, st.ByteLength, &tbuf, &dbuf)
				d := done.Add(hi - lo)
				if progress != nil {
					progress(d, n)
				}
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	var off uint64
	for k := range chunks {
		if errs[k] != nil {
			return errs[k]
		}
		if bounds[k][0] != off {
			return corruptBlock(treeFile, k*verifyChunk, fmt.Sprintf("block starts at byte %d, expected %d", bounds[k][0], off))
		}
		off = bounds[k][1]
	}
	if off != st.ByteLength {
		return corruptFile(dataFile, fmt.Sprintf("blocks hold %d bytes, head says %d", off, st.ByteLength))
	}
	return nil
}

// verifyRange checks blocks [lo, hi) and every tree node whose index lies
// in [2lo, 2hi-1), in a core of length n. It returns the data byte range.
func (c *Core) verifyRange(lo, hi, n, byteLength uint64, tbuf, dbuf *[]byte) ([2]uint64, error) {
	first, last := 2*lo, 2*hi-2 // node index range (inclusive)
	if last+1 < 2*n-1 && hi < n {
		last++ // the parent between this chunk and the next
	}
	count := last - first + 1
	need := int(count * nodeRecordSize)
	if cap(*tbuf) < need {
		*tbuf = make([]byte, need)
	}
	tb := (*tbuf)[:need]
	if _, err := c.tree.ReadAt(tb, int64(first*nodeRecordSize)); err != nil {
		return [2]uint64{}, corruptNode(treeFile, first, "read: "+err.Error())
	}
	nodes := make([]Node, count)
	present := make([]bool, count)
	var aux0, auxEnd uint64
	for i := range count {
		idx := first + i
		if !nodeInTree(idx, n) {
			continue
		}
		nd, aux, err := decodeNode(idx, tb[i*nodeRecordSize:])
		if err != nil {
			if idx%2 == 0 {
				return [2]uint64{}, corruptBlock(treeFile, idx/2, "leaf node checksum mismatch")
			}
			return [2]uint64{}, err
		}
		nodes[i], present[i] = nd, true
		if idx%2 == 0 {
			if idx == first {
				aux0, auxEnd = aux, aux
			}
			if aux != auxEnd {
				return [2]uint64{}, corruptBlock(treeFile, idx/2, fmt.Sprintf("block starts at byte %d, expected %d", aux, auxEnd))
			}
			auxEnd = aux + nd.Size
		}
	}
	// Blocks, read in windows of at most verifyWindow bytes (or one block),
	// so memory stays bounded whatever the tree records claim.
	if auxEnd > byteLength || auxEnd < aux0 {
		return [2]uint64{}, corruptBlock(treeFile, lo, fmt.Sprintf("blocks end at byte %d, past the signed %d", auxEnd, byteLength))
	}
	pos := aux0
	for b := lo; b < hi; {
		end, size := b, uint64(0)
		for end < hi && (size == 0 || size+nodes[2*end-first].Size <= verifyWindow) {
			size += nodes[2*end-first].Size
			end++
		}
		if uint64(cap(*dbuf)) < size {
			*dbuf = make([]byte, size)
		}
		db := (*dbuf)[:size]
		if _, err := c.data.ReadAt(db, int64(pos)); err != nil {
			return [2]uint64{}, corruptBlock(dataFile, b, "read: "+err.Error())
		}
		var off uint64
		for ; b < end; b++ {
			leaf := nodes[2*b-first]
			if LeafHash(db[off:off+leaf.Size]) != leaf.Hash {
				return [2]uint64{}, corruptBlock(dataFile, b, "bytes do not match their hash")
			}
			off += leaf.Size
		}
		pos += size
	}
	// Parents.
	for i := uint64(1); i < count; i += 2 {
		idx := first + i
		if !present[i] {
			continue
		}
		l, r, _ := children(idx)
		ln, err := c.nodeFrom(nodes, present, first, l)
		if err != nil {
			return [2]uint64{}, err
		}
		rn, err := c.nodeFrom(nodes, present, first, r)
		if err != nil {
			return [2]uint64{}, err
		}
		if p := ParentNode(ln, rn); p.Hash != nodes[i].Hash || p.Size != nodes[i].Size {
			return [2]uint64{}, corruptNode(treeFile, idx, "does not match the hash of its children")
		}
	}
	return [2]uint64{aux0, auxEnd}, nil
}

// nodeFrom returns node idx from the chunk's buffer or, outside it, from
// the file.
func (c *Core) nodeFrom(nodes []Node, present []bool, first, idx uint64) (Node, error) {
	if idx >= first && idx-first < uint64(len(nodes)) {
		if !present[idx-first] {
			return Node{}, errors.New("child node missing")
		}
		return nodes[idx-first], nil
	}
	n, _, err := c.readNode(idx)
	return n, err
}

// verifyPrefix checks the blocks a replica holds (the first st.Have of a
// longer signed head): each is proved to the signed roots as Get does, and
// the blocks must fill the data file's prefix back to back.
func (c *Core) verifyPrefix(ctx context.Context, st headState, progress func(done, total uint64)) error {
	var off uint64
	for i := uint64(0); i < st.Have; i++ {
		if i%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			if progress != nil && i > 0 {
				progress(i, st.Have)
			}
		}
		leaf, at, err := c.readNode(2 * i)
		if err != nil {
			return err
		}
		if at != off {
			return corruptBlock(treeFile, i, fmt.Sprintf("block starts at byte %d, expected %d", at, off))
		}
		if _, err := c.get(i); err != nil {
			return err
		}
		off += leaf.Size
	}
	if off != st.HaveBytes {
		return corruptFile(dataFile, fmt.Sprintf("blocks hold %d bytes, head says %d", off, st.HaveBytes))
	}
	if progress != nil {
		progress(st.Have, st.Have)
	}
	return nil
}
