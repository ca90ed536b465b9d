package protomux

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/hypercore/hypercoretest"
	"github.com/fieldsync/fieldsync/hypercore/internal/cenc"
)

// capturedVectors is wire.protomux of ../testdata/hypercore-v11.json:
// frames captured from the JS protomux.
type capturedVectors struct {
	DiscoveryKey string `json:"discovery_key"`
	Captured     []struct {
		What   string   `json:"what"`
		Frames []string `json:"frames"`
	} `json:"captured"`
}

func loadCaptured(t testing.TB) capturedVectors {
	t.Helper()
	var v struct {
		Wire struct {
			Protomux capturedVectors `json:"protomux"`
		} `json:"wire"`
	}
	hypercoretest.LoadVectors(t, &v)
	if len(v.Wire.Protomux.Captured) == 0 {
		t.Fatal("no captured protomux frames in the vectors")
	}
	return v.Wire.Protomux
}

// item is a fully decoded message of a frame: control payloads decoded.
type item struct {
	Channel, Type uint64
	Open          *Open
	ID            uint64 // reject / close
	Payload       []byte // channel messages and unknown control types
}

// decodeAll decodes a frame down to its control payloads, batches
// flattened. It is the decoder under test in the vector, truncation and
// fuzz tests.
func decodeAll(frame []byte) (batch bool, items []item, err error) {
	m, err := DecodeFrame(frame)
	if err != nil {
		return false, nil, err
	}
	msgs := []Message{m}
	if m.Channel == ControlChannel && m.Type == TypeBatch {
		batch = true
		if msgs, err = DecodeBatch(nil, m.Payload); err != nil {
			return true, nil, err
		}
	}
	for _, m := range msgs {
		it := item{Channel: m.Channel, Type: m.Type}
		switch {
		case m.Channel != ControlChannel:
			it.Payload = m.Payload
		case m.Type == TypeOpen:
			o, err := DecodeOpen(m.Payload)
			if err != nil {
				return batch, nil, err
			}
			it.Open = &o
		case m.Type == TypeReject:
			if it.ID, err = DecodeReject(m.Payload); err != nil {
				return batch, nil, err
			}
		case m.Type == TypeClose:
			if it.ID, err = DecodeClose(m.Payload); err != nil {
				return batch, nil, err
			}
		default:
			it.Payload = m.Payload
		}
		items = append(items, it)
	}
	return batch, items, nil
}

// encodeAll is the inverse of decodeAll.
func encodeAll(batch bool, items []item) []byte {
	payload := func(it item) []byte {
		switch {
		case it.Channel != ControlChannel:
			return it.Payload
		case it.Type == TypeOpen:
			return AppendOpen(nil, *it.Open)
		case it.Type == TypeReject:
			return AppendReject(nil, it.ID)
		case it.Type == TypeClose:
			return AppendClose(nil, it.ID)
		}
		return it.Payload
	}
	if !batch {
		return AppendFrame(nil, items[0].Channel, items[0].Type, payload(items[0]))
	}
	var w Batch
	for _, it := range items {
		w.Add(it.Channel, it.Type, payload(it))
	}
	return w.Frame()
}

func TestCapturedFrames(t *testing.T) {
	v := loadCaptured(t)
	dk := hypercoretest.Unhex(t, v.DiscoveryKey)
	aa := bytes.Repeat([]byte{0xaa}, 32)
	want := []struct {
		what  string
		batch bool
		items []item
	}{
		{"channel open", false, []item{{Channel: 0, Type: TypeOpen, Open: &Open{Channel: 1, Protocol: "hypercore/alpha", ID: dk, Handshake: append([]byte{1}, aa...)}}}},
		{"sync message", false, []item{{Channel: 1, Type: 0, Payload: hypercoretest.Unhex(t, "0f000500")}}},
		{"request message", false, []item{{Channel: 1, Type: 1, Payload: hypercoretest.Unhex(t, "0101000302")}}},
		{"corked batch: sync + range + want", true, []item{
			{Channel: 1, Type: 0, Payload: hypercoretest.Unhex(t, "0f000500")},
			{Channel: 1, Type: 8, Payload: hypercoretest.Unhex(t, "000005")},
			{Channel: 1, Type: 5, Payload: hypercoretest.Unhex(t, "00fd0004")},
		}},
		{"corked batch spanning channels", true, []item{
			{Channel: 0, Type: TypeOpen, Open: &Open{Channel: 2, Protocol: "example/other"}},
			{Channel: 1, Type: 2, Payload: hypercoretest.Unhex(t, "01")},
			{Channel: 2, Type: 0, Payload: hypercoretest.Unhex(t, "026869")},
		}},
		{"channel close", false, []item{{Channel: 0, Type: TypeClose, ID: 1}}},
	}
	if len(v.Captured) != len(want) {
		t.Fatalf("vectors hold %d captured cases, the test knows %d", len(v.Captured), len(want))
	}
	for i, c := range v.Captured {
		w := want[i]
		t.Run(w.what, func(t *testing.T) {
			if !strings.HasPrefix(c.What, w.what[:10]) {
				t.Fatalf("vector %d is %q, test expects %q", i, c.What, w.what)
			}
			if len(c.Frames) != 1 {
				t.Fatalf("%d frames", len(c.Frames))
			}
			frame := hypercoretest.Unhex(t, c.Frames[0])
			batch, items, err := decodeAll(frame)
			if err != nil {
				t.Fatal(err)
			}
			if batch != w.batch || !reflect.DeepEqual(items, w.items) {
				t.Fatalf("decoded batch=%v %s\nwant batch=%v %s", batch, fmtItems(items), w.batch, fmtItems(w.items))
			}
			if got := encodeAll(w.batch, w.items); !bytes.Equal(got, frame) {
				t.Fatalf("encoded %x\nwant    %x", got, frame)
			}
		})
	}
}

func fmtItems(items []item) string {
	var sb strings.Builder
	for _, it := range items {
		fmt.Fprintf(&sb, "{ch %d type %d", it.Channel, it.Type)
		if it.Open != nil {
			fmt.Fprintf(&sb, " open %+v", *it.Open)
		}
		fmt.Fprintf(&sb, " id %d payload %x} ", it.ID, it.Payload)
	}
	return sb.String()
}

// Every truncation of every captured frame decodes without panicking, and
// when it decodes, it is what the full frame says up to the cut: whole
// items are equal, and only a raw tail (a channel message's payload or an
// open's handshake) may be shorter.
func TestCapturedFrameTruncations(t *testing.T) {
	v := loadCaptured(t)
	for _, c := range v.Captured {
		frame := hypercoretest.Unhex(t, c.Frames[0])
		_, full, err := decodeAll(frame)
		if err != nil {
			t.Fatal(err)
		}
		for k := 0; k < len(frame); k++ {
			_, items, err := decodeAll(frame[:k])
			if err != nil {
				if !errors.Is(err, ErrMalformed) {
					t.Errorf("%s[:%d]: error %v does not wrap ErrMalformed", c.What, k, err)
				}
				continue
			}
			if len(items) > len(full) {
				t.Fatalf("%s[:%d]: %d items, full frame has %d", c.What, k, len(items), len(full))
			}
			for i, it := range items {
				f := full[i]
				if i == len(items)-1 {
					if !bytes.HasPrefix(f.Payload, it.Payload) {
						t.Errorf("%s[:%d]: payload %x is not a prefix of %x", c.What, k, it.Payload, f.Payload)
					}
					it.Payload = f.Payload
					if it.Open != nil && f.Open != nil {
						o := *it.Open
						if !bytes.HasPrefix(f.Open.Handshake, o.Handshake) {
							t.Errorf("%s[:%d]: handshake %x is not a prefix of %x", c.What, k, o.Handshake, f.Open.Handshake)
						}
						o.Handshake = f.Open.Handshake
						it.Open = &o
					}
				}
				if !reflect.DeepEqual(it, f) {
					t.Errorf("%s[:%d]: item %d = %s, full frame says %s", c.What, k, i, fmtItems([]item{it}), fmtItems([]item{f}))
				}
			}
		}
	}
}

func TestDecodeFrameCases(t *testing.T) {
	for _, tc := range []struct {
		name    string
		hex     string
		ok      bool
		batch   bool
		items   []item
		wantErr string
	}{
		{name: "empty", hex: "", wantErr: "empty frame"},
		{name: "channel only", hex: "01"},
		{name: "type varint cut", hex: "01fd00"},
		{name: "long-form varints accepted", hex: "fd0100fe00000000ff", ok: true, items: []item{{Channel: 1, Type: 0, Payload: hypercoretest.Unhex(t, "ff")}}},
		{name: "channel 2^53-1 (largest JS uint)", hex: "ffffffffffffff1f000001", ok: true, items: []item{{Channel: MaxUint, Type: 0, Payload: []byte{1}}}},
		{name: "channel 2^53 (JS refuses)", hex: "ff00000000000020000001", wantErr: "exceeds 2^53-1"},
		{name: "type 2^64-1", hex: "01ffffffffffffffffff", wantErr: "exceeds 2^53-1"},
		{name: "close of 2^53", hex: "0003ff0000000000002000", wantErr: "exceeds 2^53-1"},
		{name: "batch switch to 2^53", hex: "00000100ff0000000000002000", wantErr: "exceeds 2^53-1"},
		{name: "message with empty payload", hex: "0500", ok: true, items: []item{{Channel: 5, Type: 0}}},
		{name: "unknown control type kept raw", hex: "0009abcd", ok: true, items: []item{{Channel: 0, Type: 9, Payload: hypercoretest.Unhex(t, "abcd")}}},
		{name: "close trailing bytes ignored", hex: "00030199", ok: true, items: []item{{Type: TypeClose, ID: 1}}},
		{name: "reject", hex: "0002fd0001", ok: true, items: []item{{Type: TypeReject, ID: 256}}},
		{name: "close without id", hex: "0003"},
		{name: "open without protocol", hex: "000101"},
		{name: "open, protocol longer than frame", hex: "0001010568797065"},
		{name: "open without id field", hex: "0001010161"},
		{name: "open, empty id is absent", hex: "000101016100", ok: true, items: []item{{Type: TypeOpen, Open: &Open{Channel: 1, Protocol: "a"}}}},
		{name: "open with id and handshake", hex: "0001030161020102ff", ok: true, items: []item{{Type: TypeOpen, Open: &Open{Channel: 3, Protocol: "a", ID: []byte{1, 2}, Handshake: []byte{0xff}}}}},
		{name: "batch without first channel", hex: "0000", batch: true},
		{name: "empty batch", hex: "000001", ok: true, batch: true},
		{name: "batch ending in a channel switch", hex: "00000102000100 07", ok: true, batch: true, items: []item{{Channel: 1, Type: 0, Payload: []byte{1}}}},
		{name: "batch switch without channel", hex: "0000010200010 0"},
		{name: "batch item longer than batch", hex: "000001050001"},
		{name: "batch item type cut", hex: "00000101fd"},
		{name: "batch with control items", hex: "000000 020302 020202 0001 0100", ok: true, batch: true, items: []item{
			{Type: TypeClose, ID: 2}, {Type: TypeReject, ID: 2}, {Channel: 1, Type: 0}}},
		{name: "batch inside a batch", hex: "000000030000 01", wantErr: "batch inside a batch"},
		{name: "batch: bad control payload", hex: "0000000103"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := hypercoretest.Unhex(t, tc.hex)
			batch, items, err := decodeAll(b)
			if !tc.ok {
				if err == nil {
					t.Fatalf("decoded %s, want an error", fmtItems(items))
				}
				if !errors.Is(err, ErrMalformed) {
					t.Errorf("error %v does not wrap ErrMalformed", err)
				}
				if tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("error %q, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if batch != tc.batch || !reflect.DeepEqual(items, tc.items) {
				t.Fatalf("decoded batch=%v %s, want batch=%v %s", batch, fmtItems(items), tc.batch, fmtItems(tc.items))
			}
		})
	}
}

func TestBatchBuilder(t *testing.T) {
	var w Batch
	if w.Frame() != nil || w.Size() != 0 {
		t.Fatal("empty batch has a frame")
	}
	adds := []Message{{1, 0, []byte{1, 2}}, {1, 1, nil}, {0, TypeClose, []byte{1}}, {300, 7, bytes.Repeat([]byte{9}, 300)}, {300, 0, nil}}
	for i, a := range adds {
		want := w.SizeAfter(a.Channel, a.Type, len(a.Payload))
		w.Add(a.Channel, a.Type, a.Payload)
		if w.Size() != want || len(w.Frame()) != want {
			t.Fatalf("after add %d: size %d, SizeAfter said %d", i, w.Size(), want)
		}
	}
	got, err := DecodeBatch(nil, w.Frame()[2:])
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(adds) {
		t.Fatalf("%d messages back, want %d", len(got), len(adds))
	}
	for i := range adds {
		if got[i].Channel != adds[i].Channel || got[i].Type != adds[i].Type || !bytes.Equal(got[i].Payload, adds[i].Payload) {
			t.Errorf("message %d = %+v, want %+v", i, got[i], adds[i])
		}
	}
	w.Reset()
	if w.Count() != 0 || w.Frame() != nil {
		t.Fatal("Reset left messages")
	}
}

// Lengths and counts that claim far more than the frame holds are refused
// before anything is allocated for them.
func TestHostileLengths(t *testing.T) {
	big := func(prefix []byte, n uint64) []byte { return cenc.AppendUint(append([]byte(nil), prefix...), n) }
	const hundredMB = 100 << 20
	cases := map[string][]byte{
		"open protocol of 100 MB":  append(big([]byte{0, 1, 1}, hundredMB), "hyper"...),
		"open id of 100 MB":        append(big([]byte{0, 1, 1, 1, 'a'}, hundredMB), 1, 2, 3),
		"open protocol of 2^64-1":  big([]byte{0, 1, 1}, 1<<64-1),
		"batch item of 100 MB":     append(big([]byte{0, 0, 1}, hundredMB), 0, 1, 2),
		"batch item of 2^64-1":     append(big([]byte{0, 0, 1}, 1<<64-1), 0, 1, 2),
		"batch item of 2^63":       append(big([]byte{0, 0, 1}, 1<<63), 0, 1, 2),
		"batch switch to 2^64-1 +": append(big([]byte{0, 0, 1, 0}, 1<<64-1), 0x40),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			var err error
			n := hypercoretest.AllocDuring(100, func() { _, _, err = decodeAll(b) })
			if err == nil {
				t.Fatal("decoded")
			}
			if n > 100*4096 {
				t.Fatalf("allocated %d bytes for 100 decodes", n)
			}
			m := New(Config{})
			m.Pair("hyper", nil)
			if err := feed(m, b); err == nil {
				t.Fatal("Mux accepted it")
			}
		})
	}
}
