package protomux

import (
	"encoding/hex"
	"fmt"
	"reflect"
	"testing"

	"github.com/fieldsync/fieldsync/hypercore/hypercoretest"
)

// fuzzSeedFrames are the captured JS frames and every frame of the live
// transcript.
func fuzzSeedFrames(f *testing.F) [][]byte {
	var seeds [][]byte
	for _, c := range loadCaptured(f).Captured {
		for _, fr := range c.Frames {
			seeds = append(seeds, hypercoretest.Unhex(f, fr))
		}
	}
	var v struct {
		Wire struct {
			LiveTranscript struct {
				Frames []struct {
					Hex string `json:"hex"`
				} `json:"frames"`
			} `json:"live_transcript"`
		} `json:"wire"`
	}
	hypercoretest.LoadVectors(f, &v)
	for _, fr := range v.Wire.LiveTranscript.Frames {
		b, err := hex.DecodeString(fr.Hex)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	return seeds
}

// FuzzDecodeFrame decodes a frame down to control payloads (batches
// flattened). It must never panic, and whatever decodes must encode to a
// frame that decodes to the same messages.
func FuzzDecodeFrame(f *testing.F) {
	for _, s := range fuzzSeedFrames(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		batch, items, err := decodeAll(b)
		if err != nil {
			return
		}
		if batch && len(items) == 0 {
			return
		}
		enc := encodeAll(batch, items)
		batch2, items2, err := decodeAll(enc)
		if err != nil {
			t.Fatalf("re-encoded frame %x does not decode: %v", enc, err)
		}
		if batch2 != batch || !reflect.DeepEqual(items, items2) {
			t.Fatalf("round trip changed the frame:\n%s\n%s", fmtItems(items), fmtItems(items2))
		}
	})
}

// FuzzMux drives a Mux with received frames and local calls chosen by the
// input, answering remote opens, and checks its tables after every step.
func FuzzMux(f *testing.F) {
	var seed []byte
	for _, s := range fuzzSeedFrames(f) {
		if len(s) < 256 {
			seed = append(append(seed, 0, byte(len(s))), s...)
		}
	}
	f.Add(seed)
	f.Add([]byte{1, 0, 1, 1, 2, 0, 0, 4, 0, 0, 1, 0, 5, 1, 2, 0, 2, 0, 3, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		m := New(Config{MaxChannels: 8, MaxBuffered: 4096, MaxBatch: 64})
		m.Pair("hypercore/alpha", nil)
		m.Pair("p", []byte{1})
		protocols := []string{"hypercore/alpha", "hypercore", "p", "q"}
		next := func() byte {
			if len(b) == 0 {
				return 0
			}
			c := b[0]
			b = b[1:]
			return c
		}
		corked := false
		for len(b) > 0 {
			op := next()
			var err error
			switch op % 6 {
			case 0:
				n := int(next())
				if n > len(b) {
					n = len(b)
				}
				err = m.Receive(b[:n])
				b = b[n:]
			case 1:
				x := next()
				_, err = m.Open(OpenOptions{Protocol: protocols[x%4], Aliases: []string{"hypercore"}[:x>>7], ID: []byte{x >> 2 & 3}, Handshake: []byte{x}})
			case 2:
				err = m.Close(uint64(next() % 10))
			case 3:
				err = m.Reject(uint64(next() % 10))
			case 4:
				x := next()
				err = m.Send(uint64(x%10), uint64(x>>4), []byte{x})
			case 5:
				if corked {
					m.Uncork()
				} else {
					m.Cork()
				}
				corked = !corked
			}
			for err == nil {
				e, ok, nerr := m.NextEvent()
				if nerr != nil {
					err = nerr
				}
				if !ok {
					break
				}
				if e.Kind == EventRemoteOpen && e.RemoteID%2 == 1 {
					m.Open(OpenOptions{Protocol: e.Protocol, ID: e.ID})
				}
				if e.Kind == EventMessage && e.Type == 7 {
					m.Close(e.Channel) // later messages of the batch meet a closed channel
				}
			}
			m.AppendOutput(nil)
			if m.Err() != nil {
				if err == nil && op%6 != 5 {
					t.Fatalf("op %d: Mux failed (%v) without returning an error", op, m.Err())
				}
				return
			}
			if msg := m.check(); msg != "" {
				t.Fatalf("after op %d: %s", op, msg)
			}
		}
	})
}

// check verifies the Mux's tables agree with each other.
func (m *Mux) check() string {
	inFree := map[uint64]bool{}
	for _, id := range m.free {
		if id == 0 || id > uint64(len(m.local)) || m.local[id-1] != nil || inFree[id] {
			return fmt.Sprintf("bad free id %d", id)
		}
		inFree[id] = true
	}
	for i, ch := range m.local {
		id := uint64(i + 1)
		if ch == nil {
			if !inFree[id] {
				return fmt.Sprintf("local id %d is neither used nor free", id)
			}
			continue
		}
		if ch.local != id {
			return fmt.Sprintf("channel at %d says it is %d", id, ch.local)
		}
		switch ch.state {
		case StateOpen:
			if ch.remote == 0 || ch.remote > uint64(len(m.remote)) || m.remote[ch.remote-1] == nil || m.remote[ch.remote-1].local != id {
				return fmt.Sprintf("open channel %d: remote %d does not point back", id, ch.remote)
			}
		case StateOpening, StateClosing:
			if ch.remote != 0 {
				return fmt.Sprintf("unpaired channel %d has remote %d", id, ch.remote)
			}
			for _, k := range ch.keys() {
				found := false
				for _, l := range m.outgoing[k] {
					found = found || l == id
				}
				if !found {
					return fmt.Sprintf("unpaired channel %d missing from outgoing", id)
				}
			}
		default:
			return fmt.Sprintf("channel %d in state %d", id, ch.state)
		}
	}
	for k, q := range m.outgoing {
		for _, l := range q {
			ch := m.channel(l)
			if ch == nil || ch.state == StateOpen {
				return fmt.Sprintf("outgoing %q lists channel %d that is not waiting", k, l)
			}
		}
	}
	cost := 0
	pending := 0
	for i, s := range m.remote {
		if s == nil {
			continue
		}
		if s.local == 0 {
			pending++
			cost += s.cost
			continue
		}
		ch := m.channel(s.local)
		if ch == nil || ch.remote != uint64(i+1) || ch.state != StateOpen {
			return fmt.Sprintf("remote slot %d points at channel %d which does not point back", i+1, s.local)
		}
	}
	n := 0
	for _, q := range m.incoming {
		for _, r := range q {
			n++
			if r == 0 || r > uint64(len(m.remote)) || m.remote[r-1] == nil || m.remote[r-1].local != 0 {
				return fmt.Sprintf("incoming lists remote %d that is not pending", r)
			}
		}
	}
	if n != pending {
		return fmt.Sprintf("%d pending slots, %d incoming", pending, n)
	}
	if cost != m.buffered || m.buffered > m.cfg.MaxBuffered || m.buffered < 0 {
		return fmt.Sprintf("buffered %d, slots hold %d, bound %d", m.buffered, cost, m.cfg.MaxBuffered)
	}
	if len(m.local) > m.cfg.MaxChannels || len(m.remote) > m.cfg.MaxChannels {
		return "table over its bound"
	}
	return ""
}
