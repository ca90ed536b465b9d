package usbsync

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/fieldsync/fieldsync/hypercore"
	"github.com/fieldsync/fieldsync/observations/record"
	"golang.org/x/crypto/chacha20poly1305"
)

func newAEAD(key [32]byte) (cipherAEAD, error) {
	return chacha20poly1305.NewX(key[:])
}

// Verified blocks are stored in batches, as the network path does.
const (
	maxPutBlocks = 1024
	maxPutBytes  = 8 << 20
)

// folderTree is the tree of one core as the folder holds it. It is
// untrusted: it only feeds proofs, which are verified like a peer's.
type folderTree struct {
	length uint64
	nodes  []hypercore.Node
	have   []bool
}

func (t *folderTree) Node(index uint64) (hypercore.Node, error) {
	if index >= uint64(len(t.nodes)) || !t.have[index] {
		return hypercore.Node{}, fmt.Errorf("node %d is not in the folder: %w", index, hypercore.ErrOutOfRange)
	}
	return t.nodes[index], nil
}

// importAll takes from the folder every block this device lacks.
func (s *syncer) importAll(ctx context.Context) error {
	for _, fc := range sortedCores(s.h.Cores) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if s.opts.NoMedia && fc.Kind == record.KindMedia {
			continue
		}
		if err := s.importCore(ctx, fc); err != nil {
			return err
		}
	}
	return nil
}

func (s *syncer) importCore(ctx context.Context, fc *folderCore) error {
	l := s.cores[fc.Key]
	var state hypercore.TreeState
	var have uint64
	if l != nil {
		if l.own {
			return nil // this device writes it: the folder cannot hold more
		}
		state = l.c.State()
		have = l.c.Contiguous()
		if state.Fork != fc.Fork && (have > 0 || state.Length > 0) {
			s.res.Skipped = append(s.res.Skipped, fmt.Sprintf("core %s: the folder holds fork %d, this device fork %d", short(fc.Key), fc.Fork, state.Fork))
			return nil
		}
		if fc.Length <= have {
			return nil
		}
		if fc.Length < state.Length {
			// This device holds a longer signed head without its blocks;
			// the folder's shorter head cannot prove them.
			s.res.Skipped = append(s.res.Skipped, fmt.Sprintf("core %s: this device knows a longer head (%d) than the folder (%d)", short(fc.Key), state.Length, fc.Length))
			return nil
		}
	}
	if fc.Length == 0 {
		return nil
	}
	m, err := hypercore.DecodeManifest(fc.Manifest)
	if err != nil {
		return fmt.Errorf("sync folder %s %w: core %s: its manifest: %v", s.folder, ErrDamaged, short(fc.Key), err)
	}
	var v *hypercore.Verifier
	if l != nil {
		v = l.c.Verifier()
	} else if v, err = hypercore.NewVerifier(fc.Key, m); err != nil {
		return fmt.Errorf("sync folder %s %w: core %s: the manifest does not belong to its key: %v", s.folder, ErrDamaged, short(fc.Key), err)
	}
	tree, err := s.loadTree(fc)
	if err != nil {
		return err
	}
	overlay := map[uint64]hypercore.Node{}
	var st *storer // once blocks are being stored
	stored := func(i uint64) (hypercore.Node, bool, error) {
		if n, ok := overlay[i]; ok {
			return n, true, nil
		}
		if n, ok := st.lookup(i); ok {
			return n, true, nil
		}
		if l == nil || l.c == nil {
			return hypercore.Node{}, false, nil
		}
		return l.c.StoredNode(i)
	}
	// The head, as an upgrade from ours.
	if fc.Length > state.Length || l == nil {
		req := hypercore.ProofRequest{Fork: fc.Fork, Upgrade: &hypercore.UpgradeRequest{Start: state.Length, Length: fc.Length - state.Length}}
		pr, err := hypercore.BuildProof(tree, fc.Length, fc.Fork, fc.Signature, req, nil)
		if err != nil {
			return fmt.Errorf("sync folder %s %w: core %s: the folder's tree is incomplete: %v", s.folder, ErrDamaged, short(fc.Key), err)
		}
		vp, err := hypercore.VerifyProof(v, state, stored, pr)
		if err != nil {
			return fmt.Errorf("sync folder %s %w: core %s: its signed head does not verify: %v", s.folder, ErrDamaged, short(fc.Key), err)
		}
		if l == nil {
			if l, err = s.createReplica(fc.Key, m, fc.Kind); err != nil {
				return err
			}
			s.step()
		}
		if vp.Upgraded {
			if err := l.c.ApplyUpgrade(vp); err != nil {
				return fmt.Errorf("core %s: store its head: %w", short(fc.Key), err)
			}
			s.step()
		}
		state = l.c.State()
		have = l.c.Contiguous()
	}
	if state.Length != fc.Length || state.Fork != fc.Fork {
		return nil
	}
	// The blocks, each proved from the folder's tree and verified.
	var puts []*hypercore.VerifiedProof
	var putBytes int
	st = newStorer(s, l, fc.Key)
	flush := func() error {
		if len(puts) == 0 {
			return nil
		}
		err := st.push(puts, overlay)
		puts, putBytes, overlay = nil, 0, map[uint64]hypercore.Node{}
		return err
	}
	known := func(i uint64) bool {
		_, ok, err := stored(i)
		return ok && err == nil
	}
	start := have
	verify := func(it readItem) error {
		index, value := it.bp.Index, it.bp.Value
		nodes, _ := hypercore.MissingNodes(index, state.Roots, known, nil)
		req := hypercore.ProofRequest{Fork: fc.Fork, Block: &hypercore.BlockRequest{Index: index, Nodes: nodes}}
		pr, err := hypercore.BuildProof(tree, fc.Length, fc.Fork, fc.Signature, req, func(uint64) ([]byte, error) { return value, nil })
		if err != nil {
			return it.sr.fail(fmt.Sprintf("block %d cannot be proved from the folder's tree: %v", index, err))
		}
		if pr.Block != nil {
			it.bp.Nodes = pr.Block.Nodes
			pr.Block = it.bp // hashed already, on the reading goroutine
		}
		vp, err := hypercore.VerifyProof(v, state, stored, pr)
		if err != nil {
			return it.sr.fail(fmt.Sprintf("block %d does not verify against its writer's signature: %v", index, err))
		}
		for _, n := range vp.Nodes {
			overlay[n.Index] = n
		}
		puts = append(puts, vp)
		putBytes += len(value)
		if len(puts) >= maxPutBlocks || putBytes >= maxPutBytes {
			return flush()
		}
		return nil
	}
	err = s.readAhead(ctx, fc, have, verify)
	if ferr := flush(); err == nil {
		err = ferr
	}
	if ferr := st.finish(); err == nil {
		err = ferr
	}
	if l.c.Contiguous() > start {
		s.res.CoresIn++
	}
	return err
}

// storer writes verified batches of blocks on its own goroutine while the
// caller verifies the next ones, as the network path does; the nodes of a
// batch not yet on disk are looked up in it.
type storer struct {
	s       *syncer
	l       *local
	key     [32]byte
	ch      chan *storeBatch
	pending []*storeBatch // in order, owned by the caller
	exited  chan struct{}
	err     error
}

type storeBatch struct {
	proofs []*hypercore.VerifiedProof
	nodes  map[uint64]hypercore.Node
	done   chan error
}

// maxPending bounds the batches written or queued (memory: each is at
// most maxPutBytes).
const maxPending = 3

func newStorer(s *syncer, l *local, key [32]byte) *storer {
	st := &storer{s: s, l: l, key: key, ch: make(chan *storeBatch, maxPending), exited: make(chan struct{})}
	go func() {
		defer close(st.exited)
		for b := range st.ch {
			err := l.c.PutBlocks(b.proofs)
			if err == nil {
				s.step()
			}
			b.done <- err
		}
	}()
	return st
}

func (st *storer) lookup(i uint64) (hypercore.Node, bool) {
	if st == nil {
		return hypercore.Node{}, false
	}
	for k := len(st.pending) - 1; k >= 0; k-- {
		if n, ok := st.pending[k].nodes[i]; ok {
			return n, true
		}
	}
	return hypercore.Node{}, false
}

// push queues a batch, first waiting for the oldest if too many are out.
func (st *storer) push(proofs []*hypercore.VerifiedProof, nodes map[uint64]hypercore.Node) error {
	for len(st.pending) >= maxPending {
		st.collect()
	}
	if st.err != nil {
		return st.err
	}
	b := &storeBatch{proofs: proofs, nodes: nodes, done: make(chan error, 1)}
	st.pending = append(st.pending, b)
	st.ch <- b
	return nil
}

// collect waits for the oldest batch and counts it.
func (st *storer) collect() {
	b := st.pending[0]
	st.pending = st.pending[1:]
	if err := <-b.done; err != nil {
		if st.err == nil {
			st.err = fmt.Errorf("core %s: store blocks: %w", short(st.key), err)
		}
		return
	}
	for _, vp := range b.proofs {
		st.s.res.BlocksIn++
		st.s.res.BytesIn += uint64(len(vp.Block.Value))
	}
}

// finish waits until every batch is written and the goroutine is gone.
func (st *storer) finish() error {
	close(st.ch)
	for len(st.pending) > 0 {
		st.collect()
	}
	<-st.exited
	return st.err
}

func (s *syncer) createReplica(key [32]byte, m *hypercore.Manifest, kind record.CoreKind) (*local, error) {
	dir := s.p.CoreDir(key)
	c, err := hypercore.CreateReplica(dir, key, m, s.opts.Durability)
	if errors.Is(err, os.ErrExist) || errors.Is(err, hypercore.ErrBadInput) {
		// A directory an interrupted attempt left: open what it holds.
		c, err = hypercore.Open(dir, hypercore.OpenOptions{Durability: s.opts.Durability})
	}
	if err != nil {
		if errors.Is(err, hypercore.ErrLocked) {
			return nil, ErrBusy
		}
		return nil, fmt.Errorf("core %s: create it: %w", short(key), err)
	}
	l := &local{key: key, c: c, kind: kind}
	s.cores[key] = l
	return l, nil
}

// readItem is a block read, decrypted and hashed ahead of verification.
type readItem struct {
	bp *hypercore.BlockProof
	sr *segReader
}

type readBatch struct {
	items []readItem
	err   error
}

// readAhead reads, decrypts and hashes blocks on its own goroutine while fn
// verifies and stores the ones before (on this one), in order; it returns
// once that goroutine is gone.
func (s *syncer) readAhead(ctx context.Context, fc *folderCore, from uint64, fn func(readItem) error) error {
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := make(chan readBatch, 4)
	go func() {
		defer close(ch)
		var cur []readItem
		size := 0
		send := func(b readBatch) bool {
			select {
			case ch <- b:
				return true
			case <-rctx.Done():
				return false
			}
		}
		err := s.readBlocks(fc, from, func(sr *segReader, index uint64, value []byte) error {
			bp := &hypercore.BlockProof{Index: index, Value: value}
			hypercore.Prehash(bp)
			cur = append(cur, readItem{bp, sr})
			size += len(value)
			if len(cur) >= 256 || size >= 1<<20 {
				if !send(readBatch{items: cur}) {
					return rctx.Err()
				}
				cur, size = nil, 0
			}
			return nil
		})
		send(readBatch{items: cur, err: err})
	}()
	var err error
	for b := range ch {
		if err != nil {
			continue // draining: the reader stops at its next send
		}
		for _, it := range b.items {
			if err = ctx.Err(); err != nil {
				break
			}
			if err = fn(it); err != nil {
				break
			}
		}
		if err == nil {
			err = b.err
		}
		if err != nil {
			cancel()
		}
	}
	return err
}

// loadTree reads the node chunks of every segment of a core.
func (s *syncer) loadTree(fc *folderCore) (*folderTree, error) {
	if fc.Length > 1<<40 {
		return nil, fmt.Errorf("sync folder %s %w: core %s claims %d blocks", s.folder, ErrDamaged, short(fc.Key), fc.Length)
	}
	t := &folderTree{length: fc.Length, nodes: make([]hypercore.Node, 2*fc.Length), have: make([]bool, 2*fc.Length)}
	for _, seg := range fc.Segments {
		sr, err := openSegment(s.folder, fc.Key, seg, s.aead)
		if err != nil {
			return nil, err
		}
		err = func() error {
			defer sr.close()
			if err := sr.seekNodes(); err != nil {
				return err
			}
			b, err := sr.next()
			if err != nil {
				return err
			}
			var bad error
			if err := decodeNodes(b, func(n hypercore.Node) {
				if n.Index < uint64(len(t.nodes)) {
					t.nodes[n.Index], t.have[n.Index] = n, true
				} else if bad == nil {
					bad = sr.fail(fmt.Sprintf("node %d lies outside the core", n.Index))
				}
			}); err != nil {
				return sr.fail(err.Error())
			}
			return bad
		}()
		if err != nil {
			return nil, err
		}
	}
	return t, nil
}

// readBlocks calls fn for every block from index from on, in order.
func (s *syncer) readBlocks(fc *folderCore, from uint64, fn func(sr *segReader, index uint64, value []byte) error) error {
	for _, seg := range fc.Segments {
		if seg.Start+seg.Count <= from {
			continue
		}
		sr, err := openSegment(s.folder, fc.Key, seg, s.aead)
		if err != nil {
			return err
		}
		err = func() error {
			defer sr.close()
			next := seg.Start
			for next < seg.Start+seg.Count {
				if sr.off >= seg.NodesOff {
					return sr.fail(fmt.Sprintf("it ends at block %d of %d", next, seg.Start+seg.Count))
				}
				b, err := sr.next()
				if err != nil {
					return err
				}
				if len(b) == 0 || b[0] != chunkBlocks {
					return sr.fail("a chunk out of place")
				}
				r := &reader{b: b[1:]}
				first, count := r.uvarint(), r.uvarint()
				if r.err != nil || first != next || count == 0 || count > seg.Start+seg.Count-next {
					return sr.fail("a chunk holds the wrong blocks")
				}
				for i := range count {
					n := r.uvarint()
					if n > hypercore.MaxBlockSize {
						return sr.fail("a block too large")
					}
					v := r.bytes(n)
					if r.err != nil {
						return sr.fail("a chunk cut short")
					}
					if first+i < from {
						continue
					}
					if err := fn(sr, first+i, v); err != nil {
						return err
					}
				}
				if len(r.b) != 0 {
					return sr.fail("trailing bytes in a chunk")
				}
				next += count
			}
			return nil
		}()
		if err != nil {
			return err
		}
	}
	return nil
}
