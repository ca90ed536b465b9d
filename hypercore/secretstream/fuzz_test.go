package secretstream

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// vectorSession is everything the JS initiator of wire.noise/secretstream
// writes: framed Noise messages 1 and 3, its header frame and its message
// frames.
func vectorSession(t testing.TB) []byte {
	v := loadVectors(t)
	var b []byte
	b = append(b, v.Wire.Noise.Messages[0].Framed...)
	b = append(b, v.Wire.Noise.Messages[2].Framed...)
	b = append(b, v.Wire.SecretStream.IToR.HeaderFrame...)
	for _, m := range v.Wire.SecretStream.IToR.Messages {
		b = append(b, m.Framed...)
	}
	return b
}

// FuzzReadFrame: any input splits into frames that re-encode to a prefix of
// it, each within the limit; the first error ends it, and nothing panics.
func FuzzReadFrame(f *testing.F) {
	f.Add(vectorSession(f), 0)
	f.Add([]byte{0xff, 0xff, 0xff, 1, 2, 3}, 0)
	f.Add([]byte{0x38, 0, 0}, 56)
	f.Add([]byte{5, 0, 0, 1, 2, 3, 4, 5, 0, 0, 0, 1}, 4)
	f.Fuzz(func(t *testing.T, data []byte, max int) {
		limit := max
		if limit <= 0 || limit > MaxFrameSize {
			limit = MaxFrameSize
		}
		r := bufio.NewReaderSize(bytes.NewReader(data), 16)
		var re []byte
		for {
			fr, err := ReadFrame(r, max)
			if err != nil {
				rest := len(data) - len(re)
				switch {
				case err == io.EOF:
					if rest != 0 {
						t.Fatalf("EOF with %d bytes left", rest)
					}
				case errors.Is(err, io.ErrUnexpectedEOF):
					if rest == 0 {
						t.Fatal("unexpected EOF at a boundary")
					}
				case errors.Is(err, ErrFrameTooLarge):
					n := int(data[len(re)]) | int(data[len(re)+1])<<8 | int(data[len(re)+2])<<16
					if n <= limit {
						t.Fatalf("%d refused with limit %d", n, limit)
					}
				default:
					t.Fatalf("error %v", err)
				}
				break
			}
			if len(fr) > limit {
				t.Fatalf("frame of %d over limit %d", len(fr), limit)
			}
			re = AppendFrame(re, fr)
		}
		if !bytes.HasPrefix(data, re) {
			t.Fatal("frames do not re-encode to the input")
		}
	})
}

// FuzzDecrypt: frames of data are pulled in order with the vector key and
// header; the fast decryptor and the libsodium transcription agree on
// every outcome, and an accepted message re-encrypts to the same bytes.
func FuzzDecrypt(f *testing.F) {
	v := loadVectors(f).Wire.SecretStream.IToR
	var all []byte
	for _, m := range v.Messages {
		all = append(all, m.Framed...)
		f.Add([]byte(m.Framed))
	}
	f.Add(all)
	f.Add([]byte{0x11, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		dec, ref := newDecryptor(v.Key, v.Header), newRefState(v.Key, v.Header)
		enc := newEncryptor(v.Key, v.Header)
		r := bufio.NewReader(bytes.NewReader(data))
		for {
			ct, err := ReadFrame(r, 1<<16)
			if err != nil {
				return
			}
			got, err := dec.open(nil, ct)
			want, _, refErr := ref.pull(ct)
			if (err == nil) != (refErr == nil) {
				t.Fatalf("decryptor %v, reference %v", err, refErr)
			}
			if err != nil {
				if !errors.Is(err, ErrDecrypt) {
					t.Fatalf("error %v", err)
				}
				return
			}
			if !bytes.Equal(got, want) {
				t.Fatal("plaintexts differ")
			}
			if again := enc.seal(nil, got); !bytes.Equal(again, ct) {
				t.Fatal("re-encryption differs")
			}
		}
	})
}

// byteConn is a net.Conn that reads from a byte slice and discards writes.
type byteConn struct{ r *bytes.Reader }

func (c byteConn) Read(b []byte) (int, error)       { return c.r.Read(b) }
func (c byteConn) Write(b []byte) (int, error)      { return len(b), nil }
func (c byteConn) Close() error                     { return nil }
func (c byteConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c byteConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c byteConn) SetDeadline(time.Time) error      { return nil }
func (c byteConn) SetReadDeadline(time.Time) error  { return nil }
func (c byteConn) SetWriteDeadline(time.Time) error { return nil }

// FuzzServer feeds data to a Server with the wire.noise responder's keys,
// ephemeral seed and header: the seed is the JS initiator's whole session,
// so mutations reach every stage (Noise messages, header, messages).
// Whatever the input, the server ends with an error or EOF, never a panic.
func FuzzServer(f *testing.F) {
	v := loadVectors(f)
	n := v.Wire.Noise
	session := vectorSession(f)
	f.Add(session)
	f.Add(session[:35+67+59])
	f.Add([]byte(n.Messages[0].Framed))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := Config{Static: ed25519.NewKeyFromSeed(n.Responder.StaticSeed),
			rand: io.MultiReader(bytes.NewReader(n.Responder.EphemeralSeed), bytes.NewReader(v.Wire.SecretStream.RToI.Header))}
		s, err := Server(context.Background(), byteConn{bytes.NewReader(data)}, cfg)
		if err != nil {
			return
		}
		for {
			m, err := s.ReadMessage()
			if err != nil {
				return
			}
			if len(m) == 0 {
				t.Fatal("empty message returned")
			}
		}
	})
}

// TestServerReplaysVectorSession: FuzzServer's seed is a complete session:
// a Server with the responder's vector keys accepts the JS initiator's bytes
// and reads its messages (the keep-alive dropped).
func TestServerReplaysVectorSession(t *testing.T) {
	v := loadVectors(t)
	n := v.Wire.Noise
	cfg := Config{Static: ed25519.NewKeyFromSeed(n.Responder.StaticSeed),
		rand: io.MultiReader(bytes.NewReader(n.Responder.EphemeralSeed), bytes.NewReader(v.Wire.SecretStream.RToI.Header))}
	s, err := Server(context.Background(), byteConn{bytes.NewReader(vectorSession(t))}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range v.Wire.SecretStream.IToR.Messages {
		if len(m.Plaintext) == 0 {
			continue
		}
		got, err := s.ReadMessage()
		if err != nil || !bytes.Equal(got, m.Plaintext) {
			t.Fatalf("got %x %v, want %x", got, err, m.Plaintext)
		}
	}
	if _, err := s.ReadMessage(); err != io.EOF {
		t.Fatalf("after the session: %v, want EOF", err)
	}
}
