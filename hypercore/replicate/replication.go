package replicate

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/fieldsync/fieldsync/hypercore"
	"github.com/fieldsync/fieldsync/hypercore/wire"
)

// CoreConfig says what to do with one core on a connection.
type CoreConfig struct {
	// Key is the core key.
	Key hypercore.Hash
	// Core is the local copy: a writer, a replica, or nil when there is
	// none yet; then Create makes the replica once the first signed head
	// has been verified (the manifest comes with it).
	Core   *hypercore.Core
	Create func(m *hypercore.Manifest) (*hypercore.Core, error)
	// Upload answers the peer's requests for this core.
	Upload bool
	// Download fetches what the peer has and this copy lacks.
	Download bool
	// MinLength makes a download wait until the peer has at least this
	// many blocks (peer.mjs --until).
	MinLength uint64
	// End limits a download to blocks [0, End) (0: all the peer has).
	End uint64
	// Live keeps downloading as the peer's core grows; without it, Done is
	// closed once the copy has caught up with the peer (or reached End).
	Live bool
	// Caught, if set, is called (on the peer's goroutine) each time the
	// local copy has caught up with the peer's length.
	Caught func(c *hypercore.Core)
	// Gate, if set, is shared by every Replication that downloads this
	// core on any connection: only the one holding it requests blocks, so
	// that two peers never write one copy at once. The holder takes the
	// copy's state afresh when it acquires the gate (others may have
	// written to it) and releases it once nothing is in flight or waiting
	// to be written and it has what its peer has. Core (or Existing) must
	// then be the one handle every connection shares.
	Gate *Gate
	// Existing, with a Gate, returns the shared copy if another connection
	// has created it since this Replication was added (nil: none yet).
	Existing func() *hypercore.Core
	// OnExtension, if set, receives the peer's extension messages on this
	// core's channel (on the peer's goroutine; message is a copy). An
	// empty name on the wire means the name of the previous extension
	// message (hypercore 10 sends that); it is resolved here, and a
	// nameless first message is dropped.
	OnExtension func(name string, message []byte)
}

// Gate serializes the downloads of one core across connections (see
// CoreConfig.Gate). The zero value is open.
type Gate struct {
	mu   sync.Mutex
	held bool
}

// tryAcquire takes the gate if it is free.
func (g *Gate) tryAcquire() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.held {
		return false
	}
	g.held = true
	return true
}

func (g *Gate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.held = false
}

// Stats count what moved for one core on one connection.
type Stats struct {
	BlocksDownloaded, BytesDownloaded uint64
	BlocksUploaded, BytesUploaded     uint64
	Upgrades                          uint64
	RemoteLength                      uint64
	FirstBlock                        time.Time // when the first block was verified (zero: none yet)
}

// Replication is one core on one connection.
type Replication struct {
	p   *Peer
	cfg CoreConfig

	mu     sync.Mutex
	core   *hypercore.Core
	stats  Stats
	err    error
	done   chan struct{}
	isDone bool
	ended  chan struct{}
	isEnd  bool

	// Extension messages waiting for the main loop (SendExtension).
	extMu  sync.Mutex
	extOut []wire.Extension

	// Main loop only.
	ch     uint64
	opened bool
	extIn  string // name of the peer's last extension message

	rSynced      bool
	rFork        uint64
	rLength      uint64
	rCanUpgrade  bool
	rHasManifest bool
	rContig      uint64

	sent        bool
	sentSync    wire.Sync
	sentContig  uint64
	upgradeable map[[2]uint64]bool

	v            *hypercore.Verifier
	state        hypercore.TreeState
	nextID       uint64
	inflight     map[uint64]*request
	order        []*request // block requests, oldest first
	upgrade      *request
	upBlocked    bool // the peer could not upgrade us; wait for its next sync
	predicted    map[uint64]int
	overlay      map[uint64]hypercore.Node // verified, not yet handed to storage
	storeQ       []*storeBatch             // handed to the storage goroutine, oldest first
	storeCh      chan *storeBatch
	spare        map[uint64]hypercore.Node // an emptied node map, for reuse
	puts         []*hypercore.VerifiedProof
	putBytes     int
	lastPut      time.Time
	next         uint64 // next block to request
	stray        int    // answers to requests no longer in flight (since the last verified block)
	held         int    // bytes of answers waiting for earlier ones
	lastProgress time.Time
	small        []*request // small answers of the current frame, to hash together
	refused      *uint64    // the last block the peer answered noData for
	invalid      int        // requests of the peer we could not answer
	caughtAt     uint64
	caught       bool
	holding      bool // holds cfg.Gate
}

type request struct {
	id      uint64
	index   uint64 // block requests
	block   bool
	sent    time.Time
	learned []uint64
	data    *wire.Data
	hashed  chan struct{} // closed when data's block was prehashed (nil: not sent to be)
}

func newReplication(p *Peer, cfg CoreConfig) *Replication {
	r := &Replication{
		p: p, cfg: cfg, core: cfg.Core,
		done: make(chan struct{}), ended: make(chan struct{}),
		inflight:    map[uint64]*request{},
		predicted:   map[uint64]int{},
		overlay:     map[uint64]hypercore.Node{},
		upgradeable: map[[2]uint64]bool{},
	}
	if cfg.Core != nil {
		r.v = cfg.Core.Verifier()
		r.state = cfg.Core.State()
		r.next = cfg.Core.Contiguous()
	}
	return r
}

// Done is closed when a download has caught up with the peer (not Live),
// or when the replication ended.
func (r *Replication) Done() <-chan struct{} { return r.done }

// Ended is closed when the connection is over.
func (r *Replication) Ended() <-chan struct{} { return r.ended }

// Err is why the replication ended before its download was done (nil
// while running or after success).
func (r *Replication) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Core is the local copy (nil until a replica was created).
func (r *Replication) Core() *hypercore.Core {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.core
}

// Stats is a snapshot of the counters.
func (r *Replication) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats
}

func (r *Replication) isDoneNow() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.isDone
}

func (r *Replication) markDone() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.isDone {
		r.isDone = true
		close(r.done)
	}
}

// fail ends the replication of this core with err (the connection may go
// on for other cores).
func (r *Replication) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.isDone {
		r.err = err
		r.isDone = true
		close(r.done)
	}
}

// finish records the end of the connection (after the last verified
// batch was written: a gate held is released).
func (r *Replication) finish(err error) {
	if r.holding {
		r.holding = false
		r.cfg.Gate.release()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.isDone {
		if err == nil && r.cfg.Download && !r.cfg.Live {
			err = errors.New("connection ended before the download finished")
		}
		r.err = err
		r.isDone = true
		close(r.done)
	}
	if !r.isEnd {
		r.isEnd = true
		close(r.ended)
	}
}

func (r *Replication) contiguous() uint64 {
	if r.core == nil {
		return 0
	}
	return r.core.Contiguous()
}

func (r *Replication) errorf(format string, args ...any) error {
	return fmt.Errorf("core %x: "+format, append([]any{r.cfg.Key[:4]}, args...)...)
}

func (r *Replication) protocolError(format string, args ...any) error {
	return fmt.Errorf("%w: core %x: %s", ErrProtocol, r.cfg.Key[:4], fmt.Sprintf(format, args...))
}

func (r *Replication) send(m wire.Message) error { return r.p.send(r.ch, m) }

// ---------------------------------------------------------------- channel

func (r *Replication) onOpen() error {
	r.opened = true
	r.p.mux.Cork()
	defer r.p.mux.Uncork()
	return r.announce()
}

// onClose: the remote closed the core's channel, or refused to open it
// (it does not have the core). A download that was not done ends with
// that as its error; the rest of the connection goes on.
func (r *Replication) onClose(rejected bool) {
	r.opened = false
	r.extIn = ""
	r.ch = 0
	clear(r.inflight)
	r.order, r.upgrade, r.held, r.small = nil, nil, 0, nil
	clear(r.predicted)
	r.rSynced, r.sent, r.sentContig, r.upBlocked = false, false, 0, false
	if !r.cfg.Download || r.isDoneNow() {
		return
	}
	if rejected {
		r.fail(fmt.Errorf("peer does not have core %x (it refused to open it)", r.cfg.Key[:]))
	} else {
		r.fail(fmt.Errorf("peer closed core %x before the download finished (have %d of %d blocks)", r.cfg.Key[:], r.contiguous(), r.rLength))
	}
}

func (r *Replication) onMessage(m wire.Message) error {
	switch m := m.(type) {
	case wire.Sync:
		return r.onSync(m)
	case wire.Request:
		return r.onRequest(m)
	case wire.Cancel:
		return nil // requests are answered as they arrive: nothing to cancel
	case wire.Data:
		return r.onData(&m)
	case wire.NoData:
		return r.onNoData(m)
	case wire.Want:
		return r.onWant(m.Start, m.Length)
	case wire.Unwant:
		return nil
	case wire.Bitfield:
		r.onBitfield(m)
	case wire.Range:
		r.onRange(m)
	case wire.Extension:
		r.onExtension(m)
	}
	return nil
}

// SendExtension queues an extension message for the peer on this core's
// channel; the peer's goroutine sends it once the channel is open, in
// order. name must not be empty (it is always sent in full, which
// hypercore 10 and 11 peers both read).
func (r *Replication) SendExtension(name string, message []byte) error {
	if name == "" {
		return errors.New("replicate: an extension needs a name")
	}
	r.extMu.Lock()
	r.extOut = append(r.extOut, wire.Extension{Name: name, Message: bytes.Clone(message)})
	r.extMu.Unlock()
	r.p.wake()
	return nil
}

// sendExtensions sends the queued extension messages (main loop).
func (r *Replication) sendExtensions() error {
	if !r.opened {
		return nil
	}
	r.extMu.Lock()
	out := r.extOut
	r.extOut = nil
	r.extMu.Unlock()
	for _, m := range out {
		if err := r.send(m); err != nil {
			return err
		}
	}
	return nil
}

func (r *Replication) onExtension(m wire.Extension) {
	name := m.Name
	if name == "" {
		name = r.extIn
	}
	if name == "" {
		return
	}
	r.extIn = name
	if r.cfg.OnExtension != nil {
		r.cfg.OnExtension(name, bytes.Clone(m.Message))
	}
}

// ------------------------------------------------------------ announcing

// announce sends a sync when anything in it changed, and a range when the
// contiguous prefix grew.
func (r *Replication) announce() error {
	if !r.opened {
		return nil
	}
	var length, fork uint64
	hasManifest := false
	if r.core != nil {
		h := r.core.Head()
		length, fork = h.Length, h.Fork
		hasManifest = !r.core.Compat()
	}
	remoteLength := uint64(0)
	if r.rSynced && r.rFork == fork {
		remoteLength = r.rLength
	}
	s := wire.Sync{
		Fork: fork, Length: length, RemoteLength: remoteLength,
		CanUpgrade:  r.canUpgrade(remoteLength, length, fork),
		Uploading:   r.cfg.Upload,
		Downloading: r.cfg.Download,
		HasManifest: hasManifest,
	}
	if !r.sent || s != r.sentSync {
		if err := r.send(s); err != nil {
			return err
		}
		r.sent, r.sentSync = true, s
	}
	if contig := r.contiguous(); contig > r.sentContig && r.cfg.Upload {
		if err := r.send(wire.Range{Start: 0, Length: contig}); err != nil {
			return err
		}
		r.sentContig = contig
	}
	return nil
}

// canUpgrade: can this copy prove the peer's way from remoteLength to
// length (what JS sends as canUpgrade)?
func (r *Replication) canUpgrade(remoteLength, length, fork uint64) bool {
	if r.core == nil || !r.cfg.Upload || !r.rSynced || r.rFork != fork || length == 0 || remoteLength >= length {
		return false
	}
	if remoteLength == 0 || r.core.Contiguous() == length {
		return true
	}
	k := [2]uint64{remoteLength, length}
	if ok, seen := r.upgradeable[k]; seen {
		return ok
	}
	_, err := r.core.Proof(hypercore.ProofRequest{Fork: fork, Upgrade: &hypercore.UpgradeRequest{Start: remoteLength, Length: length - remoteLength}})
	clear(r.upgradeable)
	r.upgradeable[k] = err == nil
	return err == nil
}

func (r *Replication) onWant(start, length uint64) error {
	// Our blocks are a prefix: one range says which of them we have.
	if contig := r.contiguous(); r.cfg.Upload && contig > 0 && start < contig {
		r.sentContig = contig
		return r.send(wire.Range{Start: 0, Length: contig})
	}
	return nil
}

func (r *Replication) onRange(m wire.Range) {
	end := m.Start + m.Length
	if m.Drop {
		if m.Start < r.rContig {
			r.rContig = m.Start
		}
		return
	}
	if m.Start <= r.rContig && end > r.rContig {
		r.rContig = end
	}
}

func (r *Replication) onBitfield(m wire.Bitfield) {
	if m.Start > r.rContig {
		return
	}
	for w, word := range m.Words {
		for j := range 32 {
			i := m.Start + uint64(32*w+j)
			if i < r.rContig {
				continue
			}
			if i > r.rContig || word&(1<<j) == 0 {
				return
			}
			r.rContig = i + 1
		}
	}
}

func (r *Replication) onSync(m wire.Sync) error {
	if r.rSynced && m.Fork < r.rFork {
		return r.protocolError("sync went back from fork %d to %d", r.rFork, m.Fork)
	}
	if m.Length != r.rLength || m.Fork != r.rFork {
		r.upBlocked = false
	}
	r.rSynced = true
	r.rFork, r.rLength = m.Fork, m.Length
	r.rCanUpgrade, r.rHasManifest = m.CanUpgrade, m.HasManifest
	r.mu.Lock()
	r.stats.RemoteLength = m.Length
	r.mu.Unlock()
	return nil
}

// --------------------------------------------------------------- serving

func (r *Replication) onRequest(m wire.Request) error {
	// Id 0 is what JS uses to ask for a fork-conflict proof (an upgrade
	// from 0); it is answered like any other request.
	notAvailable := wire.NoData{Request: m.ID, Reason: wire.ReasonNotAvailable}
	if !r.cfg.Upload || r.core == nil {
		return r.send(notAvailable)
	}
	if m.Fork != r.core.Head().Fork {
		return r.send(notAvailable)
	}
	p, err := r.core.Proof(m.ProofRequest)
	switch {
	case err == nil:
		p.Fork = m.Fork
		if err := r.send(wire.Data{Request: m.ID, Proof: *p}); err != nil {
			return err
		}
		if p.Block != nil {
			r.mu.Lock()
			r.stats.BlocksUploaded++
			r.stats.BytesUploaded += uint64(len(p.Block.Value))
			r.mu.Unlock()
		}
		return nil
	case errors.Is(err, hypercore.ErrNotAvailable) || errors.Is(err, hypercore.ErrOutOfRange):
		return r.send(notAvailable)
	case errors.Is(err, hypercore.ErrBadInput) || errors.Is(err, hypercore.ErrInvalidProof):
		r.invalid++
		if r.invalid > 64 {
			return r.protocolError("too many invalid requests (last: %v)", err)
		}
		return r.send(wire.NoData{Request: m.ID, Reason: wire.ReasonInvalidRequest})
	default:
		// Our own storage failed (corruption, I/O): never send it; tell
		// the peer we do not have it and say why locally.
		r.p.logf("core %x: cannot serve a request: %v", r.cfg.Key[:4], err)
		return r.send(notAvailable)
	}
}
