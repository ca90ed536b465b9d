package projectsync

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/fieldsync/fieldsync/hypercore"
	"github.com/fieldsync/fieldsync/hypercore/replicate"
	"github.com/fieldsync/fieldsync/hypercore/secretstream"
	"github.com/fieldsync/fieldsync/observations/record"
	"golang.org/x/crypto/blake2b"
)

// Protocol is the protomux protocol of the project channel.
const Protocol = "fieldsync/project"

// msgCores is the one message type: every core the sender holds.
const msgCores = 0

// maxCores bounds a list (a project of 50,000 devices).
const maxCores = 100000

var (
	// ErrNotMember: the peer holds no project in common with us.
	ErrNotMember = errors.New("the peer is not a member of this project")
	// ErrCapability: the peer opened the project channel without proving
	// it holds the project key.
	ErrCapability = errors.New("the peer failed the project capability check")
	// ErrIncomplete: the connection ended before both sides held the same
	// length of every core.
	ErrIncomplete = errors.New("the connection ended before the sync was complete")
)

// channelID and capability bind the project key to one connection.
func channelID(projectKey [32]byte, handshakeHash []byte) []byte {
	return keyed(projectKey, "fieldsync project channel v1", nil, handshakeHash)
}

func capability(projectKey [32]byte, initiator bool, handshakeHash []byte) []byte {
	role := []byte{0}
	if initiator {
		role[0] = 1
	}
	return keyed(projectKey, "fieldsync project capability v1", role, handshakeHash)
}

func keyed(key [32]byte, tag string, role, hh []byte) []byte {
	h, _ := blake2b.New256(key[:])
	h.Write([]byte(tag))
	h.Write([]byte{0})
	h.Write(role)
	h.Write(hh)
	return h.Sum(nil)
}

// Options of a session.
type Options struct {
	// Live keeps syncing as either side grows (serve); without it Run
	// returns once both sides hold the same length of every core.
	Live bool
	// NoMedia leaves media cores out of what is downloaded.
	NoMedia bool
	// Poll is how often the local list is checked for changes (20 ms).
	Poll time.Duration
	// Replicate tunes the underlying peer.
	Replicate replicate.Options
}

// Session is one connection syncing one project.
type Session struct {
	store *Store
	opts  Options
	s     *secretstream.Stream
	peer  *replicate.Peer

	addMu    sync.Mutex // one add at a time: a core is added once
	mu       sync.Mutex
	member   bool
	remote   map[[32]byte]CoreState // the peer's last list
	listed   bool                   // a list was received
	reps     map[[32]byte]*replicate.Replication
	sent     []CoreState
	rejected bool
	err      error
	complete chan struct{}
	isDone   bool
	wakeCh   chan struct{} // a core caught up: check for completion now
}

// New prepares a session on an established stream.
func New(s *secretstream.Stream, store *Store, opts Options) *Session {
	if opts.Poll <= 0 {
		opts.Poll = 20 * time.Millisecond
	}
	// Either side may open a core's channel a moment before the other
	// has read the list naming it.
	opts.Replicate.HoldUnknownCores = true
	return &Session{store: store, opts: opts, s: s, peer: replicate.NewPeer(s, opts.Replicate),
		remote: map[[32]byte]CoreState{}, reps: map[[32]byte]*replicate.Replication{}, complete: make(chan struct{}), wakeCh: make(chan struct{}, 1)}
}

// RemotePublicKey is the peer's device identity.
func (ss *Session) RemotePublicKey() []byte { return ss.s.RemotePublicKey() }

// Run syncs until the project is complete on both sides (without Live),
// ctx ends, or the connection fails. A peer that is not a member is
// dropped with ErrNotMember, having learned nothing.
func (ss *Session) Run(ctx context.Context) error {
	key := ss.store.p.Key
	hh := ss.s.HandshakeHash()
	ch, err := ss.peer.OpenChannel(&replicate.ChannelHandler{
		Protocol:  Protocol,
		ID:        channelID(key, hh),
		Handshake: capability(key, ss.s.IsInitiator(), hh),
		OnOpen: func(remote []byte) error {
			if !bytes.Equal(remote, capability(key, !ss.s.IsInitiator(), hh)) {
				return ErrCapability
			}
			ss.mu.Lock()
			ss.member = true
			ss.mu.Unlock()
			ss.wake() // announce now, not at the next poll
			return nil
		},
		OnMessage: ss.onMessage,
		OnClose: func(rejected bool) {
			ss.mu.Lock()
			ss.rejected = rejected
			ss.mu.Unlock()
			ss.peer.Close()
		},
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- ss.peer.Run(ctx) }()
	tick := time.NewTicker(ss.opts.Poll)
	defer tick.Stop()
	for {
		ss.mu.Lock()
		member := ss.member
		ss.mu.Unlock()
		if member {
			ss.announce(ch)
			if !ss.opts.Live && ss.isComplete() {
				ss.markComplete()
				ss.peer.Close()
				<-runErr // complete: how the connection then ends does not matter
				return nil
			}
		}
		select {
		case err := <-runErr:
			// The peer may have seen completion first and closed. A member
			// that closes gracefully (err nil) says it is done: then this
			// side is complete if it holds all the peer announced (what
			// this side learned since, from others, is for a later sync).
			if member && !ss.opts.Live && (ss.isComplete() || err == nil && ss.hasAllOfPeer()) {
				ss.markComplete()
				return nil
			}
			return ss.finish(err)
		case <-tick.C:
		case <-ss.wakeCh:
		}
	}
}

// finish is why a session ended before it was complete.
func (ss *Session) finish(err error) error {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	switch {
	case !ss.member && (err == nil || ss.rejected):
		return ErrNotMember
	case err == nil && !ss.opts.Live:
		// The peer closed the connection (or the project channel) first.
		return ErrIncomplete
	}
	return err
}

// announce sends the local list when it changed and adds the cores it
// names to the connection (after the list is queued: the peer learns of
// a core before its channel opens).
func (ss *Session) announce(ch *replicate.Channel) {
	list := ss.store.List()
	ss.mu.Lock()
	changed := !equalLists(list, ss.sent)
	ss.mu.Unlock()
	if !changed {
		return
	}
	ch.Send(msgCores, encodeList(list))
	ss.mu.Lock()
	ss.sent = list
	ss.mu.Unlock()
	for _, c := range list {
		ss.add(c.Key, c.Kind)
	}
}

func (ss *Session) add(key [32]byte, kind record.CoreKind) {
	ss.addMu.Lock()
	defer ss.addMu.Unlock()
	ss.mu.Lock()
	_, ok := ss.reps[key]
	ss.mu.Unlock()
	if ok {
		return
	}
	h := ss.store.learn(key, kind)
	download := !(ss.opts.NoMedia && h.kind == record.KindMedia)
	cfg := ss.store.config(key, download)
	stored := cfg.Caught
	cfg.Caught = func(c *hypercore.Core) {
		if stored != nil {
			stored(c)
		}
		ss.wake()
	}
	r, err := ss.peer.Add(cfg)
	if err != nil {
		return
	}
	ss.mu.Lock()
	ss.reps[key] = r
	ss.mu.Unlock()
}

// onMessage takes the peer's list (on the peer's goroutine).
func (ss *Session) onMessage(typ uint64, payload []byte) error {
	if typ != msgCores {
		return nil // a newer message: ignored
	}
	ss.mu.Lock()
	member := ss.member
	ss.mu.Unlock()
	if !member {
		return errors.New("a list before the capability")
	}
	list, err := decodeList(payload)
	if err != nil {
		return err
	}
	ss.mu.Lock()
	ss.listed = true
	clear(ss.remote)
	for _, c := range list {
		ss.remote[c.Key] = c
	}
	ss.mu.Unlock()
	for _, c := range list {
		ss.add(c.Key, c.Kind)
	}
	ss.wake()
	return nil
}

func (ss *Session) wake() {
	select {
	case ss.wakeCh <- struct{}{}:
	default:
	}
}

// isComplete: both sides hold the same length of every core either
// knows (media cores aside with NoMedia), and nothing is in flight.
func (ss *Session) isComplete() bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if !ss.listed || !equalLists(ss.store.List(), ss.sent) {
		return false
	}
	local := map[[32]byte]CoreState{}
	for _, c := range ss.sent {
		local[c.Key] = c
	}
	for k, r := range ss.remote {
		l := local[k]
		if ss.opts.NoMedia && (r.Kind == record.KindMedia || l.Kind == record.KindMedia) {
			continue
		}
		if l.Length != r.Length {
			return false
		}
	}
	for k, l := range local {
		if _, ok := ss.remote[k]; !ok && !(ss.opts.NoMedia && l.Kind == record.KindMedia) {
			return false
		}
	}
	return true
}

// hasAllOfPeer: a list came from the peer, and this side holds at least
// the length it announced of every core in it (media aside with NoMedia).
func (ss *Session) hasAllOfPeer() bool {
	local := map[[32]byte]uint64{}
	for _, c := range ss.store.List() {
		local[c.Key] = c.Length
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if !ss.listed {
		return false
	}
	for k, r := range ss.remote {
		if ss.opts.NoMedia && r.Kind == record.KindMedia {
			continue
		}
		if local[k] < r.Length {
			return false
		}
	}
	return true
}

func (ss *Session) markComplete() {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if !ss.isDone {
		ss.isDone = true
		close(ss.complete)
	}
}

// Progress is what a session moved and what it waits for.
type Progress struct {
	Cores                           int    // known to either side
	Behind                          int    // cores whose lengths differ
	BlocksWanted                    uint64 // blocks the peer holds that we lack
	BlocksDownloaded, BytesDownload uint64
	BlocksUploaded, BytesUploaded   uint64
	Lagging                         []Lag // cores whose lengths differ
}

// Lag is one core that is behind on one side.
type Lag struct {
	Key           [32]byte
	Local, Remote uint64
}

// Progress reports the session's state.
func (ss *Session) Progress() Progress {
	local := ss.store.List()
	ss.mu.Lock()
	defer ss.mu.Unlock()
	var p Progress
	seen := map[[32]byte]bool{}
	for _, l := range local {
		seen[l.Key] = true
		r, ok := ss.remote[l.Key]
		if ss.opts.NoMedia && (l.Kind == record.KindMedia || r.Kind == record.KindMedia) {
			continue
		}
		if ok && r.Length > l.Length {
			p.BlocksWanted += r.Length - l.Length
		}
		if !ok || r.Length != l.Length {
			p.Lagging = append(p.Lagging, Lag{l.Key, l.Length, r.Length})
		}
	}
	for k, r := range ss.remote {
		if !seen[k] && !(ss.opts.NoMedia && r.Kind == record.KindMedia) {
			p.BlocksWanted += r.Length
			p.Lagging = append(p.Lagging, Lag{k, 0, r.Length})
		}
		seen[k] = true
	}
	p.Cores = len(seen)
	p.Behind = len(p.Lagging)
	for _, r := range ss.reps {
		st := r.Stats()
		p.BlocksDownloaded += st.BlocksDownloaded
		p.BytesDownload += st.BytesDownloaded
		p.BlocksUploaded += st.BlocksUploaded
		p.BytesUploaded += st.BytesUploaded
	}
	return p
}

// Member reports whether the peer proved it holds the project.
func (ss *Session) Member() bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.member
}

// Close ends the session.
func (ss *Session) Close() { ss.peer.Close() }

func equalLists(a, b []CoreState) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// encodeList: count, then per core its key, kind and length (uvarints).
func encodeList(list []CoreState) []byte {
	b := binary.AppendUvarint(nil, uint64(len(list)))
	for _, c := range list {
		b = append(b, c.Key[:]...)
		b = append(b, byte(c.Kind))
		b = binary.AppendUvarint(b, c.Length)
	}
	return b
}

func decodeList(b []byte) ([]CoreState, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > maxCores || n > uint64(len(b)) {
		return nil, fmt.Errorf("%w: bad core list", replicate.ErrProtocol)
	}
	b = b[k:]
	out := make([]CoreState, 0, n)
	for range n {
		if len(b) < 34 {
			return nil, fmt.Errorf("%w: short core list", replicate.ErrProtocol)
		}
		var c CoreState
		copy(c.Key[:], b)
		c.Kind = record.CoreKind(b[32])
		l, k := binary.Uvarint(b[33:])
		if k <= 0 {
			return nil, fmt.Errorf("%w: bad core length", replicate.ErrProtocol)
		}
		c.Length = l
		b = b[33+k:]
		out = append(out, c)
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: trailing bytes in core list", replicate.ErrProtocol)
	}
	return out, nil
}
