package wire

import (
	"reflect"
	"testing"

	"github.com/fieldsync/fieldsync/hypercore/hypercoretest"
	"github.com/fieldsync/fieldsync/hypercore/protomux"
)

// seedMessages adds every vector message of type typ and every payload of
// that type in the live transcript.
func seedMessages(f *testing.F, typ uint64) {
	v := loadVectors(f)
	for _, vm := range v.Wire.HypercoreMessages {
		if vm.MessageID != nil && *vm.MessageID == typ {
			f.Add(hypercoretest.Unhex(f, vm.Hex))
		}
	}
	for _, fr := range v.Wire.LiveTranscript.Frames {
		m, err := protomux.DecodeFrame(hypercoretest.Unhex(f, fr.Hex))
		if err != nil {
			f.Fatal(err)
		}
		msgs := []protomux.Message{m}
		if m.Channel == protomux.ControlChannel && m.Type == protomux.TypeBatch {
			if msgs, err = protomux.DecodeBatch(nil, m.Payload); err != nil {
				f.Fatal(err)
			}
		}
		for _, m := range msgs {
			if m.Channel != protomux.ControlChannel && m.Type == typ {
				f.Add(m.Payload)
			}
		}
	}
}

// fuzzMessage checks a decoder: it never panics; what it accepts encodes to
// bytes that decode to the same value.
func fuzzMessage(f *testing.F, typ uint64) {
	seedMessages(f, typ)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(typ, b)
		if err != nil {
			return
		}
		if m.MessageType() != typ {
			t.Fatalf("type %d decoded as %T", typ, m)
		}
		enc := Append(nil, m)
		m2, err := Decode(typ, enc)
		if err != nil {
			t.Fatalf("%#v encodes as %x, which does not decode: %v", m, enc, err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip changed %#v\ninto %#v", m, m2)
		}
		if enc2 := Append(nil, m2); string(enc2) != string(enc) {
			t.Fatalf("encoding is not stable: %x then %x", enc, enc2)
		}
	})
}

func FuzzDecodeSync(f *testing.F)      { fuzzMessage(f, TypeSync) }
func FuzzDecodeRequest(f *testing.F)   { fuzzMessage(f, TypeRequest) }
func FuzzDecodeCancel(f *testing.F)    { fuzzMessage(f, TypeCancel) }
func FuzzDecodeData(f *testing.F)      { fuzzMessage(f, TypeData) }
func FuzzDecodeNoData(f *testing.F)    { fuzzMessage(f, TypeNoData) }
func FuzzDecodeWant(f *testing.F)      { fuzzMessage(f, TypeWant) }
func FuzzDecodeUnwant(f *testing.F)    { fuzzMessage(f, TypeUnwant) }
func FuzzDecodeBitfield(f *testing.F)  { fuzzMessage(f, TypeBitfield) }
func FuzzDecodeRange(f *testing.F)     { fuzzMessage(f, TypeRange) }
func FuzzDecodeExtension(f *testing.F) { fuzzMessage(f, TypeExtension) }

func FuzzDecodeHandshake(f *testing.F) {
	for _, vm := range loadVectors(f).Wire.HypercoreMessages {
		if vm.Type == "handshake" {
			f.Add(hypercoretest.Unhex(f, vm.Hex))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := DecodeHandshake(b)
		if err != nil {
			return
		}
		if h2, err := DecodeHandshake(AppendHandshake(nil, h)); err != nil || h2 != h {
			t.Fatalf("round trip of %+v: %+v, %v", h, h2, err)
		}
	})
}
