package wire

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"reflect"
	"sync"
	"testing"

	"github.com/fieldsync/fieldsync/hypercore/hypercoretest"
)

// vectors is the part of ../testdata/hypercore-v11.json these tests use.
// Values stay raw JSON: they are compared with jsValue of what Go decodes.
type vectors struct {
	Wire struct {
		HypercoreMessages []struct {
			Type      string          `json:"type"`
			MessageID *uint64         `json:"protomux_message_id"`
			Value     json.RawMessage `json:"value"`
			Hex       string          `json:"hex"`
		} `json:"hypercore_messages"`
		LiveTranscript struct {
			CoreKey       string   `json:"core_key"`
			DiscoveryKey  string   `json:"discovery_key"`
			HandshakeHash string   `json:"handshake_hash"`
			BlocksRecv    []string `json:"blocks_received"`
			Frames        []struct {
				Dir     string          `json:"dir"`
				Hex     string          `json:"hex"`
				Decoded json.RawMessage `json:"decoded"`
			} `json:"frames"`
		} `json:"live_transcript"`
	} `json:"wire"`
}

var (
	vectorsOnce sync.Once
	vectorsVal  vectors
	vectorsErr  error
)

func loadVectors(t testing.TB) *vectors {
	t.Helper()
	path := hypercoretest.VectorFile(t)
	vectorsOnce.Do(func() {
		b, err := os.ReadFile(path)
		if err != nil {
			vectorsErr = err
			return
		}
		vectorsErr = json.Unmarshal(b, &vectorsVal)
	})
	if vectorsErr != nil {
		t.Fatal(vectorsErr)
	}
	if len(vectorsVal.Wire.HypercoreMessages) == 0 || len(vectorsVal.Wire.LiveTranscript.Frames) == 0 {
		t.Fatal("no wire vectors")
	}
	return &vectorsVal
}

// typeNames maps the vectors' message names to protomux types.
var typeNames = map[string]uint64{
	"sync": TypeSync, "request": TypeRequest, "cancel": TypeCancel, "data": TypeData, "noData": TypeNoData,
	"want": TypeWant, "unwant": TypeUnwant, "bitfield": TypeBitfield, "range": TypeRange, "extension": TypeExtension,
}

// jsHex is how the vectors write bytes: {"hex": "…"}; nil is null.
func jsHex(b []byte) any {
	if b == nil {
		return nil
	}
	return map[string]any{"hex": hex.EncodeToString(b)}
}

func jsNodes(ns []Node) any {
	out := []any{}
	for _, n := range ns {
		out = append(out, map[string]any{"index": n.Index, "size": n.Size, "hash": jsHex(n.Hash[:])})
	}
	return out
}

func jsManifest(m *Manifest) any {
	if m == nil {
		return nil
	}
	signers := []any{}
	for _, s := range m.Signers {
		signers = append(signers, map[string]any{"signature": "ed25519", "namespace": jsHex(s.Namespace[:]), "publicKey": jsHex(s.PublicKey[:])})
	}
	out := map[string]any{"version": m.Version, "hash": "blake2b", "allowPatch": m.AllowPatch, "quorum": m.Quorum,
		"signers": signers, "prologue": nil, "linked": nil, "userData": nil}
	if m.Prologue != nil {
		out["prologue"] = map[string]any{"hash": jsHex(m.Prologue.Hash[:]), "length": m.Prologue.Length}
	}
	if m.Linked != nil {
		var l []any
		for _, h := range m.Linked {
			l = append(l, jsHex(h[:]))
		}
		out["linked"] = l
	}
	if m.UserData != nil {
		out["userData"] = jsHex(m.UserData)
	}
	return out
}

// jsValue renders a decoded message the way the JS decoder's object is
// written in the vectors.
func jsValue(m any) any {
	switch m := m.(type) {
	case Handshake:
		return map[string]any{"seeks": m.Seeks, "capability": jsHex(m.Capability[:])}
	case Sync:
		return map[string]any{"fork": m.Fork, "length": m.Length, "remoteLength": m.RemoteLength, "canUpgrade": m.CanUpgrade,
			"uploading": m.Uploading, "downloading": m.Downloading, "hasManifest": m.HasManifest, "allowPush": m.AllowPush}
	case Request:
		out := map[string]any{"id": m.ID, "fork": m.Fork, "block": nil, "hash": nil, "seek": nil, "upgrade": nil,
			"manifest": m.Manifest, "priority": m.Priority}
		if m.Block != nil {
			out["block"] = map[string]any{"index": m.Block.Index, "nodes": m.Block.Nodes}
		}
		if m.Hash != nil {
			out["hash"] = map[string]any{"index": m.Hash.Index, "nodes": m.Hash.Nodes}
		}
		if m.Seek != nil {
			out["seek"] = map[string]any{"bytes": m.Seek.Bytes, "padding": m.Seek.Padding}
		}
		if m.Upgrade != nil {
			out["upgrade"] = map[string]any{"start": m.Upgrade.Start, "length": m.Upgrade.Length}
		}
		return out
	case Cancel:
		return map[string]any{"request": m.Request}
	case Data:
		out := map[string]any{"request": m.Request, "fork": m.Fork, "block": nil, "hash": nil, "seek": nil, "upgrade": nil,
			"manifest": jsManifest(m.Manifest)}
		if b := m.Block; b != nil {
			v := b.Value
			if v == nil {
				v = []byte{}
			}
			out["block"] = map[string]any{"index": b.Index, "value": jsHex(v), "nodes": jsNodes(b.Nodes)}
		}
		if h := m.Hash; h != nil {
			out["hash"] = map[string]any{"index": h.Index, "nodes": jsNodes(h.Nodes)}
		}
		if s := m.Seek; s != nil {
			out["seek"] = map[string]any{"bytes": s.Bytes, "nodes": jsNodes(s.Nodes)}
		}
		if u := m.Upgrade; u != nil {
			out["upgrade"] = map[string]any{"start": u.Start, "length": u.Length, "nodes": jsNodes(u.Nodes),
				"additionalNodes": jsNodes(u.AdditionalNodes), "signature": jsHex(u.Signature)}
		}
		return out
	case NoData:
		return map[string]any{"request": m.Request, "reason": m.Reason}
	case Want:
		return map[string]any{"start": m.Start, "length": m.Length, "any": m.Any}
	case Unwant:
		return jsValue(Want(m))
	case Bitfield:
		words := []any{}
		for _, w := range m.Words {
			words = append(words, w)
		}
		return map[string]any{"start": m.Start, "bitfield": words}
	case Range:
		return map[string]any{"drop": m.Drop, "start": m.Start, "length": m.Length}
	case Extension:
		msg := m.Message
		if msg == nil {
			msg = []byte{}
		}
		return map[string]any{"name": m.Name, "message": jsHex(msg)}
	}
	panic("jsValue of unknown type")
}

// normJSON turns a value into the generic form json.Unmarshal gives (with
// numbers kept exact), so that two renderings compare with DeepEqual.
func normJSON(t testing.TB, v any) any {
	t.Helper()
	raw, ok := v.(json.RawMessage)
	if !ok {
		var err error
		if raw, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var out any
	if err := d.Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

func sameJSON(t testing.TB, got any, want json.RawMessage) bool {
	t.Helper()
	return reflect.DeepEqual(normJSON(t, got), normJSON(t, want))
}

// TestVectorMessages decodes every message of wire.hypercore_messages,
// compares it field by field with the value JS decoded, and re-encodes it
// byte for byte.
func TestVectorMessages(t *testing.T) {
	v := loadVectors(t)
	seen := map[string]int{}
	for i, vm := range v.Wire.HypercoreMessages {
		seen[vm.Type]++
		b := hypercoretest.Unhex(t, vm.Hex)
		var got any
		var enc []byte
		if vm.Type == "handshake" {
			if vm.MessageID != nil {
				t.Fatalf("handshake %d has a message id", i)
			}
			h, err := DecodeHandshake(b)
			if err != nil {
				t.Fatalf("handshake %d: %v", i, err)
			}
			got, enc = h, AppendHandshake(nil, h)
		} else {
			typ, ok := typeNames[vm.Type]
			if !ok || vm.MessageID == nil || *vm.MessageID != typ {
				t.Fatalf("vector %d: type %q with protomux id %v", i, vm.Type, vm.MessageID)
			}
			m, err := Decode(typ, b)
			if err != nil {
				t.Fatalf("%s %d (%s): %v", vm.Type, i, vm.Hex, err)
			}
			if m.MessageType() != typ {
				t.Fatalf("%s decoded as type %d", vm.Type, m.MessageType())
			}
			got, enc = m, Append(nil, m)
		}
		if !sameJSON(t, jsValue(got), vm.Value) {
			gotJSON, _ := json.Marshal(jsValue(got))
			t.Errorf("%s %d: decoded %s\nJS decoded %s", vm.Type, i, gotJSON, vm.Value)
		}
		if !bytes.Equal(enc, b) {
			t.Errorf("%s %d: encoded %x\nJS         %x", vm.Type, i, enc, b)
		}
	}
	for name := range typeNames {
		if seen[name] == 0 {
			t.Errorf("no vector for %s", name)
		}
	}
	if seen["handshake"] == 0 {
		t.Error("no handshake vector")
	}
}
