package wire

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/fieldsync/fieldsync/hypercore/hypercoretest"
	"github.com/fieldsync/fieldsync/hypercore/protomux"
)

// messageName is typeNames inverted.
func messageName(typ uint64) string {
	for n, t := range typeNames {
		if t == typ {
			return n
		}
	}
	return fmt.Sprint(typ)
}

// decodedFrame is a frame of the live transcript decoded with protomux and
// this package: the message(s) it carries, and its JS-style rendering.
type decodedFrame struct {
	batch bool
	msgs  []protomux.Message
	vals  []any // Message, or protomux.Open with a decoded Handshake
	js    any
}

func decodeTranscriptFrame(t *testing.T, b []byte) decodedFrame {
	t.Helper()
	m, err := protomux.DecodeFrame(b)
	if err != nil {
		t.Fatal(err)
	}
	var df decodedFrame
	if m.Channel == protomux.ControlChannel && m.Type == protomux.TypeBatch {
		df.batch = true
		if df.msgs, err = protomux.DecodeBatch(nil, m.Payload); err != nil {
			t.Fatal(err)
		}
	} else {
		df.msgs = []protomux.Message{m}
	}
	var items []any
	for _, m := range df.msgs {
		if m.Channel == protomux.ControlChannel {
			if m.Type != protomux.TypeOpen {
				t.Fatalf("control message %d in the transcript", m.Type)
			}
			o, err := protomux.DecodeOpen(m.Payload)
			if err != nil {
				t.Fatal(err)
			}
			h, err := DecodeHandshake(o.Handshake)
			if err != nil {
				t.Fatal(err)
			}
			df.vals = append(df.vals, o)
			items = append(items, map[string]any{"channel": 0, "type": protomux.TypeOpen, "name": "open", "value": map[string]any{
				"localId": o.Channel, "protocol": o.Protocol, "id": jsHex(o.ID), "handshake": jsValue(h)}})
			continue
		}
		v, err := Decode(m.Type, m.Payload)
		if err != nil {
			t.Fatalf("channel %d type %d: %v", m.Channel, m.Type, err)
		}
		df.vals = append(df.vals, v)
		items = append(items, map[string]any{"channel": m.Channel, "type": m.Type, "name": messageName(m.Type), "value": jsValue(v)})
	}
	if df.batch {
		df.js = map[string]any{"batch": items}
	} else {
		df.js = items[0]
	}
	return df
}

// TestLiveTranscript decodes every frame of a real exchange between two JS
// peers with protomux and this package, compares the values with what JS
// decoded, and re-encodes each frame byte for byte.
func TestLiveTranscript(t *testing.T) {
	lt := loadVectors(t).Wire.LiveTranscript
	counts := map[string]int{}
	for i, f := range lt.Frames {
		b := hypercoretest.Unhex(t, f.Hex)
		df := decodeTranscriptFrame(t, b)
		if !sameJSON(t, df.js, f.Decoded) {
			got, _ := json.Marshal(df.js)
			t.Errorf("frame %d: decoded %s\nJS decoded %s", i, got, f.Decoded)
		}
		var enc []byte
		if df.batch {
			var w protomux.Batch
			for j, m := range df.msgs {
				w.Add(m.Channel, m.Type, Append(nil, df.vals[j].(Message)))
			}
			enc = w.Frame()
		} else if o, ok := df.vals[0].(protomux.Open); ok {
			h, _ := DecodeHandshake(o.Handshake)
			o.Handshake = AppendHandshake(nil, h)
			enc = protomux.AppendOpen(protomux.AppendFrameHeader(nil, 0, protomux.TypeOpen), o)
		} else {
			m := df.vals[0].(Message)
			enc = protomux.AppendFrame(nil, df.msgs[0].Channel, m.MessageType(), Append(nil, m))
		}
		if !bytes.Equal(enc, b) {
			t.Errorf("frame %d: encoded %x\nJS          %x", i, enc, b)
		}
		for _, m := range df.msgs {
			counts[messageName(m.Type)]++
		}
	}
	for _, name := range []string{"sync", "request", "data", "range"} {
		if counts[name] == 0 {
			t.Errorf("transcript has no %s message", name)
		}
	}
}

// pull takes every event m has.
func pull(t *testing.T, m *protomux.Mux) []protomux.Event {
	t.Helper()
	var evs []protomux.Event
	for {
		ev, ok, err := m.NextEvent()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return evs
		}
		evs = append(evs, ev)
	}
}

// TestLiveTranscriptReplay plays the transcript through two Muxes: each
// frame is produced by the sending side's Mux from the decoded values
// (opens from the capability, corked batches, plain sends) and must equal
// the JS bytes; then the receiving Mux turns it into the events the
// values came from. The capabilities check out against the core key and
// the handshake hash, and the blocks received are the writer's.
func TestLiveTranscriptReplay(t *testing.T) {
	lt := loadVectors(t).Wire.LiveTranscript
	// This package codes the discovery key and the capabilities, it does
	// not derive them: hypercore's TestLiveTranscriptOpensCarryCapabilities
	// checks them against the core key and the handshake hash.
	dk := hash(t, lt.DiscoveryKey)
	sent := map[string][32]byte{} // the capability each side sent
	muxes := map[string]*protomux.Mux{"initiator": protomux.New(protomux.Config{}), "responder": protomux.New(protomux.Config{})}
	for _, m := range muxes {
		m.Pair(Protocol, nil)
		m.Pair(ProtocolAlias, nil)
	}
	channel := map[string]uint64{}
	var blocks [][]byte

	// checkOpen checks that evs is the one EventOpen of side's channel, with
	// the capability the other side sent.
	checkOpen := func(i int, side string, evs []protomux.Event) {
		t.Helper()
		if len(evs) != 1 || evs[0].Kind != protomux.EventOpen || evs[0].Channel != channel[side] {
			t.Fatalf("frame %d: %s events %+v, want its channel open", i, side, evs)
		}
		h, err := DecodeHandshake(evs[0].Handshake)
		if err != nil || !h.Seeks {
			t.Fatalf("frame %d: handshake %+v, %v", i, h, err)
		}
		other := "initiator"
		if side == "initiator" {
			other = "responder"
		}
		if h.Capability != sent[other] {
			t.Fatalf("frame %d: %s received capability %x, %s sent %x", i, side, h.Capability, other, sent[other])
		}
	}

	for i, f := range lt.Frames {
		b := hypercoretest.Unhex(t, f.Hex)
		from, to := "initiator", "responder"
		if f.Dir == "responder->initiator" {
			from, to = to, from
		}
		sender, receiver := muxes[from], muxes[to]
		df := decodeTranscriptFrame(t, b)

		// The sender makes the frame.
		o, isOpen := df.vals[0].(protomux.Open)
		if isOpen {
			js, err := DecodeHandshake(o.Handshake)
			if err != nil {
				t.Fatal(err)
			}
			h := Handshake{Seeks: true, Capability: js.Capability}
			sent[from] = h.Capability
			if !bytes.Equal(o.ID, dk[:]) || o.Protocol != Protocol {
				t.Fatalf("frame %d opens %s/%x", i, o.Protocol, o.ID)
			}
			l, err := sender.Open(protomux.OpenOptions{Protocol: Protocol, Aliases: []string{ProtocolAlias}, ID: dk[:], Handshake: AppendHandshake(nil, h)})
			if err != nil {
				t.Fatal(err)
			}
			channel[from] = l
			if evs := pull(t, sender); len(evs) > 0 {
				checkOpen(i, from, evs) // the remote's open was waiting
			}
		} else {
			if df.batch {
				sender.Cork()
			}
			for j, m := range df.msgs {
				if m.Channel != channel[from] {
					t.Fatalf("frame %d: message on channel %d, %s opened %d", i, m.Channel, from, channel[from])
				}
				if err := sender.Send(channel[from], m.Type, Append(nil, df.vals[j].(Message))); err != nil {
					t.Fatal(err)
				}
			}
			if df.batch {
				sender.Uncork()
			}
		}
		out := sender.AppendOutput(nil)
		if len(out) != 1 || !bytes.Equal(out[0], b) {
			t.Fatalf("frame %d: %s's Mux sent %x\nJS sent %x", i, from, out, b)
		}

		// The receiver gets it back.
		if err := receiver.Receive(b); err != nil {
			t.Fatalf("frame %d: %s: %v", i, to, err)
		}
		evs := pull(t, receiver)
		if isOpen {
			if channel[to] == 0 {
				// Not opened there yet: it waits for the receiver's Open.
				if len(evs) != 1 || evs[0].Kind != protomux.EventRemoteOpen || evs[0].RemoteID != o.Channel || evs[0].Protocol != Protocol {
					t.Fatalf("frame %d: %s events %+v, want a remote open", i, to, evs)
				}
				continue
			}
			checkOpen(i, to, evs)
			continue
		}
		if len(evs) != len(df.msgs) {
			t.Fatalf("frame %d: %d events for %d messages", i, len(evs), len(df.msgs))
		}
		for j, e := range evs {
			if e.Kind != protomux.EventMessage || e.Channel != channel[to] || e.Type != df.msgs[j].Type {
				t.Fatalf("frame %d: event %+v", i, e)
			}
			v, err := Decode(e.Type, e.Payload)
			if err != nil {
				t.Fatal(err)
			}
			if d, ok := v.(Data); ok && d.Block != nil {
				blocks = append(blocks, d.Block.Value)
			}
		}
		if out := receiver.AppendOutput(nil); len(out) != 0 {
			t.Fatalf("frame %d: %s answered on its own: %x", i, to, out)
		}
	}
	if len(blocks) != len(lt.BlocksRecv) {
		t.Fatalf("%d blocks received, want %d", len(blocks), len(lt.BlocksRecv))
	}
	for i, b := range blocks {
		if hex.EncodeToString(b) != lt.BlocksRecv[i] {
			t.Errorf("block %d = %x, want %s", i, b, lt.BlocksRecv[i])
		}
	}
}
