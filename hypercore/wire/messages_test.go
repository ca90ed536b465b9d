package wire

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

func fill(b byte) (h [32]byte) {
	for i := range h {
		h[i] = b
	}
	return h
}

func hash(t testing.TB, s string) (h [32]byte) {
	copy(h[:], hypercoretest.Unhex(t, s))
	return h
}

// pinned is every message of the vectors as a Go value next to its JS
// bytes (tailscale TestMarshalAndParse style).
func pinned(t testing.TB) []struct {
	name string
	m    Message
	hex  string
} {
	return []struct {
		name string
		m    Message
		hex  string
	}{
		{"sync", Sync{Length: 5, CanUpgrade: true, Uploading: true, Downloading: true, HasManifest: true}, "0f000500"},
		{"sync-big", Sync{Fork: 2, Length: 70000, RemoteLength: 300, Uploading: true, AllowPush: true}, "1202fe70110100fd2c01"},
		{"request-block", Request{ID: 1, ProofRequest: ProofRequest{Block: &BlockRequest{Index: 3, Nodes: 2}}}, "0101000302"},
		{"request-block-upgrade-manifest", Request{ID: 2, ProofRequest: ProofRequest{Block: &BlockRequest{}, Upgrade: &UpgradeRequest{Length: 5}, Manifest: true}}, "19020000000005"},
		{"request-hash-priority", Request{ID: 3, ProofRequest: ProofRequest{Fork: 1, Hash: &HashRequest{Index: 7, Nodes: 1}, Priority: 2}}, "220301070102"},
		{"request-seek-upgrade", Request{ID: 4, ProofRequest: ProofRequest{Seek: &SeekRequest{Bytes: 1000}, Upgrade: &UpgradeRequest{Start: 2, Length: 31}}}, "0c0400fde80300021f"},
		{"cancel", Cancel{Request: 4}, "04"},
		{"data-block-upgrade", Data{Request: 9, Proof: Proof{
			Block:   &BlockProof{Index: 1, Value: []byte("hi"), Nodes: []Node{{Index: 0, Size: 1, Hash: fill(1)}}},
			Upgrade: &UpgradeProof{Length: 2, Nodes: []Node{{Index: 1, Size: 3, Hash: fill(2)}}, AdditionalNodes: []Node{}, Signature: bytes.Repeat([]byte{3}, 68)},
		}}, "0909000102686901000101010101010101010101010101010101010101010101010101010101010101010002010103020202020202020202020202020202020202020202020202020202020202020200440303030303030303030303030303030303030303030303030303030303030303030303030303030303030303030303030303030303030303030303030303030303030303"},
		{"data-manifest", Data{Request: 10, Proof: Proof{Manifest: &Manifest{Version: 1, Quorum: 1, Signers: []Signer{{
			Namespace: hash(t, "4144eea531e483d54e0c14f4ca68e0644f355343ff6fcb0f005200e12cd747cb"),
			PublicKey: hash(t, "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c"),
		}}}}}, "100a000100000101004144eea531e483d54e0c14f4ca68e0644f355343ff6fcb0f005200e12cd747cb8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c"},
		{"noData", NoData{Request: 5}, "0500"},
		{"noData-not-available", NoData{Request: 5, Reason: ReasonNotAvailable}, "050101"},
		{"noData-invalid", NoData{Request: 6, Reason: ReasonInvalidRequest}, "060102"},
		{"want", Want{Length: 1024}, "00fd0004"},
		{"want-any", Want{Length: 1024, Any: true}, "00fd000401"},
		{"unwant", Unwant{Start: 1024, Length: 1024}, "fd0004fd0004"},
		{"bitfield", Bitfield{Words: []uint32{0xffffffff, 1}}, "0002ffffffff01000000"},
		{"range", Range{Length: 33}, "000021"},
		{"range-one", Range{Start: 7, Length: 1}, "0207"},
		{"range-drop", Range{Drop: true, Start: 3, Length: 2}, "010302"},
		{"extension", Extension{Name: "my-ext", Message: []byte("payload")}, "066d792d6578747061796c6f6164"},
		{"extension-same-name", Extension{Message: []byte("again")}, "00616761696e"},
	}
}

func TestMarshalAndParse(t *testing.T) {
	for _, tt := range pinned(t) {
		t.Run(tt.name, func(t *testing.T) {
			want := hypercoretest.Unhex(t, tt.hex)
			if got := Append(nil, tt.m); !bytes.Equal(got, want) {
				t.Fatalf("Append = %x\nwant     %x", got, want)
			}
			if got := Append([]byte{0xee}, tt.m); !bytes.Equal(got[1:], want) || got[0] != 0xee {
				t.Fatal("Append does not append")
			}
			got, err := Decode(tt.m.MessageType(), want)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.m) {
				t.Fatalf("Decode = %#v\nwant     %#v", got, tt.m)
			}
			// The pointer form encodes the same.
			ptr := reflect.New(reflect.TypeOf(tt.m))
			ptr.Elem().Set(reflect.ValueOf(tt.m))
			if got := Append(nil, ptr.Interface().(Message)); !bytes.Equal(got, want) {
				t.Fatalf("Append(&m) = %x", got)
			}
		})
	}
}

// Every vector message is in the pinned table, so the table is the JS
// bytes and nothing else.
func TestPinnedTableIsTheVectors(t *testing.T) {
	table := map[string]bool{}
	for _, tt := range pinned(t) {
		table[tt.hex] = true
	}
	n := 0
	for _, vm := range loadVectors(t).Wire.HypercoreMessages {
		if vm.Type == "handshake" {
			continue
		}
		n++
		if !table[vm.Hex] {
			t.Errorf("vector %s %s is not in the pinned table", vm.Type, vm.Hex)
		}
	}
	if n != len(table) {
		t.Errorf("%d vectors, %d pinned messages", n, len(table))
	}
}

func TestHandshake(t *testing.T) {
	for _, tt := range []struct {
		h   Handshake
		hex string
	}{
		{Handshake{Seeks: true, Capability: fill(0xaa)}, "01" + strings.Repeat("aa", 32)},
		{Handshake{Capability: fill(0xbb)}, "00" + strings.Repeat("bb", 32)},
	} {
		b := hypercoretest.Unhex(t, tt.hex)
		if got := AppendHandshake(nil, tt.h); !bytes.Equal(got, b) {
			t.Errorf("AppendHandshake = %x, want %s", got, tt.hex)
		}
		if got, err := DecodeHandshake(b); err != nil || got != tt.h {
			t.Errorf("DecodeHandshake = %+v, %v", got, err)
		}
	}
	// Unknown flag bits and trailing bytes are ignored, as in JS.
	if got, err := DecodeHandshake(hypercoretest.Unhex(t, "fd0300"+strings.Repeat("cc", 32)+"0102")); err != nil || !got.Seeks || got.Capability != fill(0xcc) {
		t.Errorf("long-form flags: %+v, %v", got, err)
	}
	for k := range 33 {
		if _, err := DecodeHandshake(hypercoretest.Unhex(t, "01"+strings.Repeat("aa", 32))[:k]); !errors.Is(err, ErrMalformed) {
			t.Errorf("handshake cut at %d: %v", k, err)
		}
	}
}

// Decoding cases beyond the vectors, JS behaviour each.
func TestDecodeCases(t *testing.T) {
	for _, tt := range []struct {
		name string
		typ  uint64
		hex  string
		want Message // nil: must fail
	}{
		{"noData without flags (older JS)", TypeNoData, "05", NoData{Request: 5}},
		{"noData flags without reason bit", TypeNoData, "050402", NoData{Request: 5}},
		{"noData reason missing", TypeNoData, "0501", nil},
		{"want with unknown flag bits", TypeWant, "0001f0", Want{Length: 1}},
		{"want flags read from trailing byte", TypeWant, "000103", Want{Length: 1, Any: true}},
		{"range length-one flag wins", TypeRange, "0605", Range{Start: 5, Length: 1}},
		{"range of length zero", TypeRange, "000700", Range{Start: 7}},
		{"range without length", TypeRange, "0007", nil},
		{"sync unknown flags", TypeSync, "e0010203", Sync{Fork: 1, Length: 2, RemoteLength: 3}},
		{"sync long-form varints", TypeSync, "ff0000000000000000fd0100fe0200000003", Sync{Fork: 1, Length: 2, RemoteLength: 3}},
		{"bitfield empty", TypeBitfield, "2000", Bitfield{Start: 32}},
		{"bitfield short", TypeBitfield, "000201000000020000", nil},
		{"extension empty", TypeExtension, "00", Extension{}},
		{"extension name cut", TypeExtension, "0361", nil},
		{"request unknown flags", TypeRequest, "c00501", Request{ID: 5, ProofRequest: ProofRequest{Fork: 1}}},
		{"request trailing bytes", TypeRequest, "0005010102ffff", Request{ID: 5, ProofRequest: ProofRequest{Fork: 1}}},
		{"data trailing bytes", TypeData, "000100aabb", Data{Request: 1}},
		{"data with empty block", TypeData, "010100070000", Data{Request: 1, Proof: Proof{Block: &BlockProof{Index: 7, Nodes: []Node{}}}}},
		{"data unknown manifest version", TypeData, "10010004", nil},
		{"data v0 manifest unknown layout", TypeData, "1001000000030000", nil},
		{"cancel empty", TypeCancel, "", nil},
		{"cancel of 2^53-1 (largest JS uint)", TypeCancel, "ffffffffffffff1f00", Cancel{Request: MaxUint}},
		{"cancel of 2^53 (JS refuses)", TypeCancel, "ff0000000000002000", nil},
		{"sync length of 2^64-1", TypeSync, "0000ffffffffffffffffff00", nil},
		{"request id of 2^53", TypeRequest, "00ff000000000000200000", nil},
		{"request block index of 2^53", TypeRequest, "010100ff000000000000200000", nil},
		{"data node size of 2^53", TypeData, "02010000" + "01" + "00ff0000000000002000" + strings.Repeat("00", 32), nil},
		{"data manifest quorum of 2^53", TypeData, "1001000100" + "00ff0000000000002000", nil},
		{"range start of 2^53", TypeRange, "02ff0000000000002000", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(tt.typ, hypercoretest.Unhex(t, tt.hex))
			if tt.want == nil {
				if err == nil {
					t.Fatalf("decoded %#v, want an error", got)
				}
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("error %v does not wrap ErrMalformed", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("decoded %#v\nwant    %#v", got, tt.want)
			}
		})
	}
	if _, err := Decode(NumTypes, []byte{0}); !errors.Is(err, ErrUnknownType) {
		t.Fatalf("type %d: %v", NumTypes, err)
	}
}

// optionalTail reports whether a message of type typ may legitimately be
// cut short: want/unwant lose their optional flags, noData its flags, an
// extension its raw message.
func optionalTail(typ uint64) bool {
	return typ == TypeWant || typ == TypeUnwant || typ == TypeNoData || typ == TypeExtension
}

// Every truncation of every vector message fails cleanly: an error that
// wraps ErrMalformed, except where JS too accepts the shorter message
// (optional trailing fields), and then it decodes to what those bytes say.
func TestVectorTruncations(t *testing.T) {
	for _, tt := range pinned(t) {
		b := hypercoretest.Unhex(t, tt.hex)
		typ := tt.m.MessageType()
		for k := range len(b) {
			m, err := Decode(typ, b[:k])
			if err != nil {
				if !errors.Is(err, ErrMalformed) {
					t.Errorf("%s[:%d]: %v does not wrap ErrMalformed", tt.name, k, err)
				}
				continue
			}
			if !optionalTail(typ) {
				t.Errorf("%s[:%d] decoded to %#v", tt.name, k, m)
				continue
			}
			if typ != TypeNoData {
				if enc := Append(nil, m); !bytes.Equal(enc, b[:k]) {
					t.Errorf("%s[:%d] decoded to %#v, which encodes as %x", tt.name, k, m, enc)
				}
			} else if k != 1 {
				t.Errorf("%s[:%d] decoded to %#v", tt.name, k, m)
			}
		}
	}
}

// Trailing bytes inside a frame are ignored, as the JS decoders do, for
// every message whose last field is complete. (An extension's message is
// raw: it runs to the end. A want without flags reads a following byte as
// its flags: JS does the same.)
func TestTrailingBytesIgnored(t *testing.T) {
	for _, tt := range pinned(t) {
		typ := tt.m.MessageType()
		if typ == TypeExtension || ((typ == TypeWant || typ == TypeUnwant) && !reflect.ValueOf(tt.m).FieldByName("Any").Bool()) {
			continue
		}
		b := append(hypercoretest.Unhex(t, tt.hex), 0xff, 0x00, 0x01)
		got, err := Decode(typ, b)
		if err != nil {
			t.Errorf("%s with trailing bytes: %v", tt.name, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.m) {
			t.Errorf("%s with trailing bytes decoded to %#v", tt.name, got)
		}
	}
}

// Counts and lengths that claim more than the message holds are refused
// before anything is allocated for them.
func TestHostileCounts(t *testing.T) {
	u := func(b []byte, vs ...uint64) []byte {
		for _, v := range vs {
			b = cenc.AppendUint(b, v)
		}
		return b
	}
	const hundredMB = 100 << 20
	node := append([]byte{2, 1}, make([]byte, 32)...)
	manyNodes := u(nil, 1, 1, 0, 0, 0, cenc.MaxArray+1) // data{block{0, "", nodes: 2^20+1 …}}
	manyNodes = append(manyNodes, bytes.Repeat(node, cenc.MaxArray+1)...)
	cases := []struct {
		name string
		typ  uint64
		b    []byte
	}{
		{"node array of 2^20+1, all present", TypeData, manyNodes},
		{"node array of 2^20+1", TypeData, u(nil, 1, 1, 0, 0, 0, cenc.MaxArray+1)},
		{"node array of 2^64-1", TypeData, u(nil, 2, 1, 0, 0, 1<<64-1)},
		{"additional nodes of 2^40", TypeData, u(nil, 8, 1, 0, 0, 5, 0, 1<<40)},
		{"block value of 100 MB", TypeData, append(u(nil, 1, 1, 0, 3, hundredMB), "short"...)},
		{"signature of 100 MB", TypeData, u(nil, 8, 1, 0, 0, 5, 0, 0, hundredMB)},
		{"manifest signers of 2^20", TypeData, u(nil, 16, 1, 0, 1, 0, 0, 1, 1<<20)},
		{"manifest linked of 2^32", TypeData, u(nil, 16, 1, 0, 1, 4, 0, 1, 0, 1<<32)},
		{"manifest user data of 100 MB", TypeData, u(nil, 16, 1, 0, 1, 8, 0, 1, 0, hundredMB)},
		{"bitfield of 2^62 words", TypeBitfield, u(nil, 0, 1<<62, 0, 0, 0, 0)},
		{"bitfield of 2^64-1 words", TypeBitfield, u(nil, 0, 1<<64-1)},
		{"bitfield of 100 MB of words", TypeBitfield, u(nil, 0, hundredMB/4)},
		{"extension name of 100 MB", TypeExtension, append(u(nil, hundredMB), "x"...)},
		{"request with 100 MB id", TypeRequest, u(nil, 1, hundredMB)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			n := hypercoretest.AllocDuring(10, func() { _, err = Decode(tc.typ, tc.b) })
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v, want ErrMalformed", err)
			}
			if n > 10*8192 {
				t.Fatalf("allocated %d bytes in 10 decodes", n)
			}
		})
	}
	if _, err := Decode(TypeData, manyNodes); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("2^20+1 nodes refused for the wrong reason: %v", err)
	}
}

func ExampleDecode() {
	m, err := Decode(TypeRange, []byte{0x00, 0x00, 0x21})
	fmt.Printf("%#v %v\n", m, err)
	// Output: wire.Range{Drop:false, Start:0x0, Length:0x21} <nil>
}
