package replicate

import (
	"context"
	"encoding/binary"
	"path/filepath"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/hypercore"
	"github.com/fieldsync/fieldsync/hypercore/hypercoretest"
	"github.com/fieldsync/fieldsync/hypercore/protomux"
	"github.com/fieldsync/fieldsync/hypercore/secretstream"
	"github.com/fieldsync/fieldsync/hypercore/wire"
)

// FuzzPeer feeds arbitrary messages, after a well-formed channel open, to
// a Peer. The first input byte picks its role: even, it serves a writer's
// core; odd, it downloads into a replica holding 20 of the core's 64
// blocks. Whatever arrives, Run must end (no panic, no hang) and the
// replica must stay exactly as it was (nothing here can forge a proof).
//
// After that byte the input is a list of messages, each u8 type ‖ u16le
// length ‖ payload, sent on the core's channel; type 255 sends the payload
// as a raw protomux frame.
func FuzzPeer(f *testing.F) {
	w := makeWriter(f, 64, 300, false)
	res := replicate(f, w, nil, filepath.Join(f.TempDir(), "r"), CoreConfig{End: 20})
	if res.errDown != nil {
		f.Fatal(res.errDown)
	}
	r := res.down.Core()
	f.Cleanup(func() { r.Close() })

	msg := func(m wire.Message) []byte {
		p := wire.Append(nil, m)
		return append([]byte{byte(m.MessageType()), byte(len(p)), byte(len(p) >> 8)}, p...)
	}
	join := func(parts ...[]byte) []byte {
		var b []byte
		for _, p := range parts {
			b = append(b, p...)
		}
		return b
	}
	req := wire.Request{ID: 1}
	req.Block = &hypercore.BlockRequest{Index: 3, Nodes: 2}
	up := wire.Request{ID: 2}
	up.Upgrade = &hypercore.UpgradeRequest{Start: 0, Length: 64}
	f.Add(join([]byte{0}, msg(wire.Sync{Length: 0, Downloading: true}), msg(req), msg(up), msg(wire.Want{Length: 64})))
	f.Add(join([]byte{1}, msg(wire.Sync{Length: 64, CanUpgrade: true, HasManifest: true, Uploading: true}), msg(wire.Range{Length: 64})))
	f.Add(join([]byte{1}, msg(wire.Sync{Length: 1 << 40, CanUpgrade: true}), msg(wire.Bitfield{Words: []uint32{0xffffffff, 7}}), msg(wire.NoData{Request: 1, Reason: 1})))
	f.Add(join([]byte{1}, msg(wire.Sync{Length: 64}), msg(wire.Range{Length: 64}), msg(wire.Data{Request: 1})))
	f.Add([]byte{0, 255, 3, 0, 0, 3, 1})

	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		download := in[0]%2 == 1
		in = in[1:]
		before, contig := r.Head(), r.Contiguous()

		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		fz, s := hypercoretest.PipeStreams(t, secretstream.Config{}, secretstream.Config{})
		p := NewPeer(s, Options{RequestTimeout: 100 * time.Millisecond})
		cfg := CoreConfig{Key: w.Key(), Core: w, Upload: true}
		if download {
			cfg = CoreConfig{Key: w.Key(), Core: r, Download: true}
		}
		if _, err := p.Add(cfg); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx) }()
		got := make(chan int, 1)
		go func() { // swallow whatever the peer sends, counting it
			n := 0
			for {
				if _, err := fz.ReadMessage(); err != nil {
					got <- n
					return
				}
				n++
			}
		}()

		// The fuzzing side opens the channel properly, then sends the input.
		m := protomux.New(protomux.Config{})
		dk := w.DiscoveryKey()
		hs := wire.Handshake{Seeks: true, Capability: hypercore.ReplicationCapability(true, w.Key(), fz.HandshakeHash())}
		ch, _ := m.Open(protomux.OpenOptions{Protocol: wire.Protocol, ID: dk[:], Handshake: wire.AppendHandshake(nil, hs)})
		fz.WriteMessages(m.AppendOutput(nil)...)
		var err error
		for len(in) >= 3 {
			typ, n := in[0], int(binary.LittleEndian.Uint16(in[1:3]))
			in = in[3:]
			n = min(n, len(in))
			payload := in[:n]
			in = in[n:]
			if typ == 255 {
				err = fz.WriteMessage(payload)
			} else {
				m.Send(ch, uint64(typ), payload)
				err = fz.WriteMessages(m.AppendOutput(nil)...)
			}
			if err != nil {
				break
			}
		}
		time.Sleep(2 * time.Millisecond)
		fz.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not end after the connection closed")
		}
		<-got // (a peer that fails at once may send nothing at all)
		if h := r.Head(); h.Length != before.Length || h.TreeHash != before.TreeHash || r.Contiguous() != contig {
			t.Fatalf("the replica changed: length %d→%d, contiguous %d→%d", before.Length, h.Length, contig, r.Contiguous())
		}
	})
}
