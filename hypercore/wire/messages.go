package wire

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/fieldsync/fieldsync/hypercore/internal/cenc"
)

// Protocol is the protomux protocol name of a Hypercore replication
// channel; ProtocolAlias is also accepted from the remote. The channel id
// is the core's discovery key.
const (
	Protocol      = "hypercore/alpha"
	ProtocolAlias = "hypercore"
)

// Message types: the protomux message type of each message on the
// channel (its position in the JS replicator's message list).
const (
	TypeSync      = 0
	TypeRequest   = 1
	TypeCancel    = 2
	TypeData      = 3
	TypeNoData    = 4
	TypeWant      = 5
	TypeUnwant    = 6
	TypeBitfield  = 7
	TypeRange     = 8
	TypeExtension = 9

	NumTypes = 10
)

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("wire: malformed message")

// ErrUnknownType is returned by Decode for a type it does not know. JS
// ignores such messages; so should the caller.
var ErrUnknownType = errors.New("wire: unknown message type")

func decodeErr(what string, err error) error {
	return fmt.Errorf("%s: %v: %w", what, err, ErrMalformed)
}

// Message is one of the ten message structs of this package.
type Message interface {
	// MessageType is the protomux message type of the message.
	MessageType() uint64
	isMessage()
}

// Handshake is the payload of the channel's protomux open message:
// uint flags (bit 0: seeks) ‖ capability (32 bytes). JS always sends
// Seeks = true. Capability is hypercore.ReplicationCapability of the
// sender.
type Handshake struct {
	Seeks      bool
	Capability [32]byte
}

// AppendHandshake appends the encoding of h.
func AppendHandshake(b []byte, h Handshake) []byte {
	var flags uint64
	if h.Seeks {
		flags = 1
	}
	return append(cenc.AppendUint(b, flags), h.Capability[:]...)
}

// DecodeHandshake decodes a channel handshake.
func DecodeHandshake(b []byte) (Handshake, error) {
	d := cenc.NewDecoder(b)
	var h Handshake
	h.Seeks = readUint(d)&1 != 0
	copy(h.Capability[:], d.Fixed(32))
	if err := d.Err(); err != nil {
		return Handshake{}, decodeErr("handshake", err)
	}
	return h, nil
}

// MaxUint is the largest integer on the wire: compact-encoding (3.5.x)
// refuses to decode a uint above Number.MAX_SAFE_INTEGER, 2^53-1, and so
// do these decoders. Encoders do not check; callers keep values below it.
const MaxUint = 1<<53 - 1

// errUintRange is the error of a uint above MaxUint.
var errUintRange = errors.New("uint exceeds 2^53-1")

// readUint reads a compact uint, failing d for one above MaxUint.
func readUint(d *cenc.Decoder) uint64 {
	v := d.Uint()
	if v > MaxUint {
		d.Fail(fmt.Errorf("%w: %d", errUintRange, v))
		return 0
	}
	return v
}

// Sync flag bits.
const (
	syncCanUpgrade  = 1
	syncUploading   = 2
	syncDownloading = 4
	syncHasManifest = 8
	syncAllowPush   = 16
)

// Sync (type 0) tells the peer the sender's head and mode:
// uint flags ‖ uint fork ‖ uint length ‖ uint remoteLength.
type Sync struct {
	Fork         uint64 // the sender's fork
	Length       uint64 // the sender's length
	RemoteLength uint64 // the sender's view of the receiver's length (0 if forks differ)
	CanUpgrade   bool   // the sender can prove an upgrade from RemoteLength
	Uploading    bool
	Downloading  bool
	HasManifest  bool // sent only by non-compat cores that hold their manifest
	AllowPush    bool
}

func (Sync) MessageType() uint64 { return TypeSync }
func (Sync) isMessage()          {}

// AppendSync appends the encoding of m.
func AppendSync(b []byte, m Sync) []byte {
	var flags uint64
	if m.CanUpgrade {
		flags |= syncCanUpgrade
	}
	if m.Uploading {
		flags |= syncUploading
	}
	if m.Downloading {
		flags |= syncDownloading
	}
	if m.HasManifest {
		flags |= syncHasManifest
	}
	if m.AllowPush {
		flags |= syncAllowPush
	}
	b = cenc.AppendUint(b, flags)
	b = cenc.AppendUint(b, m.Fork)
	b = cenc.AppendUint(b, m.Length)
	return cenc.AppendUint(b, m.RemoteLength)
}

// DecodeSync decodes a sync message.
func DecodeSync(b []byte) (Sync, error) {
	d := cenc.NewDecoder(b)
	flags := readUint(d)
	m := Sync{
		Fork:         readUint(d),
		Length:       readUint(d),
		RemoteLength: readUint(d),
		CanUpgrade:   flags&syncCanUpgrade != 0,
		Uploading:    flags&syncUploading != 0,
		Downloading:  flags&syncDownloading != 0,
		HasManifest:  flags&syncHasManifest != 0,
		AllowPush:    flags&syncAllowPush != 0,
	}
	if err := d.Err(); err != nil {
		return Sync{}, decodeErr("sync", err)
	}
	return m, nil
}

// Request (type 1) asks for a block, a tree node, a seek, an upgrade
// and/or the manifest (spec §4.1, §7.2). ID is chosen by the sender, ≥ 1;
// the answer (Data or NoData) echoes it. hypercore.Core.Proof answers it.
type Request struct {
	ID uint64
	ProofRequest
}

func (Request) MessageType() uint64 { return TypeRequest }
func (Request) isMessage()          {}

// AppendRequest appends the encoding of m: uint flags ‖ uint id ‖ uint
// fork ‖ the parts present (two uints each) ‖ [uint priority]. The
// priority flag and field are written only for a non-zero Priority.
func AppendRequest(b []byte, m Request) []byte {
	return appendRequest(b, m.ID, &m.ProofRequest)
}

// DecodeRequest decodes a request message, ignoring trailing bytes (as JS
// does).
func DecodeRequest(b []byte) (Request, error) {
	d := cenc.NewDecoder(b)
	m := readRequest(d)
	if err := d.Err(); err != nil {
		return Request{}, decodeErr("request", err)
	}
	return m, nil
}

// DecodeRequestExact is DecodeRequest refusing trailing bytes: for a
// request stored or handed over on its own rather than read off a frame.
func DecodeRequestExact(b []byte) (Request, error) {
	d := cenc.NewDecoder(b)
	m := readRequest(d)
	if err := exact(d); err != nil {
		return Request{}, decodeErr("request", err)
	}
	return m, nil
}

// exact is d's error, or an error if bytes are left.
func exact(d *cenc.Decoder) error {
	if err := d.Err(); err != nil {
		return err
	}
	if d.Len() != 0 {
		return fmt.Errorf("%d trailing bytes", d.Len())
	}
	return nil
}

// Cancel (type 2) withdraws request Request.
type Cancel struct {
	Request uint64
}

func (Cancel) MessageType() uint64 { return TypeCancel }
func (Cancel) isMessage()          {}

// AppendCancel appends the encoding of m.
func AppendCancel(b []byte, m Cancel) []byte { return cenc.AppendUint(b, m.Request) }

// DecodeCancel decodes a cancel message.
func DecodeCancel(b []byte) (Cancel, error) {
	d := cenc.NewDecoder(b)
	m := Cancel{Request: readUint(d)}
	if err := d.Err(); err != nil {
		return Cancel{}, decodeErr("cancel", err)
	}
	return m, nil
}

// Data (type 3) answers request Request (0: pushed, unrequested) with the
// proof parts (spec §4.2): uint flags ‖ uint request ‖ uint fork ‖ the
// parts present ‖ [manifest]. hypercore.VerifyProof checks it.
type Data struct {
	Request uint64
	Proof
}

func (Data) MessageType() uint64 { return TypeData }
func (Data) isMessage()          {}

// AppendData appends the encoding of m. Absent parts are left out; a nil
// block value or signature encodes as empty.
func AppendData(b []byte, m Data) []byte {
	return appendData(b, m.Request, &m.Proof)
}

// DecodeData decodes a data message, ignoring trailing bytes (as JS
// does). The result does not alias b.
func DecodeData(b []byte) (Data, error) {
	d := cenc.NewDecoder(b)
	m := readData(d)
	if err := d.Err(); err != nil {
		return Data{}, decodeErr("data", err)
	}
	return m, nil
}

// DecodeDataExact is DecodeData refusing trailing bytes: for a proof
// stored or handed over on its own (an evidence bundle) rather than read
// off a frame.
func DecodeDataExact(b []byte) (Data, error) {
	d := cenc.NewDecoder(b)
	m := readData(d)
	if err := exact(d); err != nil {
		return Data{}, decodeErr("data", err)
	}
	return m, nil
}

// Reasons of NoData.
const (
	ReasonUnspecified    = 0
	ReasonNotAvailable   = 1
	ReasonInvalidRequest = 2
)

// NoData (type 4) says request Request cannot be answered:
// uint request ‖ uint flags (bit 0: a reason follows) ‖ [uint reason].
// A message without the flags field (older JS) decodes with Reason 0.
type NoData struct {
	Request uint64
	Reason  uint64
}

func (NoData) MessageType() uint64 { return TypeNoData }
func (NoData) isMessage()          {}

// AppendNoData appends the encoding of m. The flags field is always
// written (as JS does); the reason only when non-zero.
func AppendNoData(b []byte, m NoData) []byte {
	b = cenc.AppendUint(b, m.Request)
	if m.Reason == 0 {
		return cenc.AppendUint(b, 0)
	}
	return cenc.AppendUint(cenc.AppendUint(b, 1), m.Reason)
}

// DecodeNoData decodes a noData message.
func DecodeNoData(b []byte) (NoData, error) {
	d := cenc.NewDecoder(b)
	m := NoData{Request: readUint(d)}
	var flags uint64
	if d.Err() == nil && d.Len() > 0 {
		flags = readUint(d)
	}
	if flags&1 != 0 {
		m.Reason = readUint(d)
	}
	if err := d.Err(); err != nil {
		return NoData{}, decodeErr("noData", err)
	}
	return m, nil
}

// Want (type 5) asks the peer to announce which blocks of
// [Start, Start+Length) it has (with Range or Bitfield messages):
// uint start ‖ uint length ‖ [uint flags (bit 0: any)], the flags written
// only when non-zero.
type Want struct {
	Start, Length uint64
	Any           bool
}

func (Want) MessageType() uint64 { return TypeWant }
func (Want) isMessage()          {}

// Unwant (type 6) withdraws a Want; same encoding.
type Unwant Want

func (Unwant) MessageType() uint64 { return TypeUnwant }
func (Unwant) isMessage()          {}

// AppendWant appends the encoding of m.
func AppendWant(b []byte, m Want) []byte {
	b = cenc.AppendUint(b, m.Start)
	b = cenc.AppendUint(b, m.Length)
	if m.Any {
		b = cenc.AppendUint(b, 1)
	}
	return b
}

// DecodeWant decodes a want message.
func DecodeWant(b []byte) (Want, error) {
	m, err := decodeWant(b)
	if err != nil {
		return Want{}, decodeErr("want", err)
	}
	return m, nil
}

// AppendUnwant appends the encoding of m.
func AppendUnwant(b []byte, m Unwant) []byte { return AppendWant(b, Want(m)) }

// DecodeUnwant decodes an unwant message.
func DecodeUnwant(b []byte) (Unwant, error) {
	m, err := decodeWant(b)
	if err != nil {
		return Unwant{}, decodeErr("unwant", err)
	}
	return Unwant(m), nil
}

func decodeWant(b []byte) (Want, error) {
	d := cenc.NewDecoder(b)
	m := Want{Start: readUint(d), Length: readUint(d)}
	var flags uint64
	if d.Err() == nil && d.Len() > 0 {
		flags = readUint(d)
	}
	m.Any = flags&1 != 0
	return m, d.Err()
}

// Bitfield (type 7) announces blocks: bit j of word w (least significant
// first) is block Start + 32w + j. JS sends Start as a multiple of 32; the
// decoder does not check that (it is the replicator's concern).
// Encoding: uint start ‖ uint32array (uint count ‖ count × u32le).
type Bitfield struct {
	Start uint64
	Words []uint32
}

func (Bitfield) MessageType() uint64 { return TypeBitfield }
func (Bitfield) isMessage()          {}

// AppendBitfield appends the encoding of m.
func AppendBitfield(b []byte, m Bitfield) []byte {
	b = cenc.AppendUint(b, m.Start)
	b = cenc.AppendUint(b, uint64(len(m.Words)))
	for _, w := range m.Words {
		b = binary.LittleEndian.AppendUint32(b, w)
	}
	return b
}

// DecodeBitfield decodes a bitfield message. The word count is checked
// against the bytes left before the words are allocated (JS has no other
// limit on a uint32array).
func DecodeBitfield(b []byte) (Bitfield, error) {
	d := cenc.NewDecoder(b)
	m := Bitfield{Start: readUint(d)}
	n := readUint(d)
	if err := d.Err(); err != nil {
		return Bitfield{}, decodeErr("bitfield", err)
	}
	if n > uint64(d.Len()/4) {
		return Bitfield{}, decodeErr("bitfield", fmt.Errorf("%d words cannot fit in %d bytes: %w", n, d.Len(), cenc.ErrShort))
	}
	raw := d.Fixed(int(n) * 4)
	if n > 0 {
		m.Words = make([]uint32, n)
		for i := range m.Words {
			m.Words[i] = binary.LittleEndian.Uint32(raw[4*i:])
		}
	}
	return m, nil
}

// Range flag bits.
const (
	rangeDrop      = 1
	rangeLengthOne = 2
)

// Range (type 8) announces that the sender has (or, with Drop, no longer
// has) blocks [Start, Start+Length): uint flags (1 drop, 2 length is 1) ‖
// uint start ‖ [uint length, omitted when it is 1].
type Range struct {
	Drop   bool
	Start  uint64
	Length uint64
}

func (Range) MessageType() uint64 { return TypeRange }
func (Range) isMessage()          {}

// AppendRange appends the encoding of m.
func AppendRange(b []byte, m Range) []byte {
	var flags uint64
	if m.Drop {
		flags |= rangeDrop
	}
	if m.Length == 1 {
		flags |= rangeLengthOne
	}
	b = cenc.AppendUint(b, flags)
	b = cenc.AppendUint(b, m.Start)
	if m.Length != 1 {
		b = cenc.AppendUint(b, m.Length)
	}
	return b
}

// DecodeRange decodes a range message.
func DecodeRange(b []byte) (Range, error) {
	d := cenc.NewDecoder(b)
	flags := readUint(d)
	m := Range{Drop: flags&rangeDrop != 0, Start: readUint(d), Length: 1}
	if flags&rangeLengthOne == 0 {
		m.Length = readUint(d)
	}
	if err := d.Err(); err != nil {
		return Range{}, decodeErr("range", err)
	}
	return m, nil
}

// Extension (type 9) carries a message of a named extension: string name ‖
// raw message (the rest of the frame). An empty Name means "the same name
// as the previous extension message in this direction".
type Extension struct {
	Name    string
	Message []byte
}

func (Extension) MessageType() uint64 { return TypeExtension }
func (Extension) isMessage()          {}

// AppendExtension appends the encoding of m.
func AppendExtension(b []byte, m Extension) []byte {
	b = cenc.AppendBuffer(b, []byte(m.Name))
	return append(b, m.Message...)
}

// DecodeExtension decodes an extension message. Message aliases b (nil
// when empty). Name is kept byte for byte (JS decodes it as UTF-8).
func DecodeExtension(b []byte) (Extension, error) {
	d := cenc.NewDecoder(b)
	name := d.Buffer()
	if err := d.Err(); err != nil {
		return Extension{}, decodeErr("extension", err)
	}
	m := Extension{Name: string(name)}
	if d.Len() > 0 {
		m.Message = d.Rest()
	}
	return m, nil
}

// Decode decodes a message of protomux type typ. It returns the message
// struct (a value, not a pointer), or an error wrapping ErrUnknownType for
// a type it does not know (to be ignored, as JS does) or ErrMalformed.
func Decode(typ uint64, b []byte) (Message, error) {
	switch typ {
	case TypeSync:
		return wrap(DecodeSync(b))
	case TypeRequest:
		return wrap(DecodeRequest(b))
	case TypeCancel:
		return wrap(DecodeCancel(b))
	case TypeData:
		return wrap(DecodeData(b))
	case TypeNoData:
		return wrap(DecodeNoData(b))
	case TypeWant:
		return wrap(DecodeWant(b))
	case TypeUnwant:
		return wrap(DecodeUnwant(b))
	case TypeBitfield:
		return wrap(DecodeBitfield(b))
	case TypeRange:
		return wrap(DecodeRange(b))
	case TypeExtension:
		return wrap(DecodeExtension(b))
	}
	return nil, fmt.Errorf("message type %d: %w", typ, ErrUnknownType)
}

func wrap[M Message](m M, err error) (Message, error) {
	if err != nil {
		return nil, err
	}
	return m, nil
}

// Append appends the encoding of m, which must be one of this package's
// message structs (a value or a pointer to one).
func Append(b []byte, m Message) []byte {
	switch m := m.(type) {
	case Sync:
		return AppendSync(b, m)
	case *Sync:
		return AppendSync(b, *m)
	case Request:
		return AppendRequest(b, m)
	case *Request:
		return AppendRequest(b, *m)
	case Cancel:
		return AppendCancel(b, m)
	case *Cancel:
		return AppendCancel(b, *m)
	case Data:
		return AppendData(b, m)
	case *Data:
		return AppendData(b, *m)
	case NoData:
		return AppendNoData(b, m)
	case *NoData:
		return AppendNoData(b, *m)
	case Want:
		return AppendWant(b, m)
	case *Want:
		return AppendWant(b, *m)
	case Unwant:
		return AppendUnwant(b, m)
	case *Unwant:
		return AppendUnwant(b, *m)
	case Bitfield:
		return AppendBitfield(b, m)
	case *Bitfield:
		return AppendBitfield(b, *m)
	case Range:
		return AppendRange(b, m)
	case *Range:
		return AppendRange(b, *m)
	case Extension:
		return AppendExtension(b, m)
	case *Extension:
		return AppendExtension(b, *m)
	}
	panic(fmt.Sprintf("wire: Append of %T", m))
}
