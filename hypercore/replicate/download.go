package replicate

import (
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/fieldsync/fieldsync/hypercore"
	"github.com/fieldsync/fieldsync/hypercore/wire"
)

// Limits of the download side.
const (
	maxPutBlocks = 1024    // verified blocks written per head update, at most
	maxPutBytes  = 8 << 20 // their bytes
	maxPutDelay  = 200 * time.Millisecond
)

// advance moves the core forward after anything happened: answers are
// verified in request order, verified blocks written, an upgrade and new
// block requests sent, announcements refreshed.
func (r *Replication) advance() error {
	if !r.opened {
		return nil
	}
	if err := r.sendExtensions(); err != nil {
		return err
	}
	if err := r.storeResult(false); err != nil {
		return err
	}
	if r.cfg.Download && r.rSynced && r.gateOpen() {
		if err := r.drain(); err != nil {
			return err
		}
		if len(r.order) == 0 && len(r.puts) > 0 {
			if err := r.flushPuts(); err != nil {
				return err
			}
		}
		if err := r.requestMore(); err != nil {
			return err
		}
		r.checkCaught()
		r.maybeRelease()
	}
	return r.announce()
}

// gateOpen says whether this Replication may download now: there is no
// gate, it holds it, or it needs blocks and takes it (then it starts
// again from the copy as others left it).
func (r *Replication) gateOpen() bool {
	if r.cfg.Gate == nil || r.holding {
		return true
	}
	if r.core == nil && r.cfg.Existing != nil {
		if c := r.cfg.Existing(); c != nil {
			r.adopt(c)
		}
	}
	if !r.wantsMore() || !r.cfg.Gate.tryAcquire() {
		return false
	}
	r.holding = true
	if r.core != nil {
		r.adopt(r.core)
	}
	return true
}

// adopt takes the state of the shared copy c.
func (r *Replication) adopt(c *hypercore.Core) {
	r.mu.Lock()
	r.core = c
	r.mu.Unlock()
	r.v = c.Verifier()
	r.state = c.State()
	r.next = c.Contiguous()
	r.upBlocked = false
	clear(r.predicted)
}

// wantsMore: the peer has blocks or a head this copy lacks.
func (r *Replication) wantsMore() bool {
	if r.core == nil {
		return r.rLength > 0 || r.rHasManifest
	}
	h := r.core.Head()
	if h.Fork != r.rFork {
		return false
	}
	end := r.rLength
	if r.cfg.End > 0 {
		end = min(end, r.cfg.End)
	}
	return r.rLength > h.Length || r.core.Contiguous() < min(end, r.rContig, max(h.Length, r.rLength))
}

// maybeRelease lets the gate go once nothing is in flight or unwritten
// and the peer has nothing more.
func (r *Replication) maybeRelease() {
	if !r.holding || len(r.inflight) > 0 || len(r.order) > 0 || len(r.puts) > 0 || len(r.storeQ) > 0 || r.upgrade != nil {
		return
	}
	if r.core != nil && r.wantsMore() {
		return
	}
	r.holding = false
	r.cfg.Gate.release()
}

// localHead is the signed length and fork of the local copy.
func (r *Replication) localHead() (length, fork uint64) {
	return r.state.Length, r.state.Fork
}

// requestMore sends an upgrade request when the peer is ahead and block
// requests up to the in-flight limit.
func (r *Replication) requestMore() error {
	length, fork := r.localHead()
	if r.core != nil && r.rFork != fork && (r.core.Contiguous() > 0 || length > 0) {
		if r.rFork > fork {
			return r.errorf("the writer truncated this core (fork %d, ours %d): %w; download it into a new directory", r.rFork, fork, hypercore.ErrForked)
		}
		return nil
	}
	needManifest := r.core == nil
	if r.upgrade == nil && !r.upBlocked && (r.rLength > length || needManifest && r.rLength == 0 && r.rHasManifest) {
		req := &request{id: r.newID(), sent: time.Now()}
		msg := wire.Request{ID: req.id}
		msg.Fork = r.rFork
		if r.rLength > length {
			msg.Upgrade = &hypercore.UpgradeRequest{Start: length, Length: r.rLength - length}
		}
		msg.Manifest = needManifest && r.rHasManifest
		r.inflight[req.id] = req
		r.upgrade = req
		if err := r.send(msg); err != nil {
			return err
		}
	}
	if r.core == nil {
		return nil
	}
	end := length
	if r.cfg.End > 0 && r.cfg.End < end {
		end = r.cfg.End
	}
	end = min(end, r.rContig)
	window := r.window()
	if r.next >= end || len(r.order) >= window {
		return nil
	}
	r.p.mux.Cork()
	defer r.p.mux.Uncork()
	for r.next < end && len(r.order) < window {
		req := &request{id: r.newID(), index: r.next, block: true, sent: time.Now()}
		nodes, learned := hypercore.MissingNodes(r.next, r.state.Roots, r.known, nil)
		req.learned = learned
		for _, n := range learned {
			r.predicted[n]++
		}
		msg := wire.Request{ID: req.id}
		msg.Fork = fork
		msg.Block = &hypercore.BlockRequest{Index: r.next, Nodes: nodes}
		r.inflight[req.id] = req
		r.order = append(r.order, req)
		r.next++
		r.lastProgress = req.sent
		if err := r.send(msg); err != nil {
			return err
		}
	}
	return nil
}

// maxInflightBytes bounds the data of the block requests in flight (by the
// core's mean block size), so big blocks do not pile up in memory.
const maxInflightBytes = 16 << 20

// maxHeldBytes bounds the answers held until the ones before them arrive.
const maxHeldBytes = 2*maxInflightBytes + hypercore.MaxBlockSize

// window is how many block requests may be in flight.
func (r *Replication) window() int {
	w := r.p.opts.MaxInflight
	if h := r.core.Head(); h.Length > 0 {
		mean := h.ByteLength/h.Length + 1
		w = min(w, max(16, int(maxInflightBytes/mean)))
	}
	return w
}

func (r *Replication) newID() uint64 {
	r.nextID++
	return r.nextID
}

// known says whether tree node i is held, verified, or will be proved by
// an answer to a request already in flight (those are checked in order).
func (r *Replication) known(i uint64) bool {
	if r.predicted[i] > 0 {
		return true
	}
	if _, ok := r.overlay[i]; ok {
		return true
	}
	if _, ok := r.inStore(i); ok {
		return true
	}
	_, ok, err := r.core.StoredNode(i)
	return ok && err == nil
}

// stored looks up a node for proof verification: verified but not yet
// written, then on disk.
func (r *Replication) stored(i uint64) (hypercore.Node, bool, error) {
	if n, ok := r.overlay[i]; ok {
		return n, true, nil
	}
	if n, ok := r.inStore(i); ok {
		return n, true, nil
	}
	if r.core == nil {
		return hypercore.Node{}, false, nil
	}
	return r.core.StoredNode(i)
}

func (r *Replication) onData(d *wire.Data) error {
	req, ok := r.inflight[d.Request]
	if !ok {
		// An answer to a cancelled request, or pushed data: not asked
		// for, not used. Bounded so a peer cannot keep us busy with it.
		r.stray++
		if r.stray > 4*r.p.opts.MaxInflight+64 {
			return r.protocolError("too much data nobody asked for")
		}
		return nil
	}
	delete(r.inflight, d.Request)
	if req == r.upgrade {
		r.upgrade = nil
		return r.onUpgradeData(d)
	}
	if d.Upgrade != nil || d.Block == nil || d.Block.Index != req.index {
		return r.protocolError("answer to the request for block %d does not carry that block", req.index)
	}
	if n := len(d.Block.Value); n > hypercore.MaxBlockSize {
		return r.errorf("block %d is %d bytes; fieldsync stores blocks of at most %d bytes", req.index, n, hypercore.MaxBlockSize)
	}
	// Answers wait here until those before them are verified: bound what
	// a peer answering out of order can make us hold.
	r.held += len(d.Block.Value)
	if r.held > maxHeldBytes {
		return r.protocolError("answers held out of order exceed %d MiB", maxHeldBytes>>20)
	}
	req.data = d
	if len(d.Block.Value) >= prehashMin {
		req.hashed = make(chan struct{})
		select {
		case r.p.hashq <- req:
		default: // all hashers busy: verify hashes it
			req.hashed = nil
		}
		return r.drain()
	}
	// Small blocks are verified once the frame is done (advance), when
	// their leaf hashes are computed on every CPU at once.
	r.small = append(r.small, req)
	if len(r.small) >= maxSmall {
		return r.drain()
	}
	return nil
}

// maxSmall bounds the small answers waiting for the end of their frame.
const maxSmall = 4096

// prehashSmall hashes the small blocks received in the last frame, split
// over the CPUs, so that verifying them in order only climbs the tree.
func (r *Replication) prehashSmall() {
	n := len(r.small)
	if n == 0 {
		return
	}
	workers := min(runtime.GOMAXPROCS(0), n/32+1)
	per := (n + workers - 1) / workers
	var wg sync.WaitGroup
	for w := 1; w < workers; w++ {
		part := r.small[w*per : min((w+1)*per, n)]
		wg.Go(func() {
			for _, req := range part {
				hypercore.Prehash(req.data.Block)
			}
		})
	}
	for _, req := range r.small[:min(per, n)] {
		hypercore.Prehash(req.data.Block)
	}
	wg.Wait()
	clear(r.small)
	r.small = r.small[:0]
}

// prehashMin is the block size from which blocks are hashed on the
// hashing goroutines (below it a hand-off costs about as much as the hash).
const prehashMin = 16 << 10

// drain verifies the answers at the head of the request order.
func (r *Replication) drain() error {
	r.prehashSmall()
	for len(r.order) > 0 && r.order[0].data != nil {
		req := r.order[0]
		r.order[0] = nil
		r.order = r.order[1:]
		if req.hashed != nil {
			<-req.hashed
		}
		r.held -= len(req.data.Block.Value)
		vp, err := hypercore.VerifyProof(r.v, r.state, r.stored, &req.data.Proof)
		if err != nil {
			return fmt.Errorf("%w: core %x: block %d: %w", ErrProtocol, r.cfg.Key[:4], req.index, err)
		}
		for _, n := range req.learned {
			if r.predicted[n]--; r.predicted[n] <= 0 {
				delete(r.predicted, n)
			}
		}
		for _, n := range vp.Nodes {
			r.overlay[n.Index] = n
		}
		r.puts = append(r.puts, vp)
		r.putBytes += len(vp.Block.Value)
		r.stray = 0
		r.lastProgress = time.Now()
		r.refused = nil
		r.mu.Lock()
		if r.stats.BlocksDownloaded == 0 {
			r.stats.FirstBlock = time.Now()
		}
		r.stats.BlocksDownloaded++
		r.stats.BytesDownloaded += uint64(len(vp.Block.Value))
		r.mu.Unlock()
		if len(r.puts) >= maxPutBlocks || r.putBytes >= maxPutBytes {
			if err := r.flushPuts(); err != nil {
				return err
			}
		}
	}
	return nil
}

// storeBatch is verified blocks handed to the storage goroutine, with the
// tree nodes they proved (looked up here until they are on disk).
type storeBatch struct {
	proofs []*hypercore.VerifiedProof
	nodes  map[uint64]hypercore.Node
	done   chan error
}

// maxStoreBatches bounds the batches queued for storage (memory: each is
// at most maxPutBytes).
const maxStoreBatches = 3

// inStore finds a node of a batch not yet on disk.
func (r *Replication) inStore(i uint64) (hypercore.Node, bool) {
	for k := len(r.storeQ) - 1; k >= 0; k-- {
		if n, ok := r.storeQ[k].nodes[i]; ok {
			return n, true
		}
	}
	return hypercore.Node{}, false
}

// flushPuts hands the verified blocks to the storage goroutine, which
// writes each batch and a head that counts it, in order, while this one
// goes on verifying.
func (r *Replication) flushPuts() error {
	r.lastPut = time.Now()
	if len(r.puts) == 0 || r.core == nil {
		return nil
	}
	for len(r.storeQ) >= maxStoreBatches {
		if err := r.collectStore(true); err != nil {
			return err
		}
	}
	if r.storeCh == nil {
		r.storeCh = make(chan *storeBatch, maxStoreBatches)
		core, q := r.core, r.storeCh
		// Owned by the peer's Run, which waits for it after stopStorage.
		r.p.wg.Go(func() {
			for b := range q {
				b.done <- core.PutBlocks(b.proofs)
				r.p.wake()
			}
		})
	}
	b := &storeBatch{proofs: r.puts, nodes: r.overlay, done: make(chan error, 1)}
	r.puts, r.putBytes = nil, 0
	r.overlay = r.spare
	if r.overlay == nil {
		r.overlay = map[uint64]hypercore.Node{}
	}
	r.spare = nil
	r.storeQ = append(r.storeQ, b)
	r.storeCh <- b
	return nil
}

// collectStore takes the oldest batch's result, waiting for it if wait is
// set; it reports whether one was taken through the queue's length.
func (r *Replication) collectStore(wait bool) error {
	if len(r.storeQ) == 0 {
		return nil
	}
	b := r.storeQ[0]
	var err error
	if wait {
		err = <-b.done
	} else {
		select {
		case err = <-b.done:
		default:
			return nil
		}
	}
	r.storeQ[0] = nil
	r.storeQ = r.storeQ[1:]
	clear(b.nodes)
	r.spare = b.nodes
	if err != nil {
		return r.errorf("store blocks: %w", err)
	}
	return nil
}

// storeResult collects the results of finished batches, or of all of them
// if wait is set (then the first error is returned after all are in).
func (r *Replication) storeResult(wait bool) error {
	var first error
	for len(r.storeQ) > 0 {
		n := len(r.storeQ)
		if err := r.collectStore(wait); err != nil {
			if !wait {
				return err
			}
			if first == nil {
				first = err
			}
		}
		if len(r.storeQ) == n {
			break // the oldest is still being written
		}
	}
	return first
}

// stopStorage ends the storage goroutine once its queue is done.
func (r *Replication) stopStorage() {
	if r.storeCh != nil {
		close(r.storeCh)
		r.storeCh = nil
	}
}

// settle writes every verified block and waits until it is on disk.
func (r *Replication) settle() error {
	if err := r.flushPuts(); err != nil {
		return err
	}
	return r.storeResult(true)
}

func (r *Replication) onUpgradeData(d *wire.Data) error {
	v := r.v
	var m *hypercore.Manifest
	if r.core == nil {
		// The first head: the manifest comes with it, or the key is a
		// compat key (the signer's public key).
		m = d.Manifest
		if m == nil {
			m = hypercore.DefaultManifest(r.cfg.Key[:])
		}
		var err error
		v, err = hypercore.NewVerifier(r.cfg.Key, m)
		if err != nil {
			return r.protocolError("the manifest sent does not belong to this key: %v", err)
		}
	}
	if d.Upgrade == nil {
		// Nothing to upgrade after all (the peer's length moved under
		// us); wait for its next sync.
		r.upBlocked = true
		if r.core == nil && d.Manifest != nil && r.rLength == 0 {
			return r.createReplica(m)
		}
		return nil
	}
	if d.Block != nil || d.Hash != nil || d.Seek != nil {
		return r.protocolError("unrequested parts in an upgrade")
	}
	vp, err := hypercore.VerifyProof(v, r.state, r.stored, &d.Proof)
	if err != nil {
		return fmt.Errorf("%w: core %x: upgrade: %w", ErrProtocol, r.cfg.Key[:4], err)
	}
	if r.core == nil {
		if err := r.createReplica(m); err != nil {
			return err
		}
	}
	if !vp.Upgraded {
		return nil
	}
	if err := r.settle(); err != nil {
		return err
	}
	if err := r.core.ApplyUpgrade(vp); err != nil {
		return r.errorf("store upgrade: %w", err)
	}
	r.state = r.core.State()
	r.lastProgress = time.Now()
	r.mu.Lock()
	r.stats.Upgrades++
	r.mu.Unlock()
	return nil
}

func (r *Replication) createReplica(m *hypercore.Manifest) error {
	c, err := r.cfg.Create(m)
	if err != nil {
		return r.errorf("create replica: %w", err)
	}
	if c.Key() != r.cfg.Key {
		c.Close()
		return r.errorf("create replica: made a core with key %x", c.Key())
	}
	r.mu.Lock()
	r.core = c
	r.mu.Unlock()
	r.v = c.Verifier()
	r.state = c.State()
	r.next = c.Contiguous()
	return nil
}

func (r *Replication) onNoData(m wire.NoData) error {
	req, ok := r.inflight[m.Request]
	if !ok {
		return nil
	}
	delete(r.inflight, m.Request)
	if req == r.upgrade {
		r.upgrade = nil
		r.upBlocked = true
		return nil
	}
	// The peer lacks this block: withdraw it and every later request
	// (their proofs may lean on it), and wait for the peer to announce
	// more.
	k := 0
	for k < len(r.order) && r.order[k] != req {
		k++
	}
	if r.rContig > req.index {
		r.rContig = req.index
	}
	refused := req.index
	r.refused = &refused
	r.p.mux.Cork()
	defer r.p.mux.Uncork()
	for _, q := range r.order[k:] {
		for _, n := range q.learned {
			if r.predicted[n]--; r.predicted[n] <= 0 {
				delete(r.predicted, n)
			}
		}
		if q.data != nil {
			r.held -= len(q.data.Block.Value)
		}
		if q != req {
			delete(r.inflight, q.id)
			if err := r.send(wire.Cancel{Request: q.id}); err != nil {
				return err
			}
		}
	}
	r.order = r.order[:k]
	r.next = req.index
	return nil
}

func (r *Replication) onTick(now time.Time) error {
	if r.core != nil && !r.core.Writable() && !r.cfg.Download {
		// A read-only copy another process appends to: look for new data.
		if err := r.core.Refresh(); err != nil {
			r.p.logf("core %x: refresh: %v", r.cfg.Key[:4], err)
		}
	}
	// The oldest request in flight names the wait.
	var oldest *request
	for _, req := range r.inflight {
		if oldest == nil || req.sent.Before(oldest.sent) {
			oldest = req
		}
	}
	if oldest != nil && now.Sub(oldest.sent) > r.p.opts.RequestTimeout {
		what := "an upgrade"
		if oldest.block {
			what = fmt.Sprintf("block %d", oldest.index)
		}
		return fmt.Errorf("core %x: %w: no answer for %s in %v", r.cfg.Key[:4], ErrTimeout, what, r.p.opts.RequestTimeout)
	}
	if err := r.checkStalled(now); err != nil {
		return err
	}
	if len(r.puts) > 0 && now.Sub(r.lastPut) > maxPutDelay {
		return r.flushPuts()
	}
	return nil
}

// checkStalled ends a download that is not done, has nothing in flight and
// has made no progress for RequestTimeout while the peer claims to have
// what is missing (it answered noData for a block it announced, say). A
// download waiting for the peer to grow (MinLength, End, Live) waits.
func (r *Replication) checkStalled(now time.Time) error {
	if !r.cfg.Download || r.cfg.Live || !r.opened || !r.rSynced || r.isDoneNow() || len(r.inflight) > 0 {
		return nil
	}
	if r.cfg.Gate != nil && !r.holding {
		r.lastProgress = now // waiting for another connection's download
		return nil
	}
	if r.lastProgress.IsZero() {
		r.lastProgress = now
		return nil
	}
	if r.rLength < r.cfg.MinLength || r.rLength < r.cfg.End || now.Sub(r.lastProgress) <= r.p.opts.RequestTimeout {
		return nil
	}
	if r.refused != nil {
		return fmt.Errorf("core %x: %w: it refuses block %d (no data) although it announced %d blocks; this copy holds %d", r.cfg.Key[:4], ErrTimeout, *r.refused, r.rLength, r.contiguous())
	}
	return fmt.Errorf("core %x: %w: it announced %d blocks but sent nothing for %v; this copy holds %d", r.cfg.Key[:4], ErrTimeout, r.rLength, r.p.opts.RequestTimeout, r.contiguous())
}

// checkCaught reports a download that has caught up with the peer.
func (r *Replication) checkCaught() {
	if r.core == nil && r.upgrade == nil && r.rLength == 0 && !r.rHasManifest && r.cfg.MinLength == 0 && r.cfg.End == 0 && !r.cfg.Live {
		r.markDone() // the peer has nothing, not even a manifest: no copy to make
		return
	}
	if r.core == nil || r.upgrade != nil || len(r.order) > 0 || len(r.puts) > 0 || len(r.storeQ) > 0 {
		return
	}
	length, fork := r.localHead()
	if fork != r.rFork || length < r.rLength || length < r.cfg.MinLength {
		return
	}
	want := length
	if r.cfg.End > 0 {
		if length < r.cfg.End {
			return
		}
		want = r.cfg.End
	}
	if r.core.Contiguous() < want {
		return
	}
	if r.cfg.Caught != nil && (!r.caught || r.caughtAt != length) {
		r.cfg.Caught(r.core)
	}
	r.caught, r.caughtAt = true, length
	if !r.cfg.Live {
		r.markDone()
	}
}
