package protomux

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Errors of the channel table. Errors from Receive and NextEvent mean the
// remote broke the protocol: the connection must be dropped (JS destroys
// the stream).
var (
	// ErrProtocol is wrapped by every error NextEvent returns for a
	// message that is well formed but not allowed (JS: "Invalid open message",
	// "Invalid reject message").
	ErrProtocol = errors.New("protomux: protocol violation")
	// ErrLimit is wrapped when the remote exceeds a bound of Config.
	ErrLimit = errors.New("protomux: limit exceeded")
	// ErrChannel is returned by local calls on a channel id that is not
	// open, or an open that would duplicate a live channel.
	ErrChannel = errors.New("protomux: no such channel")
	// ErrFailed is wrapped by every call after Receive or NextEvent
	// failed once.
	ErrFailed = errors.New("protomux: mux failed")
	// ErrBusy is returned by Receive while the previous frame still has
	// messages NextEvent has not processed. It does not fail the Mux.
	ErrBusy = errors.New("protomux: previous frame not fully processed")
)

// Defaults of Config.
const (
	DefaultMaxChannels = 1024
	DefaultMaxBuffered = 256 << 10
	DefaultMaxBatch    = 8 << 20 // JS MAX_BATCH
)

// bufferOverhead is what each buffered message or pending open counts
// against MaxBuffered besides its bytes (JS byteSize: 512 + length).
const bufferOverhead = 512

// Config bounds a Mux. Zero fields take the defaults.
type Config struct {
	// MaxChannels bounds the local channel ids in use and, separately,
	// the remote channel ids (the remote table only grows: ids must come
	// one past the highest seen).
	MaxChannels int
	// MaxBuffered bounds the bytes held for remote opens not yet answered
	// and for messages on them: each counts 512 + its length, as in JS.
	// JS pauses the stream beyond 32 KiB; with no I/O here, going beyond
	// the bound is an error (ErrLimit) instead.
	MaxBuffered int
	// MaxBatch is the size at which a corked batch is cut into a new
	// frame (JS: 8 MiB).
	MaxBatch int
}

// EventKind says what an Event reports.
type EventKind uint8

const (
	// EventRemoteOpen: the remote opened channel RemoteID for (Protocol,
	// ID) with Handshake, and no local channel was waiting for it. Answer
	// with Open for the same protocol and id (which pairs with it) or with
	// Reject(RemoteID). Only opens for protocols registered with Pair are
	// reported; others are rejected at once.
	EventRemoteOpen EventKind = iota + 1
	// EventOpen: local channel Channel (for Protocol, ID) is open at both
	// ends; Handshake is the remote's, RemoteID its id for the channel.
	EventOpen
	// EventMessage: a message of Type with Payload on Channel.
	EventMessage
	// EventClose: the remote closed Channel, or refused to open it
	// (Rejected). The id may be reused by a later Open.
	EventClose
)

func (k EventKind) String() string {
	switch k {
	case EventRemoteOpen:
		return "remote-open"
	case EventOpen:
		return "open"
	case EventMessage:
		return "message"
	case EventClose:
		return "close"
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// Event is something the caller must act on. Byte slices of events made by
// a received message alias the frame given to Receive, except for messages
// and opens that were buffered (copies).
type Event struct {
	Kind      EventKind
	Channel   uint64 // local channel id (0 for EventRemoteOpen)
	RemoteID  uint64 // the remote's id of the channel
	Protocol  string
	ID        []byte
	Handshake []byte
	Type      uint64 // EventMessage
	Payload   []byte // EventMessage
	Rejected  bool   // EventClose: the remote refused the open
}

// ChannelState is the state of a local channel id.
type ChannelState uint8

const (
	// StateNone: the id is not in use.
	StateNone ChannelState = iota
	// StateOpening: open sent, the remote's open not yet seen.
	StateOpening
	// StateOpen: open at both ends.
	StateOpen
	// StateClosing: closed locally before the remote opened it; the id is
	// held until the remote's open or reject arrives, so that it is not
	// reused while the remote may still pair with it.
	StateClosing
)

type channel struct {
	local    uint64
	remote   uint64 // 0 until paired
	state    ChannelState
	protocol string
	aliases  []string
	id       []byte
}

type bufferedMessage struct {
	typ     uint64
	payload []byte
}

// remoteSlot is a remote channel id in use: either pending (opened by the
// remote, not yet answered here) or paired with local channel `local`.
type remoteSlot struct {
	local     uint64 // 0 while pending
	protocol  string
	id        []byte
	handshake []byte
	buffered  []bufferedMessage
	cost      int // bytes counted against MaxBuffered
}

// Mux is the channel table of one connection. It is not safe for
// concurrent use, and does no I/O. The connection loop feeds it every
// received frame with Receive, then takes events with NextEvent until there
// are none, handling each (handlers may call Open, Send, Close, Reject),
// and sends the frames AppendOutput gives:
//
//	if err := mux.Receive(frame); err != nil { drop the connection }
//	for {
//		ev, ok, err := mux.NextEvent()
//		if err != nil { drop the connection }
//		if !ok { break }
//		handle(ev)
//	}
//	write(mux.AppendOutput(nil))
//
// Messages are processed one at a time as NextEvent is called, in order,
// as JS does: what a handler does takes effect before the next message of
// the same batch. Memory does not grow with the number of messages in a
// frame.
type Mux struct {
	cfg Config
	err error

	local  []*channel // index = local id - 1; nil = free (or never used)
	free   []uint64   // freed local ids, reused last-in first-out (as JS)
	remote []*remoteSlot

	outgoing map[string][]uint64 // key → local ids waiting for the remote's open, oldest first
	incoming map[string][]uint64 // key → pending remote ids, oldest first
	pairs    map[string]bool     // registered keys; key(protocol, nil) = any id

	buffered int

	// The frame being received: a single message, or the rest of a batch.
	in       BatchReader
	inBatch  bool
	inSingle Message
	inHas    bool // inSingle not yet processed
	autoCork bool // corked for the batch being received

	events []Event // queued events; events[evHead:] not yet taken
	evHead int
	out    [][]byte
	corked int
	batch  Batch
}

// New returns an empty Mux.
func New(cfg Config) *Mux {
	if cfg.MaxChannels <= 0 {
		cfg.MaxChannels = DefaultMaxChannels
	}
	if cfg.MaxBuffered <= 0 {
		cfg.MaxBuffered = DefaultMaxBuffered
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = DefaultMaxBatch
	}
	return &Mux{
		cfg:      cfg,
		outgoing: map[string][]uint64{},
		incoming: map[string][]uint64{},
		pairs:    map[string]bool{},
	}
}

// key identifies (protocol, id); nil and empty ids are the same, as in JS.
func key(protocol string, id []byte) string {
	b := binary.AppendUvarint(make([]byte, 0, 2+len(protocol)+len(id)), uint64(len(protocol)))
	b = append(b, protocol...)
	return string(append(b, id...))
}

// Pair registers interest in remote opens of protocol with this id (nil:
// any id). Remote opens nobody is waiting for are reported as
// EventRemoteOpen when registered, and rejected at once otherwise (JS
// pair / notify).
func (m *Mux) Pair(protocol string, id []byte) { m.pairs[key(protocol, id)] = true }

// Unpair removes a registration made with Pair.
func (m *Mux) Unpair(protocol string, id []byte) { delete(m.pairs, key(protocol, id)) }

func (m *Mux) paired(protocol string, id []byte) bool {
	return m.pairs[key(protocol, id)] || m.pairs[key(protocol, nil)]
}

// Err is the error that made the Mux fail, if any.
func (m *Mux) Err() error { return m.err }

// Buffered is the number of bytes counted against Config.MaxBuffered.
func (m *Mux) Buffered() int { return m.buffered }

// State is the state of local channel id.
func (m *Mux) State(local uint64) ChannelState {
	if ch := m.channel(local); ch != nil {
		return ch.state
	}
	return StateNone
}

// RemoteID is the remote's id of open local channel id (0 if not open).
func (m *Mux) RemoteID(local uint64) uint64 {
	if ch := m.channel(local); ch != nil {
		return ch.remote
	}
	return 0
}

func (m *Mux) channel(local uint64) *channel {
	if local == 0 || local > uint64(len(m.local)) {
		return nil
	}
	return m.local[local-1]
}

// NextEvent returns the next event: first those queued by local calls
// (Open pairing with a waiting remote open), then those of the received
// frame, processing its messages one at a time. ok is false when there is
// none left. An error means the remote broke the protocol or a bound: drop
// the connection; the Mux stays failed.
//
// When the received frame is a batch of several messages, the Mux corks
// while they are processed and uncorks when NextEvent reports the end, so
// that replies sent by the handlers leave as one batch (as JS does).
func (m *Mux) NextEvent() (ev Event, ok bool, err error) {
	for {
		if m.err != nil {
			return Event{}, false, m.failed()
		}
		if m.evHead < len(m.events) {
			ev = m.events[m.evHead]
			m.events[m.evHead] = Event{}
			m.evHead++
			if m.evHead == len(m.events) {
				m.events, m.evHead = m.events[:0], 0
			}
			return ev, true, nil
		}
		msg, more, err := m.nextInput()
		if err != nil {
			return Event{}, false, m.fail(err)
		}
		if !more {
			if m.autoCork {
				m.autoCork = false
				m.Uncork()
			}
			return Event{}, false, nil
		}
		if err := m.dispatch(msg); err != nil {
			return Event{}, false, m.fail(err)
		}
	}
}

func (m *Mux) nextInput() (Message, bool, error) {
	if m.inHas {
		m.inHas = false
		msg := m.inSingle
		m.inSingle = Message{}
		return msg, true, nil
	}
	if m.inBatch {
		msg, ok, err := m.in.Next()
		if !ok || err != nil {
			m.inBatch = false
			m.in = BatchReader{}
		}
		return msg, ok, err
	}
	return Message{}, false, nil
}

// AppendOutput appends the frames to send, in order, to dst and empties
// the queue. Each frame is one secret-stream message and belongs to the
// caller. While corked, frames are held until Uncork.
func (m *Mux) AppendOutput(dst [][]byte) [][]byte {
	dst = append(dst, m.out...)
	clear(m.out)
	m.out = m.out[:0]
	return dst
}

// Cork gathers the frames sent from now on into batch frames, until the
// matching Uncork (JS cork/uncork). Corks nest.
func (m *Mux) Cork() { m.corked++ }

// Uncork ends a Cork; the outermost one queues the batch.
func (m *Mux) Uncork() {
	if m.corked == 0 {
		return
	}
	m.corked--
	if m.corked == 0 {
		m.flushBatch()
	}
}

func (m *Mux) flushBatch() {
	if m.batch.Count() == 0 {
		return
	}
	m.out = append(m.out, append([]byte(nil), m.batch.Frame()...))
	m.batch.Reset()
}

// send queues one message: a frame of its own, or an item of the batch
// when corked. Control messages are sent on channel 0.
func (m *Mux) send(channel, typ uint64, payload []byte) {
	if m.corked > 0 {
		if m.batch.Count() > 0 && m.batch.Size() >= m.cfg.MaxBatch {
			m.flushBatch()
		}
		m.batch.Add(channel, typ, payload)
		return
	}
	f := make([]byte, 0, FrameSize(channel, typ, len(payload)))
	m.out = append(m.out, AppendFrame(f, channel, typ, payload))
}

// sendControl sends a reject or close: both payloads are one uint.
func (m *Mux) sendControl(typ, id uint64) {
	var p [9]byte
	m.send(ControlChannel, typ, AppendClose(p[:0], id))
}

// OpenOptions describe a local channel.
type OpenOptions struct {
	Protocol string
	// Aliases are other protocol names a remote open may use to pair with
	// this channel (hypercore: "hypercore" for "hypercore/alpha").
	Aliases []string
	// ID tells channels of one protocol apart (hypercore: the discovery
	// key). nil and empty are the same.
	ID []byte
	// Handshake is the raw protocol handshake sent with the open.
	Handshake []byte
}

// Open opens a local channel and returns its id. If the remote already
// opened the same (protocol or alias, id) and it is pending, the two pair at
// once: EventOpen is queued, then the messages buffered for it. Otherwise
// the channel waits for the remote's open. A second live channel for the
// same protocol and id is refused (JS unique channels).
func (m *Mux) Open(o OpenOptions) (uint64, error) {
	if m.err != nil {
		return 0, m.failed()
	}
	names := append([]string{o.Protocol}, o.Aliases...)
	for _, ch := range m.local {
		if ch == nil || ch.state == StateClosing {
			continue
		}
		for _, n := range names {
			if ch.matches(n, o.ID) {
				return 0, fmt.Errorf("open %q: channel %d is already open for it: %w", n, ch.local, ErrChannel)
			}
		}
	}
	var local uint64
	if n := len(m.free); n > 0 {
		local = m.free[n-1]
		m.free = m.free[:n-1]
	} else {
		if len(m.local) >= m.cfg.MaxChannels {
			return 0, fmt.Errorf("open %q: %d local channels in use: %w", o.Protocol, len(m.local), ErrLimit)
		}
		m.local = append(m.local, nil)
		local = uint64(len(m.local))
	}
	var id []byte
	if len(o.ID) > 0 {
		id = append([]byte(nil), o.ID...)
	}
	ch := &channel{
		local:    local,
		state:    StateOpening,
		protocol: o.Protocol,
		aliases:  append([]string(nil), o.Aliases...),
		id:       id,
	}
	m.local[local-1] = ch

	payload := AppendOpen(make([]byte, 0, 16+len(o.Protocol)+len(id)+len(o.Handshake)),
		Open{Channel: local, Protocol: o.Protocol, ID: id, Handshake: o.Handshake})
	m.send(ControlChannel, TypeOpen, payload)

	// Pair with the oldest pending remote open under its protocol name,
	// else under an alias.
	for _, n := range names {
		k := key(n, id)
		q := m.incoming[k]
		if len(q) == 0 {
			continue
		}
		rid := q[0]
		m.popIncoming(k, rid)
		r := m.remote[rid-1]
		m.pair(ch, rid, r.handshake)
		m.buffered -= r.cost
		for _, bm := range r.buffered {
			m.events = append(m.events, Event{Kind: EventMessage, Channel: local, RemoteID: rid, Type: bm.typ, Payload: bm.payload})
		}
		r.buffered, r.handshake, r.id, r.cost = nil, nil, nil, 0
		return local, nil
	}
	for _, n := range names {
		k := key(n, id)
		m.outgoing[k] = append(m.outgoing[k], local)
	}
	return local, nil
}

func (ch *channel) matches(protocol string, id []byte) bool {
	if string(ch.id) != string(id) {
		return false
	}
	if ch.protocol == protocol {
		return true
	}
	for _, a := range ch.aliases {
		if a == protocol {
			return true
		}
	}
	return false
}

func (ch *channel) keys() []string {
	ks := []string{key(ch.protocol, ch.id)}
	for _, a := range ch.aliases {
		ks = append(ks, key(a, ch.id))
	}
	return ks
}

// pair makes ch open with remote id r and queues EventOpen.
func (m *Mux) pair(ch *channel, r uint64, handshake []byte) {
	ch.remote = r
	ch.state = StateOpen
	slot := m.remote[r-1]
	if slot == nil {
		slot = &remoteSlot{}
		m.remote[r-1] = slot
	}
	slot.local = ch.local
	m.events = append(m.events, Event{Kind: EventOpen, Channel: ch.local, RemoteID: r, Protocol: ch.protocol, ID: ch.id, Handshake: handshake})
}

// release frees local id and forgets its channel.
func (m *Mux) release(ch *channel) {
	for _, k := range ch.keys() {
		m.removeOutgoing(k, ch.local)
	}
	m.local[ch.local-1] = nil
	m.free = append(m.free, ch.local)
	ch.state = StateNone
}

func removeID(q []uint64, id uint64) []uint64 {
	for i, v := range q {
		if v == id {
			return append(q[:i], q[i+1:]...)
		}
	}
	return q
}

func (m *Mux) removeOutgoing(k string, local uint64) {
	q := removeID(m.outgoing[k], local)
	if len(q) == 0 {
		delete(m.outgoing, k)
	} else {
		m.outgoing[k] = q
	}
}

func (m *Mux) popIncoming(k string, r uint64) {
	q := removeID(m.incoming[k], r)
	if len(q) == 0 {
		delete(m.incoming, k)
	} else {
		m.incoming[k] = q
	}
}

// Send queues a message on local channel id. It may be sent before the
// remote opened the channel (the remote buffers it), as in JS.
func (m *Mux) Send(local, typ uint64, payload []byte) error {
	if m.err != nil {
		return m.failed()
	}
	ch := m.channel(local)
	if ch == nil || ch.state == StateClosing {
		return fmt.Errorf("send on channel %d: %w", local, ErrChannel)
	}
	m.send(local, typ, payload)
	return nil
}

// Close closes local channel id and tells the remote. An open channel's id
// is free for reuse at once; the id of a channel the remote has not opened
// yet is held (StateClosing) until the remote's open or reject arrives.
// Closing by the remote is reported as EventClose; closing here is not.
func (m *Mux) Close(local uint64) error {
	if m.err != nil {
		return m.failed()
	}
	ch := m.channel(local)
	if ch == nil || ch.state == StateClosing {
		return fmt.Errorf("close channel %d: %w", local, ErrChannel)
	}
	m.sendControl(TypeClose, local)
	if ch.state == StateOpen {
		m.remote[ch.remote-1] = nil
		m.release(ch)
		return nil
	}
	ch.state = StateClosing
	return nil
}

// Reject refuses the pending remote open remoteID (reported by
// EventRemoteOpen) and drops what was buffered for it.
func (m *Mux) Reject(remoteID uint64) error {
	if m.err != nil {
		return m.failed()
	}
	if remoteID == 0 || remoteID > uint64(len(m.remote)) || m.remote[remoteID-1] == nil || m.remote[remoteID-1].local != 0 {
		return fmt.Errorf("reject remote channel %d: not a pending open: %w", remoteID, ErrChannel)
	}
	m.dropPending(remoteID)
	m.sendControl(TypeReject, remoteID)
	return nil
}

func (m *Mux) dropPending(r uint64) {
	slot := m.remote[r-1]
	m.popIncoming(key(slot.protocol, slot.id), r)
	m.buffered -= slot.cost
	m.remote[r-1] = nil
}

func (m *Mux) failed() error { return fmt.Errorf("%w: %w", ErrFailed, m.err) }

func (m *Mux) fail(err error) error {
	m.err = err
	m.inHas, m.inBatch, m.inSingle, m.in = false, false, Message{}, BatchReader{}
	return err
}

// Receive takes one received frame (one decrypted secret-stream message)
// and checks its layout: a malformed frame or batch is an error (drop the
// connection; the Mux stays failed). Its messages are then processed by
// NextEvent, which must report the end before the next Receive (else
// ErrBusy). Event payloads alias frame: keep it unchanged until then.
// Empty frames are ignored, as in JS.
func (m *Mux) Receive(frame []byte) error {
	if m.err != nil {
		return m.failed()
	}
	if m.inHas || m.inBatch {
		return ErrBusy
	}
	if len(frame) == 0 {
		return nil
	}
	msg, err := DecodeFrame(frame)
	if err != nil {
		return m.fail(err)
	}
	if msg.Channel != ControlChannel || msg.Type != TypeBatch {
		m.inSingle, m.inHas = msg, true
		return nil
	}
	r, err := NewBatchReader(msg.Payload)
	if err != nil {
		return m.fail(err)
	}
	check, n := r, 0
	for {
		_, ok, err := check.Next()
		if err != nil {
			return m.fail(err)
		}
		if !ok {
			break
		}
		n++
	}
	m.in, m.inBatch = r, true
	if n > 1 && !m.autoCork {
		m.autoCork = true
		m.Cork()
	}
	return nil
}

func (m *Mux) dispatch(msg Message) error {
	if msg.Channel == ControlChannel {
		switch msg.Type {
		case TypeOpen:
			return m.onOpen(msg.Payload)
		case TypeReject:
			return m.onReject(msg.Payload)
		case TypeClose:
			return m.onClose(msg.Payload)
		}
		return nil // unknown control messages are ignored, as in JS
	}
	r := msg.Channel
	if r > uint64(len(m.remote)) || m.remote[r-1] == nil {
		return nil // closed here, or never opened: JS ignores it
	}
	slot := m.remote[r-1]
	if slot.local != 0 {
		m.events = append(m.events, Event{Kind: EventMessage, Channel: slot.local, RemoteID: r, Type: msg.Type, Payload: msg.Payload})
		return nil
	}
	cost := bufferOverhead + len(msg.Payload)
	if m.buffered+cost > m.cfg.MaxBuffered {
		return fmt.Errorf("message on unopened channel %d: %d bytes buffered, bound %d: %w", r, m.buffered, m.cfg.MaxBuffered, ErrLimit)
	}
	m.buffered += cost
	slot.cost += cost
	slot.buffered = append(slot.buffered, bufferedMessage{typ: msg.Type, payload: append([]byte(nil), msg.Payload...)})
	return nil
}

func (m *Mux) onOpen(payload []byte) error {
	o, err := DecodeOpen(payload)
	if err != nil {
		return err
	}
	r := o.Channel
	if r == 0 {
		return fmt.Errorf("open of channel 0: %w", ErrProtocol)
	}
	if r == uint64(len(m.remote))+1 {
		if len(m.remote) >= m.cfg.MaxChannels {
			return fmt.Errorf("open of remote channel %d: bound is %d: %w", r, m.cfg.MaxChannels, ErrLimit)
		}
		m.remote = append(m.remote, nil)
	}
	if r > uint64(len(m.remote)) {
		return fmt.Errorf("open of remote channel %d: at most %d allowed: %w", r, len(m.remote)+1, ErrProtocol)
	}
	if m.remote[r-1] != nil {
		return fmt.Errorf("open of remote channel %d: already in use: %w", r, ErrProtocol)
	}

	if q := m.outgoing[key(o.Protocol, o.ID)]; len(q) > 0 {
		ch := m.local[q[0]-1]
		for _, k := range ch.keys() {
			m.removeOutgoing(k, ch.local)
		}
		if ch.state == StateClosing {
			// Closed here before the remote opened it: free the id now,
			// and close the remote's side, which may have paired with our
			// open after our close was sent (JS would leave it open).
			m.release(ch)
			m.sendControl(TypeClose, ch.local)
			return nil
		}
		m.pair(ch, r, o.Handshake)
		return nil
	}

	if !m.paired(o.Protocol, o.ID) {
		m.sendControl(TypeReject, r)
		return nil
	}
	cost := bufferOverhead + len(o.Protocol) + len(o.ID) + len(o.Handshake)
	if m.buffered+cost > m.cfg.MaxBuffered {
		return fmt.Errorf("open of remote channel %d: %d bytes buffered, bound %d: %w", r, m.buffered, m.cfg.MaxBuffered, ErrLimit)
	}
	m.buffered += cost
	slot := &remoteSlot{
		protocol:  o.Protocol,
		id:        append([]byte(nil), o.ID...),
		handshake: append([]byte(nil), o.Handshake...),
		cost:      cost,
	}
	if len(slot.id) == 0 {
		slot.id = nil
	}
	m.remote[r-1] = slot
	k := key(o.Protocol, o.ID)
	m.incoming[k] = append(m.incoming[k], r)
	m.events = append(m.events, Event{Kind: EventRemoteOpen, RemoteID: r, Protocol: slot.protocol, ID: slot.id, Handshake: slot.handshake})
	return nil
}

func (m *Mux) onReject(payload []byte) error {
	local, err := DecodeReject(payload)
	if err != nil {
		return err
	}
	ch := m.channel(local)
	if ch == nil || ch.state == StateOpen {
		return fmt.Errorf("reject of channel %d, which is not waiting for the remote: %w", local, ErrProtocol)
	}
	wasOpening := ch.state == StateOpening
	m.release(ch)
	if wasOpening {
		m.events = append(m.events, Event{Kind: EventClose, Channel: local, Protocol: ch.protocol, ID: ch.id, Rejected: true})
	}
	return nil
}

func (m *Mux) onClose(payload []byte) error {
	r, err := DecodeClose(payload)
	if err != nil {
		return err
	}
	if r == 0 || r > uint64(len(m.remote)) || m.remote[r-1] == nil {
		return nil // JS ignores these
	}
	slot := m.remote[r-1]
	if slot.local == 0 {
		// The remote withdrew an open nobody here answered yet. JS ignores
		// this close and leaves the slot taken; here the slot is freed and
		// the open refused, which releases the id at the remote (a JS
		// remote keeps the id until our open or reject arrives).
		m.dropPending(r)
		m.sendControl(TypeReject, r)
		return nil
	}
	ch := m.local[slot.local-1]
	m.remote[r-1] = nil
	m.release(ch)
	m.events = append(m.events, Event{Kind: EventClose, Channel: ch.local, RemoteID: r, Protocol: ch.protocol, ID: ch.id})
	return nil
}
