package replicate

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/hypercore"
	"github.com/fieldsync/fieldsync/hypercore/hypercoretest"
	"github.com/fieldsync/fieldsync/hypercore/protomux"
	"github.com/fieldsync/fieldsync/hypercore/secretstream"
	"github.com/fieldsync/fieldsync/hypercore/wire"
)

// A scripted peer that holds a real writer's core (so it can make every
// honest proof) and misbehaves in one way. The reader is a replica that
// already holds part of the core; after each attack it must have dropped
// the connection with an error and kept its core exactly as it was.

type attack struct {
	name string
	// length the evil peer announces (it may lie).
	announce func(w *hypercore.Core) uint64
	// answer builds the reply to a request; raw, if set, is written to
	// the TCP connection instead (below the encryption).
	answer func(t *testing.T, w *hypercore.Core, req wire.Request) (reply any, raw []byte)
	// opener replaces the channel handshake (nil: the right capability).
	handshake func(h wire.Handshake) wire.Handshake
	// want is what the reader's Run error must wrap (nil: any error).
	want error
}

// honest is the proof an honest peer would send (an empty one if even
// that fails: the attack goes on regardless).
func honest(t *testing.T, w *hypercore.Core, req wire.Request) *hypercore.Proof {
	p, err := w.Proof(req.ProofRequest)
	if err != nil {
		return &hypercore.Proof{Fork: req.Fork}
	}
	p.Fork = req.Fork
	return p
}

func attacks() []attack {
	// Attacks on the upgrade announce the writer's real length (100);
	// attacks on blocks announce the length the reader already holds
	// signed (64), so only block requests are made.
	full := func(w *hypercore.Core) uint64 { return w.Length() }
	held := func(w *hypercore.Core) uint64 { return 64 }
	blockIs := func(req wire.Request) bool { return req.Block != nil }
	return []attack{
		{
			name:     "forged signature",
			announce: full,
			answer: func(t *testing.T, w *hypercore.Core, req wire.Request) (any, []byte) {
				p := honest(t, w, req)
				if p.Upgrade != nil {
					p.Upgrade.Signature[len(p.Upgrade.Signature)/2] ^= 1
				}
				return wire.Data{Request: req.ID, Proof: *p}, nil
			},
			want: hypercore.ErrInvalidSignature,
		},
		{
			name:     "signature of a shorter head",
			announce: full,
			answer: func(t *testing.T, w *hypercore.Core, req wire.Request) (any, []byte) {
				p := honest(t, w, req)
				if p.Upgrade != nil {
					p.Upgrade.Signature = shortSig
				}
				return wire.Data{Request: req.ID, Proof: *p}, nil
			},
			want: hypercore.ErrInvalidSignature,
		},
		{
			name:     "proof for the wrong block",
			announce: held,
			answer: func(t *testing.T, w *hypercore.Core, req wire.Request) (any, []byte) {
				if blockIs(req) {
					req.Block = &hypercore.BlockRequest{Index: req.Block.Index + 1, Nodes: req.Block.Nodes}
				}
				return wire.Data{Request: req.ID, Proof: *honest(t, w, req)}, nil
			},
			want: ErrProtocol,
		},
		{
			name:     "other block's bytes under the right index",
			announce: held,
			answer: func(t *testing.T, w *hypercore.Core, req wire.Request) (any, []byte) {
				p := honest(t, w, req)
				if p.Block != nil {
					if other, err := w.Get(p.Block.Index + 1); err == nil {
						p.Block.Value = other
					}
				}
				return wire.Data{Request: req.ID, Proof: *p}, nil
			},
			want: hypercore.ErrInvalidProof,
		},
		{
			name:     "tampered sibling node",
			announce: held,
			answer: func(t *testing.T, w *hypercore.Core, req wire.Request) (any, []byte) {
				p := honest(t, w, req)
				if p.Block != nil && len(p.Block.Nodes) > 0 {
					p.Block.Nodes[0].Hash[3] ^= 0x40
				} else if p.Block != nil {
					p.Block.Value = append([]byte(nil), p.Block.Value...)
					p.Block.Value[0] ^= 1
				}
				return wire.Data{Request: req.ID, Proof: *p}, nil
			},
			want: hypercore.ErrInvalidProof,
		},
		{
			name:     "truncated frame",
			announce: held,
			answer: func(t *testing.T, w *hypercore.Core, req wire.Request) (any, []byte) {
				if blockIs(req) {
					return nil, []byte{0xe8, 0x03, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9} // 1000 bytes promised, 9 sent, then close
				}
				return wire.Data{Request: req.ID, Proof: *honest(t, w, req)}, nil
			},
		},
		{
			name:     "largest length prefix (16 MiB)",
			announce: held,
			answer: func(t *testing.T, w *hypercore.Core, req wire.Request) (any, []byte) {
				if blockIs(req) {
					return nil, []byte{0xff, 0xff, 0xff} // u24: 16 MiB − 1, past MaxMessageSize
				}
				return wire.Data{Request: req.ID, Proof: *honest(t, w, req)}, nil
			},
			want: secretstream.ErrFrameTooLarge,
		},
		{
			name:     "garbage after the handshake",
			announce: held,
			answer: func(t *testing.T, w *hypercore.Core, req wire.Request) (any, []byte) {
				g := make([]byte, 200)
				for i := range g {
					g[i] = byte(i*7 + 3)
				}
				g[0], g[1], g[2] = 197, 0, 0 // a well-formed length: 197 bytes of noise
				return nil, g
			},
			want: secretstream.ErrDecrypt,
		},
		{
			name:     "malformed message",
			announce: held,
			answer: func(t *testing.T, w *hypercore.Core, req wire.Request) (any, []byte) {
				return rawMessage{typ: wire.TypeData, b: []byte{0x01, byte(req.ID), 0x00, 0x05, 0xff}}, nil
			},
			want: ErrProtocol,
		},
		{
			name:     "never answers",
			announce: held,
			answer: func(t *testing.T, w *hypercore.Core, req wire.Request) (any, []byte) {
				return nil, nil
			},
			want: ErrTimeout,
		},
		{
			name:     "bad capability",
			announce: full,
			handshake: func(h wire.Handshake) wire.Handshake {
				h.Capability[0] ^= 1
				return h
			},
			want: ErrCapability,
		},
		{
			name:     "unrequested upgrade in a block answer",
			announce: held,
			answer: func(t *testing.T, w *hypercore.Core, req wire.Request) (any, []byte) {
				if blockIs(req) {
					req.Upgrade = &hypercore.UpgradeRequest{Start: 0, Length: w.Length()}
				}
				return wire.Data{Request: req.ID, Proof: *honest(t, w, req)}, nil
			},
			want: ErrProtocol,
		},
	}
}

var shortSig = make([]byte, 64)

// rawMessage lets an attack send bytes that are not a valid message.
type rawMessage struct {
	typ uint64
	b   []byte
}

func TestMaliciousPeers(t *testing.T) {
	hypercoretest.CheckGoroutines(t)
	for _, a := range attacks() {
		t.Run(a.name, func(t *testing.T) {
			// The writer: 64 blocks. The reader holds all 64 signed but only
			// the first 20 blocks, then the writer grows to 100: an attack
			// can hit the upgrade (64 → 100) or a block request (20...).
			w := makeWriter(t, 64, 700, false)
			dir := filepath.Join(t.TempDir(), "r")
			res := replicate(t, w, nil, dir, CoreConfig{End: 20})
			if res.errDown != nil {
				t.Fatal(res.errDown)
			}
			r := res.down.Core()
			defer r.Close()
			var more [][]byte
			for i := 64; i < 100; i++ {
				more = append(more, block(i, 700))
			}
			if _, err := w.Append(more...); err != nil {
				t.Fatal(err)
			}
			before, contig := r.Head(), r.Contiguous()

			err := runAgainstEvil(t, w, r, a)
			if err == nil {
				t.Fatal("the reader did not drop the evil peer")
			}
			if a.want != nil && !errors.Is(err, a.want) {
				t.Fatalf("error %v does not wrap %v", err, a.want)
			}
			t.Logf("dropped: %v", err)
			after := r.Head()
			if after.Length != before.Length || after.TreeHash != before.TreeHash || string(after.Signature) != string(before.Signature) || r.Contiguous() != contig {
				t.Fatalf("reader core changed: head %d→%d, contiguous %d→%d", before.Length, after.Length, contig, r.Contiguous())
			}
			if err := r.Verify(context.Background(), nil); err != nil {
				t.Fatalf("reader core does not verify after the attack: %v", err)
			}
		})
	}
}

// runAgainstEvil connects the reader's replica r to an evil peer serving w
// and returns the reader's Run error.
func runAgainstEvil(t *testing.T, w, r *hypercore.Core, a attack) error {
	t.Helper()
	return runAgainstEvilTimeout(t, w, r, a, 500*time.Millisecond)
}

// runAgainstEvilTimeout is runAgainstEvil with the reader's request timeout.
func runAgainstEvilTimeout(t *testing.T, w, r *hypercore.Core, a attack, reqTimeout time.Duration) error {
	t.Helper()
	cs, ss, raw := connectRaw(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	evilDone := make(chan struct{})
	go func() {
		defer close(evilDone)
		evilPeer(t, ctx, ss, raw, w, a)
	}()
	defer func() { <-evilDone }()
	p := NewPeer(cs, Options{RequestTimeout: reqTimeout})
	if _, err := p.Add(CoreConfig{Key: w.Key(), Core: r, Download: true}); err != nil {
		t.Fatal(err)
	}
	err := p.Run(ctx)
	if ctx.Err() != nil {
		t.Fatalf("the reader was still connected after 20 s (err %v)", err)
	}
	return err
}

func evilPeer(t *testing.T, ctx context.Context, s *secretstream.Stream, raw net.Conn, w *hypercore.Core, a attack) {
	defer s.Close()
	m := protomux.New(protomux.Config{})
	m.Pair(wire.Protocol, nil)
	dk := w.DiscoveryKey()
	var ch uint64
	flush := func() bool { return s.WriteMessages(m.AppendOutput(nil)...) == nil }
	send := func(msg any) {
		if rm, ok := msg.(rawMessage); ok {
			m.Send(ch, rm.typ, rm.b)
			return
		}
		wm := msg.(wire.Message)
		m.Send(ch, wm.MessageType(), wire.Append(nil, wm))
	}
	for ctx.Err() == nil {
		frame, err := s.ReadMessage()
		if err != nil {
			return
		}
		if m.Receive(frame) != nil {
			return
		}
		for {
			ev, ok, err := m.NextEvent()
			if err != nil || !ok {
				break
			}
			switch ev.Kind {
			case protomux.EventRemoteOpen:
				hs := wire.Handshake{Seeks: true, Capability: hypercore.ReplicationCapability(false, w.Key(), s.HandshakeHash())}
				if a.handshake != nil {
					hs = a.handshake(hs)
				}
				ch, _ = m.Open(protomux.OpenOptions{Protocol: wire.Protocol, ID: dk[:], Handshake: wire.AppendHandshake(nil, hs)})
			case protomux.EventOpen:
				n := a.announce(w)
				send(wire.Sync{Length: n, CanUpgrade: true, Uploading: true, HasManifest: true})
				send(wire.Range{Start: 0, Length: n})
			case protomux.EventMessage:
				msg, err := wire.Decode(ev.Type, ev.Payload)
				if err != nil {
					continue
				}
				if req, ok := msg.(wire.Request); ok && a.answer != nil {
					reply, rawBytes := a.answer(t, w, req)
					if rawBytes != nil {
						flush()
						raw.Write(rawBytes)
						raw.Close()
						return
					}
					if reply != nil {
						send(reply)
						if !flush() { // as made, so big answers never pile up here
							return
						}
					}
				}
			}
		}
		if !flush() {
			return
		}
	}
}

// TestPeerThatStopsReading: a peer that asks for a lot and never reads
// the answers is dropped after the write timeout; the server's Run ends.
func TestPeerThatStopsReading(t *testing.T) {
	hypercoretest.CheckGoroutines(t)
	w := makeWriter(t, 400, 64<<10, false)
	cs, ss := connect(t)
	srv := NewPeer(ss, Options{WriteTimeout: 300 * time.Millisecond})
	if _, err := srv.Add(CoreConfig{Key: w.Key(), Core: w, Upload: true}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()

	// The greedy peer: open the channel, ask for every block, then stop.
	m := protomux.New(protomux.Config{})
	dk := w.DiscoveryKey()
	hs := wire.Handshake{Seeks: true, Capability: hypercore.ReplicationCapability(true, w.Key(), cs.HandshakeHash())}
	ch, err := m.Open(protomux.OpenOptions{Protocol: wire.Protocol, ID: dk[:], Handshake: wire.AppendHandshake(nil, hs)})
	if err != nil {
		t.Fatal(err)
	}
	m.Cork()
	for i := range uint64(400) {
		req := wire.Request{ID: i + 1}
		req.Block = &hypercore.BlockRequest{Index: i}
		if i == 0 {
			req.Upgrade = &hypercore.UpgradeRequest{Start: 0, Length: 400}
		}
		m.Send(ch, wire.TypeRequest, wire.Append(nil, req))
	}
	m.Uncork()
	if err := cs.WriteMessages(m.AppendOutput(nil)...); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil || ctx.Err() != nil {
			t.Fatalf("Run ended with %v, want a write timeout", err)
		}
		t.Logf("dropped: %v", err)
	case <-ctx.Done():
		t.Fatal("the server still waits on a peer that stopped reading")
	}
}

// heapPeak samples the heap in use until stop is closed.
func heapPeak(stop <-chan struct{}) <-chan uint64 {
	out := make(chan uint64, 1)
	go func() {
		var peak uint64
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-stop:
				out <- peak
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	return out
}

// TestRequestFloodMemoryBounded: one small frame with 1,500 requests for a
// 1 MiB block, from a peer that never reads. The answers are made a few at
// a time as the send queue drains (never, here), so memory stays near
// MaxQueued instead of 1.5 GiB.
func TestRequestFloodMemoryBounded(t *testing.T) {
	hypercoretest.CheckGoroutines(t)
	w := makeWriter(t, 4, 1<<20, false)
	cs, ss := connect(t)
	srv := NewPeer(ss, Options{WriteTimeout: 3 * time.Second})
	if _, err := srv.Add(CoreConfig{Key: w.Key(), Core: w, Upload: true}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	runtime.GC()
	stop := make(chan struct{})
	peak := heapPeak(stop)
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	m := protomux.New(protomux.Config{MaxBatch: 8 << 20})
	dk := w.DiscoveryKey()
	hs := wire.Handshake{Seeks: true, Capability: hypercore.ReplicationCapability(true, w.Key(), cs.HandshakeHash())}
	ch, _ := m.Open(protomux.OpenOptions{Protocol: wire.Protocol, ID: dk[:], Handshake: wire.AppendHandshake(nil, hs)})
	m.Cork()
	for i := range uint64(1500) {
		req := wire.Request{ID: i + 1}
		req.Block = &hypercore.BlockRequest{Index: 0}
		m.Send(ch, wire.TypeRequest, wire.Append(nil, req))
	}
	m.Uncork()
	if err := cs.WriteMessages(m.AppendOutput(nil)...); err != nil {
		t.Fatal(err)
	}
	err := <-done // the write timeout ends it: the peer never reads
	close(stop)
	p := <-peak
	t.Logf("Run: %v; peak heap in use %d MiB", err, p>>20)
	if err == nil {
		t.Fatal("Run ended without an error")
	}
	if p > 200<<20 {
		t.Fatalf("heap in use peaked at %d MiB answering a flood nobody reads", p>>20)
	}
}

// TestOutOfOrderAnswersBounded: a peer leaves the first block request
// unanswered and answers the later ones with 8 MiB values. What waits for
// the first answer is bounded: the peer is dropped long before the request
// timeout, and memory stays bounded.
func TestOutOfOrderAnswersBounded(t *testing.T) {
	hypercoretest.CheckGoroutines(t)
	w := makeWriter(t, 600, 100, false)
	dir := filepath.Join(t.TempDir(), "r")
	res := replicate(t, w, nil, dir, CoreConfig{End: 1})
	if res.errDown != nil {
		t.Fatal(res.errDown)
	}
	r := res.down.Core()
	defer r.Close()
	junk := make([]byte, hypercore.MaxBlockSize)
	a := attack{
		announce: func(*hypercore.Core) uint64 { return 600 },
		answer: func(t *testing.T, w *hypercore.Core, req wire.Request) (any, []byte) {
			if req.Block == nil || req.Block.Index == 1 {
				return nil, nil
			}
			p := honest(t, w, req)
			p.Block.Value = junk
			return wire.Data{Request: req.ID, Proof: *p}, nil
		},
	}
	runtime.GC()
	stop := make(chan struct{})
	peak := heapPeak(stop)
	start := time.Now()
	err := runAgainstEvilTimeout(t, w, r, a, 20*time.Second)
	close(stop)
	p := <-peak
	t.Logf("dropped after %v: %v; peak heap in use %d MiB", time.Since(start).Round(time.Millisecond), err, p>>20)
	if !errors.Is(err, ErrProtocol) {
		t.Fatalf("error %v, want a protocol error for answers held out of order", err)
	}
	if p > 300<<20 {
		t.Fatalf("heap in use peaked at %d MiB", p>>20)
	}
	if r.Contiguous() != 1 {
		t.Fatalf("reader core changed: contiguous %d", r.Contiguous())
	}
}
