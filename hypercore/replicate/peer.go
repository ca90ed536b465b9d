package replicate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"time"

	"github.com/fieldsync/fieldsync/hypercore"
	"github.com/fieldsync/fieldsync/hypercore/protomux"
	"github.com/fieldsync/fieldsync/hypercore/secretstream"
	"github.com/fieldsync/fieldsync/hypercore/wire"
)

// Errors a Run can end with (wrapped with what happened).
var (
	// ErrProtocol: the peer sent something the protocol does not allow
	// (a malformed message, a bad proof or signature, an answer to a
	// request that was not made...).
	ErrProtocol = errors.New("peer broke the replication protocol")
	// ErrCapability: the peer opened a core without proving it holds the
	// core's key.
	ErrCapability = errors.New("peer sent an invalid replication capability (it does not know the core key)")
	// ErrTimeout: the peer left a request unanswered too long.
	ErrTimeout = errors.New("peer stopped answering")
)

// Options tune a Peer. Zero fields take the defaults.
type Options struct {
	// MaxInflight bounds the block requests in flight per core (512).
	MaxInflight int
	// RequestTimeout is how long a request may stay unanswered before the
	// peer is dropped (30 s).
	RequestTimeout time.Duration
	// MaxQueued is how many bytes may wait to be sent before the peer's
	// messages stop being read (16 MiB).
	MaxQueued int
	// WriteTimeout bounds one write to the peer: a peer that stops
	// reading is dropped after it (30 s).
	WriteTimeout time.Duration
	// IdleTimeout drops a peer that sends nothing at all for this long
	// (30 s). Peers send keep-alives when idle (JS hypercore every 5 s,
	// fieldsync's CLI too: secretstream.Config.KeepAlive). Negative: never.
	IdleTimeout time.Duration
	// Poll is how often cores are checked for new local data to announce
	// (read-only cores are refreshed from disk) (50 ms).
	Poll time.Duration
	// Logf, if set, receives diagnostics.
	Logf func(format string, args ...any)
	// HoldUnknownCores leaves the remote's opens of cores not (yet) added
	// pending instead of refusing them (up to 4,096): a caller that learns
	// of cores on another channel (fieldsync's project channel) adds them
	// a moment later, and they pair then, whichever side was first.
	HoldUnknownCores bool
}

// maxHeldOpens bounds the remote opens left pending by HoldUnknownCores.
const maxHeldOpens = 4096

func (o *Options) fill() {
	if o.MaxInflight <= 0 {
		o.MaxInflight = 512
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 30 * time.Second
	}
	if o.MaxQueued <= 0 {
		o.MaxQueued = 16 << 20
	}
	if o.Poll <= 0 {
		o.Poll = 50 * time.Millisecond
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 30 * time.Second
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = 30 * time.Second
	}
}

// maxBatch is the size at which a batch frame is cut.
const maxBatch = 256 << 10

// MaxMessageSize is the largest message a Peer accepts: a block of
// hypercore.MaxBlockSize with its proof, with room to spare. Use it as the
// secret stream's Config.MaxMessageSize.
const MaxMessageSize = hypercore.MaxBlockSize + 1<<20

// Peer replicates cores over one secret stream. Add cores, then Run; Add
// may also be called while Run runs.
type Peer struct {
	s    *secretstream.Stream
	opts Options
	mux  *protomux.Mux

	mu      sync.Mutex
	adds    []*Replication
	chOpens []*Channel
	chSends []channelSend
	poke    chan struct{}
	closeCh chan struct{}
	closed  bool

	// Main loop only.
	byDKey  map[hypercore.Hash]*Replication
	byChan  map[uint64]*Replication
	byExtra map[uint64]*Channel
	held    int // remote opens left pending (HoldUnknownCores)
	all     []*Replication
	scratch []byte
	out     [][]byte
	busy    bool // the last frame has messages not yet handled
	w       *writer
	hashq   chan *request // big blocks to hash ahead of verification
	// wg counts every goroutine Run starts (writer, reader, hash workers,
	// storage): Run returns only after wg.Wait.
	wg sync.WaitGroup
}

// NewPeer returns a Peer for an established secret stream.
func NewPeer(s *secretstream.Stream, opts Options) *Peer {
	opts.fill()
	return &Peer{
		s:    s,
		opts: opts,
		// Batches are cut at 256 KiB: large blocks then leave (and can be
		// verified at the other end) a few at a time instead of in 8 MiB
		// frames that stall the pipeline.
		mux:     protomux.New(protomux.Config{MaxBatch: maxBatch}),
		poke:    make(chan struct{}, 1),
		closeCh: make(chan struct{}),
		byDKey:  map[hypercore.Hash]*Replication{},
		byChan:  map[uint64]*Replication{},
		byExtra: map[uint64]*Channel{},
	}
}

// Add starts replicating a core on this connection.
func (p *Peer) Add(cfg CoreConfig) (*Replication, error) {
	if cfg.Core == nil && cfg.Create == nil {
		return nil, errors.New("replicate: a core or a Create function is needed")
	}
	if cfg.Core != nil && cfg.Core.Key() != cfg.Key {
		return nil, errors.New("replicate: CoreConfig.Key is not the key of CoreConfig.Core")
	}
	r := newReplication(p, cfg)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, errors.New("replicate: peer is closed")
	}
	p.adds = append(p.adds, r)
	p.wake()
	return r, nil
}

// Notify makes the peer look for new local data now (after an append to
// a core it serves) instead of at the next poll.
func (p *Peer) Notify() { p.wake() }

func (p *Peer) wake() {
	select {
	case p.poke <- struct{}{}:
	default:
	}
}

// Close ends Run gracefully: channels are closed, queued messages sent,
// then the connection is closed.
func (p *Peer) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.closed = true
		close(p.closeCh)
	}
}

// RemotePublicKey is the peer's Noise static key.
func (p *Peer) RemotePublicKey() []byte { return p.s.RemotePublicKey() }

func (p *Peer) logf(format string, args ...any) {
	if p.opts.Logf != nil {
		p.opts.Logf(format, args...)
	}
}

// Run replicates until ctx ends, Close is called, the remote closes the
// connection (nil), or something fails. On return the connection is
// closed, every Replication that did not finish holds the error, and
// every goroutine Run started (writer, reader, hash workers, storage) has
// exited. Run may be called once.
func (p *Peer) Run(ctx context.Context) (err error) {
	p.w = newWriter(p.s, p.opts.WriteTimeout)
	// The last deferred call, so it runs after everything that stops the
	// goroutines (closing the stream, the writer, the queues).
	defer p.wg.Wait()
	p.wg.Go(p.w.run)
	// Two frames read ahead at most: a frame is up to MaxMessageSize.
	in := make(chan []byte, 2)
	rdErr := make(chan error, 1)
	stop := make(chan struct{})
	p.wg.Go(func() {
		for {
			if p.opts.IdleTimeout > 0 {
				p.s.SetReadDeadline(time.Now().Add(p.opts.IdleTimeout))
			}
			m, err := p.s.ReadMessage()
			if err != nil {
				rdErr <- err
				return
			}
			select {
			case in <- m:
			case <-stop:
				return
			}
		}
	})
	defer func() {
		close(stop)
		p.s.Close()
		p.w.close()
		// Verified blocks are kept unless the peer broke the protocol
		// (then nothing it sent since the last stored batch is).
		keep := !errors.Is(err, ErrProtocol) && !errors.Is(err, ErrCapability)
		for _, r := range p.all {
			if keep {
				if serr := r.flushPuts(); serr != nil && err == nil {
					err = serr
				}
			}
			// A batch being written was verified: let it land, so that
			// nothing writes to the core after Run returns.
			if serr := r.storeResult(true); serr != nil && err == nil {
				err = serr
			}
			r.stopStorage()
			r.finish(err)
		}
		p.mu.Lock()
		p.closed = true
		p.mu.Unlock()
	}()
	// Large blocks are hashed as they arrive, on every CPU, then verified
	// in order on this goroutine.
	p.hashq = make(chan *request, 64)
	defer close(p.hashq)
	for range runtime.GOMAXPROCS(0) {
		q := p.hashq
		p.wg.Go(func() {
			for req := range q {
				hypercore.Prehash(req.data.Block)
				close(req.hashed)
			}
		})
	}
	p.mux.Pair(wire.Protocol, nil)
	p.mux.Pair(wire.ProtocolAlias, nil)
	tick := time.NewTicker(p.opts.Poll)
	defer tick.Stop()
	for {
		if err := p.step(); err != nil {
			return err
		}
		// Read the next frame only when the last one is done and the
		// send queue has room: a frame of requests is answered a few at a
		// time while the writer drains.
		if p.busy {
			if err := p.events(); err != nil {
				return err
			}
			if err := p.step(); err != nil {
				return err
			}
		}
		input := in
		if p.busy || p.w.queued() > p.opts.MaxQueued {
			input = nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("replication stopped: %w", ctx.Err())
		case <-p.closeCh:
			return p.shutdown()
		case m := <-input:
			if err := p.receive(m); err != nil {
				return err
			}
		case err := <-rdErr:
			if errors.Is(err, io.EOF) || errors.Is(err, secretstream.ErrClosed) {
				return p.remoteClosed()
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return fmt.Errorf("%w: nothing received for %v", ErrTimeout, p.opts.IdleTimeout)
			}
			return fmt.Errorf("read from peer: %w", err)
		case err := <-p.w.errc:
			return fmt.Errorf("write to peer: %w", err)
		case <-p.w.drained:
		case <-p.poke:
		case <-tick.C:
			if err := p.tick(); err != nil {
				return err
			}
		}
	}
}

// remoteClosed ends Run after the remote closed the connection: fine,
// unless a download was still waiting for it.
func (p *Peer) remoteClosed() error {
	for _, r := range p.all {
		if r.cfg.Download && !r.isDoneNow() && !r.cfg.Live {
			return fmt.Errorf("core %x: peer closed the connection before the download finished (have %d of %d blocks)", r.cfg.Key[:4], r.contiguous(), r.rLength)
		}
	}
	return nil
}

// shutdown closes the channels, flushes what is queued and ends.
func (p *Peer) shutdown() error {
	if err := p.stepChannels(); err != nil {
		return err
	}
	for ch := range p.byExtra {
		p.mux.Close(ch)
	}
	for _, r := range p.all {
		if err := r.settle(); err != nil {
			return err
		}
		if r.opened || r.ch != 0 {
			p.mux.Close(r.ch)
		}
	}
	p.w.enqueue(p.mux.AppendOutput(nil))
	p.w.flush(2 * time.Second)
	return nil
}

// step takes new cores, advances every core and hands output to the writer.
func (p *Peer) step() error {
	p.mu.Lock()
	adds := p.adds
	p.adds = nil
	p.mu.Unlock()
	// Channel messages first: a message announcing a core must reach the
	// remote before that core's channel opens.
	if err := p.stepChannels(); err != nil {
		return err
	}
	for _, r := range adds {
		if err := p.open(r); err != nil {
			return err
		}
	}
	for _, r := range p.all {
		if err := r.advance(); err != nil {
			return err
		}
	}
	p.w.enqueue(p.mux.AppendOutput(nil))
	return nil
}

func (p *Peer) open(r *Replication) error {
	dk := hypercore.DiscoveryKey(r.cfg.Key)
	if _, dup := p.byDKey[dk]; dup {
		r.fail(errors.New("replicate: core added twice to one peer"))
		return nil
	}
	p.byDKey[dk] = r
	p.all = append(p.all, r)
	return p.openChannel(r)
}

// openChannel opens (or, after the remote closed it, reopens) a core's
// channel.
func (p *Peer) openChannel(r *Replication) error {
	dk := hypercore.DiscoveryKey(r.cfg.Key)
	capability := hypercore.ReplicationCapability(p.s.IsInitiator(), r.cfg.Key, p.s.HandshakeHash())
	hs := wire.AppendHandshake(nil, wire.Handshake{Seeks: true, Capability: capability})
	ch, err := p.mux.Open(protomux.OpenOptions{Protocol: wire.Protocol, Aliases: []string{wire.ProtocolAlias}, ID: dk[:], Handshake: hs})
	if err != nil {
		return fmt.Errorf("open channel for core %x: %w", r.cfg.Key[:4], err)
	}
	r.ch = ch
	p.byChan[ch] = r
	return nil
}

func (p *Peer) tick() error {
	now := time.Now()
	for _, r := range p.all {
		if err := r.onTick(now); err != nil {
			return err
		}
	}
	return nil
}

// receive takes one frame from the peer and handles its messages.
func (p *Peer) receive(frame []byte) error {
	if err := p.mux.Receive(frame); err != nil {
		return fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	p.busy = true
	return p.events()
}

// events handles the messages of the current frame until it is done, or
// until the send queue is full (busy stays set: the rest waits for the
// writer to drain).
func (p *Peer) events() error {
	for p.w.queued() <= p.opts.MaxQueued {
		ev, ok, err := p.mux.NextEvent()
		if err != nil {
			return fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		if !ok {
			p.busy = false
			return nil
		}
		if err := p.event(ev); err != nil {
			return err
		}
		// Hand finished frames to the writer as they are made, so that
		// answers to a long batch of requests start leaving at once.
		p.out = p.mux.AppendOutput(p.out[:0])
		if len(p.out) > 0 {
			p.w.enqueue(p.out)
			clear(p.out)
		}
	}
	return nil
}

func (p *Peer) event(ev protomux.Event) error {
	if ok, err := p.channelEvent(ev); ok {
		return err
	}
	switch ev.Kind {
	case protomux.EventRemoteOpen:
		if ev.Protocol != wire.Protocol && ev.Protocol != wire.ProtocolAlias {
			if p.pendingChannel(ev.Protocol, ev.ID) {
				return nil // the next step opens it and the two pair
			}
			return p.mux.Reject(ev.RemoteID)
		}
		// A core we were not given (or not yet): refuse it, as JS does for
		// a discovery key it does not know.
		var dk hypercore.Hash
		if len(ev.ID) == len(dk) {
			copy(dk[:], ev.ID)
			p.mu.Lock()
			pending := false
			for _, r := range p.adds {
				pending = pending || hypercore.DiscoveryKey(r.cfg.Key) == dk
			}
			p.mu.Unlock()
			if pending {
				return nil // added but not opened yet: the next step pairs it
			}
			if r, ok := p.byDKey[dk]; ok && r.ch == 0 && !r.isDoneNow() {
				// The remote closed this core's channel and opens it again
				// (JS does when it wants to download after all).
				return p.openChannel(r)
			}
			if _, ok := p.byDKey[dk]; !ok && p.opts.HoldUnknownCores && p.held < maxHeldOpens {
				p.held++
				return nil // Add pairs it when the core is learned
			}
		}
		return p.mux.Reject(ev.RemoteID)
	case protomux.EventOpen:
		r := p.byChan[ev.Channel]
		if r == nil {
			return nil
		}
		hs, err := wire.DecodeHandshake(ev.Handshake)
		if err != nil {
			return fmt.Errorf("%w: channel handshake: %w", ErrProtocol, err)
		}
		if !hypercore.CheckReplicationCapability(!p.s.IsInitiator(), r.cfg.Key, p.s.HandshakeHash(), hs.Capability[:]) {
			return fmt.Errorf("core %x: %w", r.cfg.Key[:4], ErrCapability)
		}
		return r.onOpen()
	case protomux.EventMessage:
		r := p.byChan[ev.Channel]
		if r == nil || !r.opened {
			return nil
		}
		m, err := wire.Decode(ev.Type, ev.Payload)
		if errors.Is(err, wire.ErrUnknownType) {
			return nil // a newer message type: ignored, as JS does
		}
		if err != nil {
			return fmt.Errorf("%w: core %x: %w", ErrProtocol, r.cfg.Key[:4], err)
		}
		return r.onMessage(m)
	case protomux.EventClose:
		r := p.byChan[ev.Channel]
		if r == nil {
			return nil
		}
		delete(p.byChan, ev.Channel)
		r.onClose(ev.Rejected)
	}
	return nil
}

// send queues a message on a core's channel.
func (p *Peer) send(ch uint64, m wire.Message) error {
	p.scratch = wire.Append(p.scratch[:0], m)
	return p.mux.Send(ch, m.MessageType(), p.scratch)
}

// writer sends queued frames on its own goroutine, so that the main loop
// never blocks on a slow reader at the other end.
type writer struct {
	s       *secretstream.Stream
	timeout time.Duration
	mu      sync.Mutex
	q       [][]byte
	bytes   int
	busy    bool
	done    bool
	wake    chan struct{}
	drained chan struct{}
	idle    chan struct{}
	errc    chan error
}

func newWriter(s *secretstream.Stream, timeout time.Duration) *writer {
	return &writer{s: s, timeout: timeout, wake: make(chan struct{}, 1), drained: make(chan struct{}, 1), idle: make(chan struct{}, 1), errc: make(chan error, 1)}
}

func (w *writer) queued() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.bytes
}

func (w *writer) enqueue(frames [][]byte) {
	if len(frames) == 0 {
		return
	}
	w.mu.Lock()
	for _, f := range frames {
		w.q = append(w.q, f)
		w.bytes += len(f)
	}
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *writer) close() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// flush waits until everything queued was written (or the timeout).
func (w *writer) flush(timeout time.Duration) {
	deadline := time.After(timeout)
	for {
		w.mu.Lock()
		empty := len(w.q) == 0 && !w.busy
		w.mu.Unlock()
		if empty {
			return
		}
		select {
		case <-w.idle:
		case <-deadline:
			return
		case <-w.errc:
			return
		}
	}
}

func (w *writer) run() {
	for range w.wake {
		for {
			w.mu.Lock()
			if w.done {
				w.mu.Unlock()
				return
			}
			q := w.q
			w.q = nil
			w.busy = len(q) > 0
			w.mu.Unlock()
			if len(q) == 0 {
				break
			}
			// A peer that stops reading fails the write after the
			// timeout instead of holding this goroutine forever.
			w.s.SetWriteDeadline(time.Now().Add(w.timeout))
			err := w.s.WriteMessages(q...)
			n := 0
			for _, f := range q {
				n += len(f)
			}
			w.mu.Lock()
			w.bytes -= n
			w.busy = false
			w.mu.Unlock()
			select {
			case w.drained <- struct{}{}:
			default:
			}
			if err != nil {
				w.errc <- err
				return
			}
		}
		select {
		case w.idle <- struct{}{}:
		default:
		}
	}
}
