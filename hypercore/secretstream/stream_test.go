package secretstream

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/flynn/noise"
)

// tcpConns returns both ends of a TCP connection on 127.0.0.1.
func tcpConns(t testing.TB) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ch := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			ch <- nil
			return
		}
		ch <- c
	}()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b := <-ch
	if b == nil {
		t.Fatal("accept failed")
	}
	return a, b
}

func tcpPair(t testing.TB, ic, rc Config) (*Stream, *Stream) {
	t.Helper()
	a, b := tcpConns(t)
	ci, si := handshakePair(t, a, b, ic, rc)
	t.Cleanup(func() { ci.Close(); si.Close() })
	return ci, si
}

func payload(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31) ^ seed
	}
	return b
}

// TestExchange: both transports, both directions at once, messages of
// 0 (keep-alive, dropped), 5, 19, 300 bytes and 1 MiB, singly and batched.
func TestExchange(t *testing.T) {
	for _, transport := range []string{"pipe", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			ic, rc := Config{Static: seedKey(1)}, Config{Static: seedKey(2)}
			var ci, si *Stream
			if transport == "pipe" {
				ci, si = pipePair(t, ic, rc)
			} else {
				ci, si = tcpPair(t, ic, rc)
			}
			if !ci.IsInitiator() || si.IsInitiator() {
				t.Fatal("roles")
			}
			if !bytes.Equal(ci.RemotePublicKey(), seedKey(2).Public().(ed25519.PublicKey)) ||
				!bytes.Equal(si.RemotePublicKey(), seedKey(1).Public().(ed25519.PublicKey)) ||
				!bytes.Equal(ci.PublicKey(), si.RemotePublicKey()) {
				t.Fatal("remote public keys")
			}
			if !bytes.Equal(ci.HandshakeHash(), si.HandshakeHash()) || len(ci.HandshakeHash()) != HandshakeHashSize {
				t.Fatal("handshake hashes differ")
			}
			sizes := []int{0, 5, 0, 19, 300, 1 << 20, 0, 1}
			var wg sync.WaitGroup
			for _, dir := range []struct {
				from, to *Stream
				seed     byte
			}{{ci, si, 1}, {si, ci, 2}} {
				wg.Add(2)
				go func() {
					defer wg.Done()
					for _, n := range sizes {
						if err := dir.from.WriteMessage(payload(n, dir.seed)); err != nil {
							t.Errorf("write %d: %v", n, err)
							return
						}
					}
					var batch [][]byte
					for _, n := range sizes {
						batch = append(batch, payload(n, dir.seed+10))
					}
					if err := dir.from.WriteMessages(batch...); err != nil {
						t.Errorf("write batch: %v", err)
					}
				}()
				go func() {
					defer wg.Done()
					for _, seed := range []byte{dir.seed, dir.seed + 10} {
						for _, n := range sizes {
							if n == 0 {
								continue
							}
							m, err := dir.to.ReadMessage()
							if err != nil {
								t.Errorf("read %d: %v", n, err)
								return
							}
							if !bytes.Equal(m, payload(n, seed)) {
								t.Errorf("message of %d bytes: got %d bytes, differs", n, len(m))
							}
						}
					}
				}()
			}
			wg.Wait()
		})
	}
}

// TestBatchOverMaxWrite: a batch larger than one write buffer arrives whole
// and in order.
func TestBatchOverMaxWrite(t *testing.T) {
	ci, si := tcpPair(t, Config{}, Config{})
	var msgs [][]byte
	for i := 0; i < 40; i++ {
		msgs = append(msgs, payload(64<<10+i, byte(i)))
	}
	msgs = append(msgs, payload(3<<20, 7))
	errc := make(chan error, 1)
	go func() { errc <- ci.WriteMessages(msgs...) }()
	for i, want := range msgs {
		got, err := si.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("message %d differs", i)
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if cap(ci.wbuf) > maxWriteBatch {
		t.Fatalf("kept a write buffer of %d bytes", cap(ci.wbuf))
	}
}

func TestMessageTooLarge(t *testing.T) {
	ci, si := pipePair(t, Config{}, Config{})
	big := make([]byte, MaxMessageSize+1)
	if err := ci.WriteMessages([]byte("x"), big); !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("err %v", err)
	}
	// Nothing was sent and the stream still works.
	go ci.WriteMessage([]byte("after"))
	m, err := si.ReadMessage()
	if err != nil || string(m) != "after" {
		t.Fatalf("%q %v", m, err)
	}
}

// TestMaxSizedMessage: a message of exactly MaxMessageSize (a frame of
// 2^24 − 1 bytes) goes through.
func TestMaxSizedMessage(t *testing.T) {
	if testing.Short() {
		t.Skip("32 MiB of buffers")
	}
	ci, si := tcpPair(t, Config{}, Config{})
	m := payload(MaxMessageSize, 3)
	errc := make(chan error, 1)
	go func() { errc <- ci.WriteMessage(m) }()
	got, err := si.ReadMessage()
	if err != nil || !bytes.Equal(got, m) {
		t.Fatalf("len %d err %v", len(got), err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func TestReadTimeoutIsRetryable(t *testing.T) {
	ci, si := tcpPair(t, Config{}, Config{})
	si.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
	if _, err := si.ReadMessage(); !isTimeout(err) {
		t.Fatalf("err %v, want a timeout", err)
	}
	si.SetReadDeadline(time.Time{})
	if err := ci.WriteMessage([]byte("later")); err != nil {
		t.Fatal(err)
	}
	m, err := si.ReadMessage()
	if err != nil || string(m) != "later" {
		t.Fatalf("%q %v", m, err)
	}
}

func TestCloseUnblocksRead(t *testing.T) {
	ci, si := tcpPair(t, Config{}, Config{})
	errc := make(chan error, 1)
	go func() { _, err := si.ReadMessage(); errc <- err }()
	time.Sleep(20 * time.Millisecond)
	si.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("err %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ReadMessage still blocked after Close")
	}
	if err := si.WriteMessage([]byte("x")); err == nil {
		t.Fatal("write after close succeeded")
	}
	// The remote sees the end.
	if _, err := ci.ReadMessage(); !errors.Is(err, io.EOF) {
		t.Fatalf("remote: %v, want EOF", err)
	}
}

// TestKeepAlive: an idle side with KeepAlive sends 17-byte empty messages,
// which the receiver drops.
func TestKeepAlive(t *testing.T) {
	a, b := tcpConns(t)
	ra := &recordConn{Conn: a}
	ci, si := handshakePair(t, ra, b, Config{KeepAlive: 20 * time.Millisecond}, Config{})
	defer ci.Close()
	defer si.Close()
	after := len(ra.written())
	si.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if m, err := si.ReadMessage(); !isTimeout(err) {
		t.Fatalf("got %x, %v; want only keep-alives", m, err)
	}
	extra := ra.written()[after:]
	if len(extra) < 20 || len(extra)%20 != 0 || extra[0] != 17 || extra[1] != 0 || extra[2] != 0 {
		t.Fatalf("keep-alive bytes: %x", extra)
	}
	si.SetReadDeadline(time.Time{})
	ci.WriteMessage([]byte("real"))
	if m, err := si.ReadMessage(); err != nil || string(m) != "real" {
		t.Fatalf("%q %v", m, err)
	}
}

// ---- hostile peers ----

// rawPeer runs the Noise handshake by hand and then lets a test send
// arbitrary bytes.
type rawPeer struct {
	conn      net.Conn
	br        *bufio.Reader
	initiator bool
	hash      []byte
	tx, rx    [32]byte
}

func newRawPeer(t *testing.T, conn net.Conn, initiator bool) *rawPeer {
	t.Helper()
	p := &rawPeer{conn: conn, br: bufio.NewReader(conn), initiator: initiator}
	hs, err := newHandshake(initiator, seedKey(9), nil)
	if err != nil {
		t.Fatal(err)
	}
	var cs [2]*noise.CipherState
	for i := 0; i < 3; i++ {
		if (i%2 == 0) == initiator {
			msg, c1, c2, err := hs.WriteMessage(nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			conn.Write(AppendFrame(nil, msg))
			if c1 != nil {
				cs = [2]*noise.CipherState{c1, c2}
			}
		} else {
			msg, err := ReadFrame(p.br, 0)
			if err != nil {
				t.Fatal(err)
			}
			_, c1, c2, err := hs.ReadMessage(nil, msg)
			if err != nil {
				t.Fatal(err)
			}
			if c1 != nil {
				cs = [2]*noise.CipherState{c1, c2}
			}
		}
	}
	p.hash = hs.ChannelBinding()
	if initiator {
		p.tx, p.rx = cs[0].UnsafeKey(), cs[1].UnsafeKey()
	} else {
		p.tx, p.rx = cs[1].UnsafeKey(), cs[0].UnsafeKey()
	}
	// Consume the other side's header message (so that closing conn later
	// is a clean FIN, not a reset for unread data).
	if h, err := ReadFrame(p.br, 0); err != nil || len(h) != headerMessageSize {
		t.Fatalf("remote header: %d bytes, %v", len(h), err)
	}
	return p
}

// header returns the correct header message body and its encryptor.
func (p *rawPeer) header() ([]byte, *encryptor) {
	h := payload(HeaderSize, 0x55)
	id := StreamID(p.hash, p.initiator)
	return append(id[:], h...), newEncryptor(p.tx[:], h)
}

// serverAgainst runs Server (cfg) against a rawPeer initiator driven by
// script, and returns the Server's result.
func serverAgainst(t *testing.T, cfg Config, script func(p *rawPeer)) (*Stream, error) {
	t.Helper()
	a, b := tcpConns(t)
	defer a.Close()
	type res struct {
		s   *Stream
		err error
	}
	ch := make(chan res, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s, err := Server(ctx, b, cfg)
		ch <- res{s, err}
	}()
	p := newRawPeer(t, a, true)
	script(p)
	r := <-ch
	return r.s, r.err
}

func TestBadHeaderMessages(t *testing.T) {
	for _, tc := range []struct {
		name string
		body func(p *rawPeer) []byte
	}{
		{"55 bytes", func(p *rawPeer) []byte { h, _ := p.header(); return h[:55] }},
		{"57 bytes", func(p *rawPeer) []byte { h, _ := p.header(); return append(h, 0) }},
		{"empty", func(p *rawPeer) []byte { return nil }},
		{"responder's id", func(p *rawPeer) []byte {
			h, _ := p.header()
			id := StreamID(p.hash, false)
			copy(h, id[:])
			return h
		}},
		{"flipped id byte", func(p *rawPeer) []byte { h, _ := p.header(); h[7] ^= 1; return h }},
		{"id from another handshake", func(p *rawPeer) []byte {
			h, _ := p.header()
			id := StreamID(make([]byte, 64), true)
			copy(h, id[:])
			return h
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := serverAgainst(t, Config{}, func(p *rawPeer) {
				p.conn.Write(AppendFrame(nil, tc.body(p)))
			})
			if !errors.Is(err, ErrBadHeader) {
				t.Fatalf("err %v, want ErrBadHeader", err)
			}
			if s != nil {
				t.Fatal("stream returned with an error")
			}
		})
	}
	t.Run("huge header length", func(t *testing.T) {
		_, err := serverAgainst(t, Config{}, func(p *rawPeer) { p.conn.Write([]byte{0xff, 0xff, 0xff}) })
		if !errors.Is(err, ErrBadHeader) {
			t.Fatalf("err %v, want ErrBadHeader", err)
		}
	})
}

// dataAgainst runs a good handshake with a rawPeer initiator, then lets
// send write anything, and returns what the Server's ReadMessage says.
func dataAgainst(t *testing.T, cfg Config, send func(p *rawPeer, enc *encryptor)) ([]byte, *Stream, error) {
	t.Helper()
	var enc *encryptor
	s, err := serverAgainst(t, cfg, func(p *rawPeer) {
		h, e := p.header()
		enc = e
		p.conn.Write(AppendFrame(nil, h))
		send(p, enc)
	})
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	defer s.Close()
	s.SetReadDeadline(time.Now().Add(5 * time.Second))
	var m []byte
	for err == nil {
		m, err = s.ReadMessage()
		if err == nil && string(m) != "ok" {
			return m, s, nil
		}
	}
	return m, s, err
}

func TestHostileData(t *testing.T) {
	for _, tc := range []struct {
		name string
		send func(p *rawPeer, enc *encryptor)
		want error
	}{
		{"flipped ciphertext byte", func(p *rawPeer, enc *encryptor) {
			w := AppendFrame(nil, enc.seal(nil, []byte("ok")))
			w = AppendFrame(w, enc.seal(nil, []byte("a message")))
			w[len(w)-20] ^= 0x40
			p.conn.Write(w)
		}, ErrDecrypt},
		{"flipped tag byte", func(p *rawPeer, enc *encryptor) {
			c := enc.seal(nil, []byte("a message"))
			c[0] ^= 2
			p.conn.Write(AppendFrame(nil, c))
		}, ErrDecrypt},
		{"replayed message", func(p *rawPeer, enc *encryptor) {
			c := AppendFrame(nil, enc.seal(nil, []byte("ok")))
			p.conn.Write(append(c, c...))
		}, ErrDecrypt},
		{"frame shorter than 17", func(p *rawPeer, enc *encryptor) {
			p.conn.Write(AppendFrame(nil, make([]byte, 16)))
		}, nil},
		{"zero-length frame", func(p *rawPeer, enc *encryptor) {
			p.conn.Write([]byte{0, 0, 0})
		}, nil},
		{"garbage after the handshake", func(p *rawPeer, enc *encryptor) {
			g := randBytes(rand.New(rand.NewPCG(1, 2)), 500)
			g[0], g[1], g[2] = 100, 0, 0
			p.conn.Write(g)
		}, ErrDecrypt},
		{"truncated frame", func(p *rawPeer, enc *encryptor) {
			f := AppendFrame(nil, enc.seal(nil, []byte("a message")))
			p.conn.Write(f[:len(f)-3])
			p.conn.Close()
		}, io.ErrUnexpectedEOF},
		{"truncated length", func(p *rawPeer, enc *encryptor) {
			p.conn.Write([]byte{5, 0})
			p.conn.Close()
		}, io.ErrUnexpectedEOF},
		{"16 MiB length prefix, few bytes", func(p *rawPeer, enc *encryptor) {
			p.conn.Write([]byte{0xff, 0xff, 0xff, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10})
			p.conn.Close()
		}, io.ErrUnexpectedEOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, s, err := dataAgainst(t, Config{}, tc.send)
			if err == nil {
				t.Fatalf("accepted %x", m)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			// The error sticks.
			if _, err2 := s.ReadMessage(); err2 == nil {
				t.Fatal("read after error succeeded")
			}
		})
	}
}

// TestHugePrefixAllocatesLittle: a 16 MiB length prefix followed by a few
// bytes and a stall costs at most one read chunk, and a limit below it is
// refused before any allocation.
func TestHugePrefixAllocatesLittle(t *testing.T) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, _, err := dataAgainst(t, Config{}, func(p *rawPeer, enc *encryptor) {
		p.conn.Write([]byte{0xff, 0xff, 0xff, 1, 2, 3})
		time.Sleep(50 * time.Millisecond)
		p.conn.Close()
	})
	runtime.ReadMemStats(&after)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err %v", err)
	}
	d := after.TotalAlloc - before.TotalAlloc // handshake and TCP included
	if d > 1<<20 {
		t.Fatalf("allocated %d bytes for a stalled 16 MiB frame", d)
	}
	t.Logf("allocated %d bytes in all", d)

	// Within MaxMessageSize + Overhead the frame is read (and here fails
	// to authenticate); one byte more is refused unread.
	_, _, err = dataAgainst(t, Config{MaxMessageSize: 1000}, func(p *rawPeer, enc *encryptor) {
		p.conn.Write(append([]byte{0xf9, 0x03, 0x00}, make([]byte, 1017)...))
	})
	if !errors.Is(err, ErrDecrypt) {
		t.Fatalf("err %v, want ErrDecrypt", err)
	}
	_, _, err = dataAgainst(t, Config{MaxMessageSize: 1000}, func(p *rawPeer, enc *encryptor) {
		p.conn.Write([]byte{0xfa, 0x03, 0x00}) // 1018 > 1000 + 17
	})
	if !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("err %v, want ErrFrameTooLarge", err)
	}
}

// TestGarbageHandshake: a server fed garbage instead of a handshake fails
// cleanly, quickly, with small allocations.
func TestGarbageHandshake(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	cases := map[string][]byte{
		"huge length":      {0xff, 0xff, 0xff, 0},
		"empty message":    {0, 0, 0},
		"short message":    {5, 0, 0, 1, 2, 3, 4, 5},
		"http request":     []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		"small order e":    append([]byte{32, 0, 0}, mustHex(smallOrder[0])...),
		"non-canonical e":  append([]byte{32, 0, 0}, mustHex("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")...),
		"truncated length": {32, 0},
	}
	for i := 0; i < 20; i++ {
		g := randBytes(r, 3+32+r.IntN(40))
		g[0], g[1], g[2] = byte(len(g)-3), 0, 0
		cases[fmt.Sprintf("random e %d", i)] = g
	}
	for name, g := range cases {
		t.Run(name, func(t *testing.T) {
			a, b := tcpConns(t)
			defer a.Close()
			errc := make(chan error, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_, err := Server(ctx, b, Config{})
				errc <- err
			}()
			a.Write(g)
			// A random e may be a valid point: then the server answers and
			// waits for message 3, which garbage cannot authenticate.
			a.Write(AppendFrame(nil, payload(64, 1)))
			a.(*net.TCPConn).CloseWrite()
			select {
			case err := <-errc:
				if err == nil {
					t.Fatal("handshake accepted garbage")
				}
			case <-time.After(5 * time.Second):
				t.Fatal("server still waiting")
			}
		})
	}
	// And the client side, against a garbage responder.
	a, b := tcpConns(t)
	defer b.Close()
	go func() {
		io.CopyN(io.Discard, b, 35)
		b.Write(AppendFrame(nil, payload(96, 2)))
	}()
	if _, err := Client(context.Background(), a, Config{}); !errors.Is(err, ErrHandshake) {
		t.Fatalf("client: %v, want ErrHandshake", err)
	}
}

// silentConn returns a conn whose peer reads everything and never answers.
func silentConn(t *testing.T) net.Conn {
	a, b := tcpConns(t)
	go io.Copy(io.Discard, b)
	t.Cleanup(func() { b.Close() })
	return a
}

func TestHandshakeTimeouts(t *testing.T) {
	t.Run("context deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := Client(ctx, silentConn(t), Config{})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err %v", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("took %v", d)
		}
	})
	t.Run("context cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(50*time.Millisecond, cancel)
		start := time.Now()
		_, err := Server(ctx, silentConn(t), Config{})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("took %v", d)
		}
	})
	t.Run("HandshakeTimeout", func(t *testing.T) {
		_, err := Client(context.Background(), silentConn(t), Config{HandshakeTimeout: 80 * time.Millisecond})
		if !errors.Is(err, ErrHandshakeTimeout) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("cancelled before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := Client(ctx, silentConn(t), Config{}); !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("no deadline left behind", func(t *testing.T) {
		a, b := tcpConns(t)
		da, db := &deadlineConn{Conn: a}, &deadlineConn{Conn: b}
		ci, si := handshakePair(t, da, db, Config{HandshakeTimeout: time.Minute}, Config{})
		defer ci.Close()
		defer si.Close()
		for _, c := range []*deadlineConn{da, db} {
			if n, last := c.get(); n < 2 || !last.IsZero() {
				t.Fatalf("%d SetDeadline calls, last %v: want the handshake deadline cleared", n, last)
			}
		}
	})
}

// deadlineConn records SetDeadline calls.
type deadlineConn struct {
	net.Conn
	mu   sync.Mutex
	n    int
	last time.Time
}

func (c *deadlineConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.n, c.last = c.n+1, t
	c.mu.Unlock()
	return c.Conn.SetDeadline(t)
}

func (c *deadlineConn) get() (int, time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n, c.last
}

func TestBadConfig(t *testing.T) {
	a, _ := net.Pipe()
	if _, err := Client(context.Background(), a, Config{Static: make([]byte, 10)}); err == nil {
		t.Fatal("short static key accepted")
	}
}

// TestConcurrentWriters: several goroutines writing at once; each message
// arrives intact (order between writers is free).
func TestConcurrentWriters(t *testing.T) {
	ci, si := tcpPair(t, Config{}, Config{})
	const writers, each = 4, 200
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				m := []byte(fmt.Sprintf("w%d-%d-%s", w, i, bytes.Repeat([]byte("p"), i)))
				var err error
				if i%3 == 0 {
					err = ci.WriteMessages(m, nil)
				} else {
					err = ci.WriteMessage(m)
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	seen := map[string]bool{}
	for len(seen) < writers*each {
		m, err := si.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		seen[string(m)] = true
	}
	wg.Wait()
}

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}
