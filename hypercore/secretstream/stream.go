package secretstream

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/flynn/noise"
)

// DefaultHandshakeTimeout bounds the handshake (Noise and header messages)
// when Config.HandshakeTimeout is 0.
const DefaultHandshakeTimeout = 10 * time.Second

// headerMessageSize is stream id (32) ‖ secretstream header (24).
const headerMessageSize = 32 + HeaderSize

// maxHandshakeFrame bounds a Noise handshake message (the Noise maximum);
// the XX messages are 32, 96 and 64 bytes with the empty payloads JS sends.
const maxHandshakeFrame = noise.MaxMsgLen

// readBufferSize is the bufio.Reader size over the connection: many small
// messages per read syscall; larger frames are read straight into place.
const readBufferSize = 64 << 10

// maxWriteBatch is the most WriteMessages puts in one socket write; more is
// written in several. It is also the largest write buffer kept between calls.
const maxWriteBatch = 1 << 20

var (
	// ErrHandshake wraps every failure of the Noise handshake proper.
	ErrHandshake = errors.New("secretstream: handshake failed")
	// ErrHandshakeTimeout means Config.HandshakeTimeout passed.
	ErrHandshakeTimeout = errors.New("secretstream: handshake timed out")
	// ErrBadHeader means the remote's header message had the wrong length
	// or a stream id that is not the one its role must send.
	ErrBadHeader = errors.New("secretstream: invalid header message")
	// ErrMessageTooLarge is returned by WriteMessage(s) for a message over
	// MaxMessageSize; nothing is written and the stream stays usable.
	ErrMessageTooLarge = errors.New("secretstream: message too large")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("secretstream: stream closed")
)

// Config configures one side of a connection. The zero value works: a fresh
// random static key, DefaultHandshakeTimeout, the wire's maximum message
// size, no keep-alives.
type Config struct {
	// Static is this peer's identity, an Ed25519 private key (64 bytes, as
	// ed25519.NewKeyFromSeed returns). Nil means a fresh random key.
	Static ed25519.PrivateKey

	// HandshakeTimeout bounds Client/Server in addition to their context:
	// 0 means DefaultHandshakeTimeout, negative means no bound but the
	// context's.
	HandshakeTimeout time.Duration

	// MaxMessageSize is the largest plaintext ReadMessage accepts; a longer
	// length prefix fails the stream before anything is allocated for it.
	// 0 means MaxMessageSize (the wire maximum), which is also the cap.
	MaxMessageSize int

	// KeepAlive, when positive, makes the stream send an empty message
	// (which receivers drop) whenever nothing was written for that long, as
	// hypercore does every 5 s so that peers with an idle timeout keep the
	// connection. It runs on a goroutine the Stream owns until Close.
	KeepAlive time.Duration

	// rand, tests only: the source of the ephemeral key seed (32 bytes) and
	// then of the secretstream header (24 bytes). Nil means crypto/rand.
	rand io.Reader
}

// Stream is an established secret stream: a message-oriented, encrypted
// and authenticated connection. ReadMessage and WriteMessage(s) may be called
// concurrently with each other (each direction is serialised by its own
// lock); Close may be called at any time and unblocks both.
type Stream struct {
	conn      net.Conn
	br        *bufio.Reader
	initiator bool
	local     ed25519.PublicKey
	remote    ed25519.PublicKey
	hash      []byte
	maxFrame  int

	rmu  sync.Mutex
	dec  *decryptor
	rerr error // sticky: the read side is dead

	wmu       sync.Mutex
	enc       *encryptor
	wbuf      []byte
	werr      error // sticky: the write side is dead
	lastWrite time.Time

	closeOnce sync.Once
	closed    chan struct{}
	loops     sync.WaitGroup // the keep-alive goroutine; Close waits for it
}

// Client runs the handshake as the initiator (the dialing side) over conn
// and returns the stream once both header messages are exchanged. Every
// wait is bounded by ctx and cfg.HandshakeTimeout. The stream owns conn: on
// error conn is closed, and Stream.Close closes it.
func Client(ctx context.Context, conn net.Conn, cfg Config) (*Stream, error) {
	return open(ctx, conn, cfg, true)
}

// Server runs the handshake as the responder (the accepting side); see
// Client.
func Server(ctx context.Context, conn net.Conn, cfg Config) (*Stream, error) {
	return open(ctx, conn, cfg, false)
}

func open(ctx context.Context, conn net.Conn, cfg Config, initiator bool) (*Stream, error) {
	s, err := start(ctx, conn, cfg, initiator)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return s, nil
}

func start(ctx context.Context, conn net.Conn, cfg Config, initiator bool) (*Stream, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("secretstream: handshake: %w", err)
	}
	random := cfg.rand
	if random == nil {
		random = rand.Reader
	}
	static := cfg.Static
	if static == nil {
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		static = k
	}
	if len(static) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("secretstream: Config.Static is %d bytes, want %d", len(static), ed25519.PrivateKeySize)
	}
	maxMsg := cfg.MaxMessageSize
	if maxMsg <= 0 || maxMsg > MaxMessageSize {
		maxMsg = MaxMessageSize
	}

	// Bound the whole handshake: the earlier of ctx's deadline and the
	// handshake timeout, and a cancelled ctx pulls the deadline in.
	var deadline, ctxDeadline time.Time
	timeout := cfg.HandshakeTimeout
	if timeout == 0 {
		timeout = DefaultHandshakeTimeout
	}
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	if d, ok := ctx.Deadline(); ok {
		ctxDeadline = d
		if deadline.IsZero() || d.Before(deadline) {
			deadline = d
		}
	}
	if err := conn.SetDeadline(deadline); err != nil {
		return nil, fmt.Errorf("secretstream: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })

	s := &Stream{
		conn:      conn,
		br:        bufio.NewReaderSize(conn, readBufferSize),
		initiator: initiator,
		local:     static.Public().(ed25519.PublicKey),
		maxFrame:  maxMsg + Overhead,
		closed:    make(chan struct{}),
	}
	err := s.handshake(static, random)
	if !stop() {
		// ctx ended; its AfterFunc may still be moving the deadline.
		return nil, fmt.Errorf("secretstream: handshake: %w", ctx.Err())
	}
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			if !ctxDeadline.IsZero() && !time.Now().Before(ctxDeadline) {
				return nil, fmt.Errorf("secretstream: handshake: %w", context.DeadlineExceeded)
			}
			return nil, fmt.Errorf("%w after %v: %w", ErrHandshakeTimeout, timeout, err)
		}
		return nil, err
	}
	if err := conn.SetDeadline(time.Time{}); err != nil {
		return nil, fmt.Errorf("secretstream: %w", err)
	}
	s.lastWrite = time.Now()
	if cfg.KeepAlive > 0 {
		s.loops.Go(func() { s.keepAlive(cfg.KeepAlive) })
	}
	return s, nil
}

// handshake runs Noise XX, then sends its header message and reads and
// checks the remote's.
//
//	initiator: → e          ← e, ee, s, es   → s, se ‖ header   ← header
//	responder: ← e          → e, ee, s, es   ← s, se   → header   ← header
//
// The initiator sends its third message and its header in one write (the
// bytes are what JS sends in two), so that a synchronous conn such as
// net.Pipe cannot deadlock with both sides writing their headers.
func (s *Stream) handshake(static ed25519.PrivateKey, random io.Reader) error {
	hs, err := newHandshake(s.initiator, static, random)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	var out []byte
	var tx, rx *noise.CipherState
	if s.initiator {
		if out, err = writeNoise(out[:0], hs); err != nil {
			return err
		}
		if err := s.write(out); err != nil {
			return err
		}
		if _, err := s.readNoise(hs); err != nil {
			return err
		}
		var c1, c2 *noise.CipherState
		if out, c1, c2, err = writeNoiseFinal(out[:0], hs); err != nil {
			return err
		}
		tx, rx = c1, c2
	} else {
		if _, err := s.readNoise(hs); err != nil {
			return err
		}
		if out, err = writeNoise(out[:0], hs); err != nil {
			return err
		}
		if err := s.write(out); err != nil {
			return err
		}
		done, err := s.readNoise(hs)
		if err != nil {
			return err
		}
		tx, rx = done[1], done[0]
		out = out[:0]
	}
	s.hash = append([]byte(nil), hs.ChannelBinding()...)
	s.remote = append(ed25519.PublicKey(nil), hs.PeerStatic()...)
	txKey, rxKey := tx.UnsafeKey(), rx.UnsafeKey()

	var header [HeaderSize]byte
	if _, err := io.ReadFull(random, header[:]); err != nil {
		return fmt.Errorf("secretstream: header: %w", err)
	}
	s.enc = newEncryptor(txKey[:], header[:])
	id := StreamID(s.hash, s.initiator)
	out = AppendFrame(out, append(id[:], header[:]...))
	if err := s.write(out); err != nil {
		return err
	}

	msg, _, err := readFrame(s.br, headerMessageSize, 0)
	if err != nil {
		if errors.Is(err, ErrFrameTooLarge) {
			return fmt.Errorf("%w: %w", ErrBadHeader, err)
		}
		return fmt.Errorf("secretstream: reading the header message: %w", err)
	}
	if len(msg) != headerMessageSize {
		return fmt.Errorf("%w: %d bytes, want %d", ErrBadHeader, len(msg), headerMessageSize)
	}
	want := StreamID(s.hash, !s.initiator)
	if [32]byte(msg[:32]) != want {
		return fmt.Errorf("%w: wrong stream id", ErrBadHeader)
	}
	s.dec = newDecryptor(rxKey[:], msg[32:])
	return nil
}

func writeNoise(dst []byte, hs *noise.HandshakeState) ([]byte, error) {
	out, _, _, err := hs.WriteMessage(append(dst, 0, 0, 0), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	putU24(out[len(dst):], len(out)-len(dst)-3)
	return out, nil
}

func writeNoiseFinal(dst []byte, hs *noise.HandshakeState) ([]byte, *noise.CipherState, *noise.CipherState, error) {
	out, c1, c2, err := hs.WriteMessage(append(dst, 0, 0, 0), nil)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	if c1 == nil {
		return nil, nil, nil, fmt.Errorf("%w: not complete after the last message", ErrHandshake)
	}
	putU24(out[len(dst):], len(out)-len(dst)-3)
	return out, c1, c2, nil
}

// readNoise reads and processes one handshake message; the payload (empty
// from JS peers) is ignored, as JS does. It returns the split cipher states
// when the message completed the handshake.
func (s *Stream) readNoise(hs *noise.HandshakeState) ([2]*noise.CipherState, error) {
	msg, _, err := readFrame(s.br, maxHandshakeFrame, 0)
	if err != nil {
		if errors.Is(err, ErrFrameTooLarge) {
			return [2]*noise.CipherState{}, fmt.Errorf("%w: %w", ErrHandshake, err)
		}
		return [2]*noise.CipherState{}, fmt.Errorf("secretstream: reading a handshake message: %w", err)
	}
	_, c1, c2, err := hs.ReadMessage(nil, msg)
	if err != nil {
		return [2]*noise.CipherState{}, fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	return [2]*noise.CipherState{c1, c2}, nil
}

func (s *Stream) write(b []byte) error {
	if _, err := s.conn.Write(b); err != nil {
		return fmt.Errorf("secretstream: write: %w", err)
	}
	return nil
}

// RemotePublicKey is the remote peer's static Ed25519 public key, which the
// handshake proved it holds: its identity.
func (s *Stream) RemotePublicKey() ed25519.PublicKey {
	return append(ed25519.PublicKey(nil), s.remote...)
}

// PublicKey is this side's static Ed25519 public key.
func (s *Stream) PublicKey() ed25519.PublicKey {
	return append(ed25519.PublicKey(nil), s.local...)
}

// HandshakeHash is the 64-byte Noise handshake hash, the same on both
// sides; hypercore derives its capabilities from it.
func (s *Stream) HandshakeHash() []byte {
	return append([]byte(nil), s.hash...)
}

// IsInitiator reports whether this side ran the handshake as the initiator.
func (s *Stream) IsInitiator() bool { return s.initiator }

// ReadMessage returns the next message the remote sent, decrypted and
// authenticated; empty messages (keep-alives) are skipped. The returned
// slice belongs to the caller. Any error but a timeout that struck between
// messages ends the read side for good (and a message that fails to
// authenticate, or an oversized or malformed frame, also closes the
// connection); io.EOF means the remote closed the connection between
// messages.
func (s *Stream) ReadMessage() ([]byte, error) {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	for {
		if s.rerr != nil {
			return nil, s.rerr
		}
		region, started, err := readFrame(s.br, s.maxFrame, scratch-1)
		if err != nil {
			if s.isClosed() {
				err = ErrClosed
			} else if !started && isTimeout(err) {
				return nil, err // still at a frame boundary: retryable
			}
			return nil, s.failRead(err, errors.Is(err, ErrFrameTooLarge))
		}
		if len(region)-(scratch-1) < Overhead {
			return nil, s.failRead(fmt.Errorf("secretstream: message of %d bytes is shorter than %d", len(region)-(scratch-1), Overhead), true)
		}
		plain, _, err := s.dec.openInPlace(region)
		if err != nil {
			return nil, s.failRead(err, true)
		}
		if len(plain) == 0 {
			continue // keep-alive
		}
		return plain[:len(plain):len(plain)], nil
	}
}

// failRead records a fatal read error; a protocol violation also closes
// the connection, as JS destroys the stream.
func (s *Stream) failRead(err error, protocol bool) error {
	s.rerr = err
	if protocol {
		s.Close()
	}
	return err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// WriteMessage encrypts and sends one message. An empty message is a
// keep-alive, dropped by the receiver.
func (s *Stream) WriteMessage(b []byte) error {
	return s.WriteMessages(b)
}

// WriteMessages encrypts and sends messages in order, in as few socket
// writes as possible (one per MiB). If any message exceeds MaxMessageSize
// nothing is sent and ErrMessageTooLarge is returned. Any other error ends
// the write side for good.
func (s *Stream) WriteMessages(msgs ...[]byte) error {
	for _, m := range msgs {
		if len(m) > MaxMessageSize {
			return fmt.Errorf("%w: %d bytes, limit %d", ErrMessageTooLarge, len(m), MaxMessageSize)
		}
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.werr != nil {
		return s.werr
	}
	for len(msgs) > 0 {
		// Take messages while the batch stays within maxWriteBatch (at
		// least one).
		size, k := scratch-4, 0
		for k < len(msgs) && (k == 0 || size+4+len(msgs[k])+16 <= maxWriteBatch) {
			size += 4 + len(msgs[k]) + 16
			k++
		}
		buf := s.wbuf
		if cap(buf) < size {
			buf = make([]byte, size)
		}
		buf = buf[:size]
		frames := s.sealBatch(buf, msgs[:k])
		_, err := s.conn.Write(frames)
		if cap(buf) <= maxWriteBatch {
			s.wbuf = buf
		}
		if err != nil {
			if s.isClosed() {
				err = ErrClosed
			}
			s.werr = fmt.Errorf("secretstream: write: %w", err)
			return s.werr
		}
		s.lastWrite = time.Now()
		msgs = msgs[k:]
	}
	return nil
}

// sealBatch lays out and encrypts msgs as consecutive frames in buf and
// returns the frames. Frame i starts at f (f = 60 for the first) and is
// sealed in the region buf[f-60:], whose first 60 bytes, the tail of frame
// i−1, are saved and put back afterwards.
func (s *Stream) sealBatch(buf []byte, msgs [][]byte) []byte {
	const lead = scratch - 4 // region start to frame start
	f := lead
	var saved [lead]byte
	for i, m := range msgs {
		if i > 0 {
			copy(saved[:], buf[f-lead:f])
		}
		region := buf[f-lead : f+4+len(m)+16]
		copy(region[scratch:], m)
		s.enc.sealInPlace(region)
		putU24(buf[f:], len(m)+Overhead)
		if i > 0 {
			copy(buf[f-lead:f], saved[:])
		}
		f += 4 + len(m) + 16
	}
	return buf[lead:f]
}

// keepAlive sends an empty message whenever nothing was written for d.
func (s *Stream) keepAlive(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-s.closed:
			return
		case <-t.C:
		}
		s.wmu.Lock()
		idle := time.Since(s.lastWrite)
		dead := s.werr != nil
		s.wmu.Unlock()
		if dead {
			return
		}
		if idle >= d {
			if s.WriteMessage(nil) != nil {
				return
			}
			idle = 0
		}
		t.Reset(d - idle)
	}
}

// SetDeadline sets the read and write deadlines of the connection; see
// net.Conn. A read that times out between messages can be retried.
func (s *Stream) SetDeadline(t time.Time) error { return s.conn.SetDeadline(t) }

// SetReadDeadline sets the connection's read deadline.
func (s *Stream) SetReadDeadline(t time.Time) error { return s.conn.SetReadDeadline(t) }

// SetWriteDeadline sets the connection's write deadline.
func (s *Stream) SetWriteDeadline(t time.Time) error { return s.conn.SetWriteDeadline(t) }

// LocalAddr and RemoteAddr are the connection's addresses.
func (s *Stream) LocalAddr() net.Addr  { return s.conn.LocalAddr() }
func (s *Stream) RemoteAddr() net.Addr { return s.conn.RemoteAddr() }

// Close closes the connection; pending and later reads and writes fail.
// Only the first call closes; later calls return nil. Every call returns
// only after the stream's keep-alive goroutine (Config.KeepAlive) has
// exited: a Stream owns no goroutine once closed.
func (s *Stream) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.closed)
		err = s.conn.Close()
	})
	s.loops.Wait()
	return err
}

func (s *Stream) isClosed() bool {
	select {
	case <-s.closed:
		return true
	default:
		return false
	}
}
