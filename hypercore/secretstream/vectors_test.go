package secretstream

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/flynn/noise"
)

// hexBytes is a JSON hex string.
type hexBytes []byte

func (h *hexBytes) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := hex.DecodeString(s)
	*h = v
	return err
}

type noiseSide struct {
	StaticSeed      hexBytes `json:"static_seed"`
	StaticPublic    hexBytes `json:"static_public"`
	EphemeralSeed   hexBytes `json:"ephemeral_seed"`
	EphemeralPublic hexBytes `json:"ephemeral_public"`
	Tx              hexBytes `json:"tx"`
	Rx              hexBytes `json:"rx"`
}

type ssMessage struct {
	Plaintext  hexBytes `json:"plaintext"`
	Ciphertext hexBytes `json:"ciphertext"`
	Framed     hexBytes `json:"framed"`
}

type ssDirection struct {
	Name        string      `json:"name"`
	Key         hexBytes    `json:"key"`
	Header      hexBytes    `json:"header"`
	StreamID    hexBytes    `json:"stream_id"`
	HeaderFrame hexBytes    `json:"header_frame"`
	Messages    []ssMessage `json:"messages"`
}

type wireVectors struct {
	Namespaces struct {
		SecretStream map[string]hexBytes `json:"secret_stream"`
	} `json:"namespaces"`
	Wire struct {
		Noise struct {
			ProtocolName string    `json:"protocol_name"`
			Prologue     string    `json:"prologue"`
			Initiator    noiseSide `json:"initiator"`
			Responder    noiseSide `json:"responder"`
			Messages     []struct {
				From    string   `json:"from"`
				Payload hexBytes `json:"payload"`
				Noise   hexBytes `json:"noise"`
				Framed  hexBytes `json:"framed"`
			} `json:"messages"`
			HandshakeHash hexBytes `json:"handshake_hash"`
		} `json:"noise"`
		SecretStream struct {
			TagMessage  int         `json:"tag_message"`
			ABytes      int         `json:"abytes"`
			HeaderBytes int         `json:"headerbytes"`
			IToR        ssDirection `json:"initiator_to_responder"`
			RToI        ssDirection `json:"responder_to_initiator"`
		} `json:"secretstream"`
		LiveTranscript struct {
			InitiatorStaticSeed   hexBytes   `json:"initiator_static_seed"`
			InitiatorStaticPublic hexBytes   `json:"initiator_static_public"`
			ResponderStaticSeed   hexBytes   `json:"responder_static_seed"`
			ResponderStaticPublic hexBytes   `json:"responder_static_public"`
			EphemeralSeeds        []hexBytes `json:"ephemeral_seeds_in_order"`
			HandshakeHash         hexBytes   `json:"handshake_hash"`
		} `json:"live_transcript"`
	} `json:"wire"`
}

var (
	vecOnce sync.Once
	vecVal  *wireVectors
	vecErr  error
)

// loadVectors reads ../testdata/hypercore-v11.json (made by the JS code)
// once per test binary.
func loadVectors(t testing.TB) *wireVectors {
	t.Helper()
	vecOnce.Do(func() {
		b, err := os.ReadFile(filepath.Join("..", "testdata", "hypercore-v11.json"))
		if err != nil {
			vecErr = err
			return
		}
		var v wireVectors
		if err := json.Unmarshal(b, &v); err != nil {
			vecErr = err
			return
		}
		vecVal = &v
	})
	if vecErr != nil {
		t.Fatalf("load vectors: %v", vecErr)
	}
	v := vecVal
	if len(v.Wire.Noise.Messages) != 3 || len(v.Wire.SecretStream.IToR.Messages) == 0 ||
		len(v.Wire.SecretStream.RToI.Messages) == 0 || len(v.Wire.LiveTranscript.EphemeralSeeds) != 2 {
		t.Fatal("vectors lack the wire.noise / wire.secretstream / wire.live_transcript entries")
	}
	return v
}

func eqHex(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Errorf("%s:\n got  %x\n want %x", what, got, want)
	}
}

func TestVectorNamespaces(t *testing.T) {
	v := loadVectors(t)
	ns := v.Namespaces.SecretStream
	eqHex(t, "INITIATOR", nsInitiator[:], ns["INITIATOR"])
	eqHex(t, "RESPONDER", nsResponder[:], ns["RESPONDER"])
	send := namespace("hyperswarm/secret-stream", 2)
	eqHex(t, "SEND", send[:], ns["SEND"])
}

// TestVectorNoise replays wire.noise on the bare handshake states: the
// static and ephemeral public keys, all three messages (and their frames),
// the handshake hash, tx and rx of both sides.
func TestVectorNoise(t *testing.T) {
	v := loadVectors(t).Wire.Noise
	if ProtocolName != v.ProtocolName || v.Prologue != "" {
		t.Fatalf("protocol %q prologue %q", v.ProtocolName, v.Prologue)
	}
	if got := string(noise.NewCipherSuite(ed25519DH{}, noise.CipherChaChaPoly, noise.HashBLAKE2b).Name()); "Noise_XX_"+got != ProtocolName {
		t.Fatalf("cipher suite name %q", got)
	}
	iKey := ed25519.NewKeyFromSeed(v.Initiator.StaticSeed)
	rKey := ed25519.NewKeyFromSeed(v.Responder.StaticSeed)
	eqHex(t, "initiator static public", iKey.Public().(ed25519.PublicKey), v.Initiator.StaticPublic)
	eqHex(t, "responder static public", rKey.Public().(ed25519.PublicKey), v.Responder.StaticPublic)

	ini, err := newHandshake(true, iKey, bytes.NewReader(v.Initiator.EphemeralSeed))
	if err != nil {
		t.Fatal(err)
	}
	res, err := newHandshake(false, rKey, bytes.NewReader(v.Responder.EphemeralSeed))
	if err != nil {
		t.Fatal(err)
	}
	var cs [2][2]*noise.CipherState // [side][k1,k2]
	sides := map[string]*noise.HandshakeState{"initiator": ini, "responder": res}
	for i, m := range v.Messages {
		from, to := sides[m.From], ini
		if m.From == "initiator" {
			to = res
		}
		msg, c1, c2, err := from.WriteMessage(nil, m.Payload)
		if err != nil {
			t.Fatalf("message %d: %v", i+1, err)
		}
		eqHex(t, "message "+string(rune('1'+i)), msg, m.Noise)
		eqHex(t, "framed message "+string(rune('1'+i)), AppendFrame(nil, msg), m.Framed)
		payload, d1, d2, err := to.ReadMessage(nil, msg)
		if err != nil {
			t.Fatalf("read message %d: %v", i+1, err)
		}
		if len(payload) != 0 {
			t.Fatalf("payload %x", payload)
		}
		if i == 2 {
			cs[0] = [2]*noise.CipherState{c1, c2}
			cs[1] = [2]*noise.CipherState{d1, d2}
		} else if c1 != nil || d1 != nil {
			t.Fatalf("handshake complete after message %d", i+1)
		}
	}
	eqHex(t, "initiator ephemeral public", ini.LocalEphemeral().Public, v.Initiator.EphemeralPublic)
	eqHex(t, "responder ephemeral public", res.LocalEphemeral().Public, v.Responder.EphemeralPublic)
	eqHex(t, "initiator handshake hash", ini.ChannelBinding(), v.HandshakeHash)
	eqHex(t, "responder handshake hash", res.ChannelBinding(), v.HandshakeHash)
	eqHex(t, "responder's view of initiator static", res.PeerStatic(), v.Initiator.StaticPublic)
	eqHex(t, "initiator's view of responder static", ini.PeerStatic(), v.Responder.StaticPublic)
	k := func(c *noise.CipherState) []byte { b := c.UnsafeKey(); return b[:] }
	eqHex(t, "initiator tx", k(cs[0][0]), v.Initiator.Tx)
	eqHex(t, "initiator rx", k(cs[0][1]), v.Initiator.Rx)
	eqHex(t, "responder tx", k(cs[1][1]), v.Responder.Tx)
	eqHex(t, "responder rx", k(cs[1][0]), v.Responder.Rx)
}

// TestVectorSecretStream checks wire.secretstream in both directions: the
// stream ids from the wire.noise handshake hash, the header frames, every
// encrypted message (push from key and header) and its frame, and that pull
// decrypts each back.
func TestVectorSecretStream(t *testing.T) {
	v := loadVectors(t)
	ss := v.Wire.SecretStream
	if ss.TagMessage != tagMessage || ss.ABytes != Overhead || ss.HeaderBytes != HeaderSize {
		t.Fatalf("constants: tag %d abytes %d headerbytes %d", ss.TagMessage, ss.ABytes, ss.HeaderBytes)
	}
	hh := v.Wire.Noise.HandshakeHash
	eqHex(t, "initiator->responder key = initiator tx", ss.IToR.Key, v.Wire.Noise.Initiator.Tx)
	eqHex(t, "responder->initiator key = responder tx", ss.RToI.Key, v.Wire.Noise.Responder.Tx)
	for _, d := range []struct {
		dir       ssDirection
		initiator bool
	}{{ss.IToR, true}, {ss.RToI, false}} {
		t.Run(d.dir.Name, func(t *testing.T) {
			id := StreamID(hh, d.initiator)
			eqHex(t, "stream id", id[:], d.dir.StreamID)
			eqHex(t, "header frame", AppendFrame(nil, append(id[:], d.dir.Header...)), d.dir.HeaderFrame)
			enc := newEncryptor(d.dir.Key, d.dir.Header)
			dec := newDecryptor(d.dir.Key, d.dir.Header)
			ref := newRefState(d.dir.Key, d.dir.Header)
			for i, m := range d.dir.Messages {
				ct := enc.seal(nil, m.Plaintext)
				eqHex(t, "ciphertext", ct, m.Ciphertext)
				eqHex(t, "reference ciphertext", ref.push(m.Plaintext, tagMessage), m.Ciphertext)
				eqHex(t, "framed", AppendFrame(nil, ct), m.Framed)
				pt, err := dec.open(nil, m.Ciphertext)
				if err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
				eqHex(t, "plaintext", pt, m.Plaintext)
			}
		})
	}
}

// TestVectorLiveTranscript: the handshake hash of the captured live JS
// exchange, from its static seeds and ephemeral seeds, through Client and
// Server.
func TestVectorLiveTranscript(t *testing.T) {
	lt := loadVectors(t).Wire.LiveTranscript
	header := make([]byte, HeaderSize) // JS used random headers; they do not enter the hash
	ci, si := pipePair(t,
		Config{Static: ed25519.NewKeyFromSeed(lt.InitiatorStaticSeed), rand: io.MultiReader(bytes.NewReader(lt.EphemeralSeeds[0]), bytes.NewReader(header))},
		Config{Static: ed25519.NewKeyFromSeed(lt.ResponderStaticSeed), rand: io.MultiReader(bytes.NewReader(lt.EphemeralSeeds[1]), bytes.NewReader(header))})
	eqHex(t, "initiator handshake hash", ci.HandshakeHash(), lt.HandshakeHash)
	eqHex(t, "responder handshake hash", si.HandshakeHash(), lt.HandshakeHash)
	eqHex(t, "initiator sees responder", ci.RemotePublicKey(), lt.ResponderStaticPublic)
	eqHex(t, "responder sees initiator", si.RemotePublicKey(), lt.InitiatorStaticPublic)
}

// recordConn records what is written to a net.Conn.
type recordConn struct {
	net.Conn
	mu  sync.Mutex
	out bytes.Buffer
}

func (c *recordConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	c.out.Write(b)
	c.mu.Unlock()
	return c.Conn.Write(b)
}

func (c *recordConn) written() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]byte(nil), c.out.Bytes()...)
}

// TestVectorWholeStream runs Client and Server over a pipe with the vector
// seeds and headers, sends the vector messages, and compares every byte
// each side wrote with the JS frames: Noise messages, header frame,
// encrypted message frames.
func TestVectorWholeStream(t *testing.T) {
	v := loadVectors(t)
	n, ss := v.Wire.Noise, v.Wire.SecretStream
	a, b := net.Pipe()
	ra, rb := &recordConn{Conn: a}, &recordConn{Conn: b}
	iCfg := Config{Static: ed25519.NewKeyFromSeed(n.Initiator.StaticSeed),
		rand: io.MultiReader(bytes.NewReader(n.Initiator.EphemeralSeed), bytes.NewReader(ss.IToR.Header))}
	rCfg := Config{Static: ed25519.NewKeyFromSeed(n.Responder.StaticSeed),
		rand: io.MultiReader(bytes.NewReader(n.Responder.EphemeralSeed), bytes.NewReader(ss.RToI.Header))}
	ci, si := handshakePair(t, ra, rb, iCfg, rCfg)
	defer ci.Close()
	defer si.Close()

	var wantI, wantR []byte
	wantI = append(append(wantI, n.Messages[0].Framed...), n.Messages[2].Framed...)
	wantR = append(wantR, n.Messages[1].Framed...)
	wantI = append(wantI, ss.IToR.HeaderFrame...)
	wantR = append(wantR, ss.RToI.HeaderFrame...)

	exchange := func(from, to *Stream, msgs []ssMessage, want *[]byte) {
		t.Helper()
		errc := make(chan error, 1)
		go func() {
			for _, m := range msgs {
				if err := from.WriteMessage(m.Plaintext); err != nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}()
		trailing := false
		for _, m := range msgs {
			*want = append(*want, m.Framed...)
			if trailing = len(m.Plaintext) == 0; trailing {
				continue // keep-alive: dropped by ReadMessage
			}
			got, err := to.ReadMessage()
			if err != nil {
				t.Fatal(err)
			}
			eqHex(t, "received", got, m.Plaintext)
		}
		for {
			if !trailing {
				if err := <-errc; err != nil {
					t.Fatal(err)
				}
				break
			}
			// Let the last keep-alives through the synchronous pipe.
			select {
			case err := <-errc:
				if err != nil {
					t.Fatal(err)
				}
				return
			default:
				deadlineRead(t, to, 20*time.Millisecond)
			}
		}
	}
	exchange(ci, si, ss.IToR.Messages, &wantI)
	exchange(si, ci, ss.RToI.Messages, &wantR)
	eqHex(t, "bytes written by the initiator", ra.written(), wantI)
	eqHex(t, "bytes written by the responder", rb.written(), wantR)
}

// deadlineRead reads with a short deadline and expects a timeout.
func deadlineRead(t *testing.T, s *Stream, d time.Duration) {
	t.Helper()
	s.SetReadDeadline(time.Now().Add(d))
	if m, err := s.ReadMessage(); err == nil || !isTimeout(err) {
		t.Fatalf("ReadMessage = %x, %v; want a timeout", m, err)
	}
	s.SetReadDeadline(time.Time{})
}

// handshakePair runs Client on a and Server on b concurrently.
func handshakePair(t testing.TB, a, b net.Conn, ic, rc Config) (*Stream, *Stream) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	type res struct {
		s   *Stream
		err error
	}
	ch := make(chan res, 1)
	go func() {
		s, err := Server(ctx, b, rc)
		ch <- res{s, err}
	}()
	ci, err := Client(ctx, a, ic)
	r := <-ch
	if err != nil || r.err != nil {
		t.Fatalf("handshake: client %v, server %v", err, r.err)
	}
	return ci, r.s
}

func pipePair(t testing.TB, ic, rc Config) (*Stream, *Stream) {
	t.Helper()
	a, b := net.Pipe()
	ci, si := handshakePair(t, a, b, ic, rc)
	t.Cleanup(func() { ci.Close(); si.Close() })
	return ci, si
}
