package protomux

import (
	"errors"
	"fmt"

	"github.com/fieldsync/fieldsync/hypercore/internal/cenc"
)

// The control channel and its message types.
const (
	ControlChannel = 0

	TypeBatch  = 0 // uint first channel, then items (see BatchReader)
	TypeOpen   = 1 // see Open
	TypeReject = 2 // uint: the remote's channel id being refused
	TypeClose  = 3 // uint: the sender's local channel id
)

// MaxUint is the largest integer on the wire: compact-encoding (3.5.x)
// refuses to decode a uint above Number.MAX_SAFE_INTEGER, 2^53-1, and so
// do these decoders. Encoders do not check; callers keep values below it.
const MaxUint = 1<<53 - 1

// readUint reads a compact uint, failing d for one above MaxUint.
func readUint(d *cenc.Decoder) uint64 {
	v := d.Uint()
	if v > MaxUint {
		d.Fail(fmt.Errorf("uint %d exceeds 2^53-1", v))
		return 0
	}
	return v
}

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("protomux: malformed frame")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrMalformed)
}

func wrapDecodeErr(what string, err error) error {
	return fmt.Errorf("%s: %v: %w", what, err, ErrMalformed)
}

// Message is one protomux message: Type and Payload on Channel. On a
// received frame Channel is the sender's local id of the channel.
type Message struct {
	Channel uint64
	Type    uint64
	Payload []byte
}

// DecodeFrame splits a frame into its channel, type and payload. The
// payload is the rest of the frame and aliases b (nil when empty). An empty
// frame is an error here; a receiver ignores empty frames before decoding
// (as JS does).
func DecodeFrame(b []byte) (Message, error) {
	if len(b) == 0 {
		return Message{}, malformed("empty frame")
	}
	d := cenc.NewDecoder(b)
	m := Message{Channel: readUint(d), Type: readUint(d)}
	if err := d.Err(); err != nil {
		return Message{}, wrapDecodeErr("frame header", err)
	}
	m.Payload = nonEmpty(d.Rest())
	return m, nil
}

// nonEmpty returns b, or nil when it is empty.
func nonEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// AppendFrameHeader appends `uint channel ‖ uint type`; the payload follows.
func AppendFrameHeader(b []byte, channel, typ uint64) []byte {
	return cenc.AppendUint(cenc.AppendUint(b, channel), typ)
}

// AppendFrame appends a whole frame: channel, type and payload.
func AppendFrame(b []byte, channel, typ uint64, payload []byte) []byte {
	return append(AppendFrameHeader(b, channel, typ), payload...)
}

// FrameSize is the encoded size of a frame with this channel, type and
// payload length.
func FrameSize(channel, typ uint64, payloadLen int) int {
	return cenc.UintSize(channel) + cenc.UintSize(typ) + payloadLen
}

// Open is the payload of a control `open` message:
//
//	uint channel ‖ string protocol ‖ optionalBuffer id ‖ handshake (raw)
//
// Channel is the sender's local id for the channel (≥ 1). An absent and an
// empty ID are the same: both encode as a zero length, JS decodes that as
// null and keys channels by the id's hex (the empty string for both);
// decoding here gives nil. Handshake is protocol-specific and runs to
// the end of the message (JS decodes it when the channel opens, with the
// protocol's own encoding, ignoring what is left).
type Open struct {
	Channel   uint64
	Protocol  string
	ID        []byte
	Handshake []byte
}

// DecodeOpen decodes the payload of an `open` message. ID and Handshake
// alias b. Protocol is kept byte for byte (JS decodes it as UTF-8, turning
// invalid sequences into U+FFFD; well-formed names are the same either
// way).
func DecodeOpen(b []byte) (Open, error) {
	d := cenc.NewDecoder(b)
	var o Open
	o.Channel = readUint(d)
	proto := d.Buffer()
	id := d.Buffer()
	if err := d.Err(); err != nil {
		return Open{}, wrapDecodeErr("open", err)
	}
	o.Protocol = string(proto)
	o.ID = nonEmpty(id)
	o.Handshake = nonEmpty(d.Rest())
	return o, nil
}

// AppendOpen appends the payload of an `open` message (without the
// `00 01` frame header: see AppendFrameHeader).
func AppendOpen(b []byte, o Open) []byte {
	b = cenc.AppendUint(b, o.Channel)
	b = cenc.AppendBuffer(b, []byte(o.Protocol))
	b = cenc.AppendBuffer(b, o.ID)
	return append(b, o.Handshake...)
}

// DecodeReject decodes the payload of a `reject` message: the id, in the
// receiver's own numbering, of the channel the remote refuses.
func DecodeReject(b []byte) (uint64, error) {
	d := cenc.NewDecoder(b)
	id := readUint(d)
	if err := d.Err(); err != nil {
		return 0, wrapDecodeErr("reject", err)
	}
	return id, nil
}

// DecodeClose decodes the payload of a `close` message: the sender's local
// id of the channel it closes.
func DecodeClose(b []byte) (uint64, error) {
	d := cenc.NewDecoder(b)
	id := readUint(d)
	if err := d.Err(); err != nil {
		return 0, wrapDecodeErr("close", err)
	}
	return id, nil
}

// AppendReject appends the payload of a `reject` message.
func AppendReject(b []byte, remoteChannel uint64) []byte { return cenc.AppendUint(b, remoteChannel) }

// AppendClose appends the payload of a `close` message.
func AppendClose(b []byte, localChannel uint64) []byte { return cenc.AppendUint(b, localChannel) }

// BatchReader reads the messages of a batch payload (the payload of a
// control `batch` message) one at a time, without allocating. The payload
// is
//
//	uint first channel, then repeated: uint len ‖ len bytes
//
// where the len bytes are `uint type ‖ payload` of one message on the
// current channel, and a len of 0 is followed by `uint channel`, which
// becomes the current channel. Messages on channel 0 are control messages
// (open, reject, close) without their leading channel byte.
//
// The payloads alias the batch. A batch may be empty (first channel only)
// and may end with a channel switch. Two things JS (protomux 3.12) accepts
// are refused here, both of which no JS encoder produces:
//   - an item longer than the bytes left (JS cuts it at the end of the
//     batch and decodes the shortened message); each item's length, and
//     its type, must fit;
//   - a batch inside a batch (JS recurses; it writes control messages into
//     a batch as channel-0 items and batches themselves straight to the
//     stream, so it never nests them). Refusing bounds the nesting.
type BatchReader struct {
	rest    []byte
	channel uint64
}

// NewBatchReader starts reading batch payload b.
func NewBatchReader(b []byte) (BatchReader, error) {
	d := cenc.NewDecoder(b)
	channel := readUint(d)
	if err := d.Err(); err != nil {
		return BatchReader{}, wrapDecodeErr("batch", err)
	}
	return BatchReader{rest: d.Rest(), channel: channel}, nil
}

// Next returns the next message; ok is false at the end of the batch. After
// an error the reader is at its end.
func (r *BatchReader) Next() (m Message, ok bool, err error) {
	for len(r.rest) > 0 {
		d := cenc.NewDecoder(r.rest)
		n := readUint(d)
		if err := d.Err(); err != nil {
			return r.fail(wrapDecodeErr("batch item length", err))
		}
		if n == 0 {
			channel := readUint(d)
			if err := d.Err(); err != nil {
				return r.fail(wrapDecodeErr("batch channel switch", err))
			}
			r.channel = channel
			r.rest = d.Rest()
			continue
		}
		if n > uint64(d.Len()) {
			return r.fail(malformed("batch item of %d bytes exceeds the %d bytes left", n, d.Len()))
		}
		item := cenc.NewDecoder(d.Fixed(int(n)))
		r.rest = d.Rest()
		typ := readUint(item)
		if err := item.Err(); err != nil {
			return r.fail(wrapDecodeErr("batch item type", err))
		}
		if r.channel == ControlChannel && typ == TypeBatch {
			return r.fail(malformed("batch inside a batch"))
		}
		return Message{Channel: r.channel, Type: typ, Payload: nonEmpty(item.Rest())}, true, nil
	}
	return Message{}, false, nil
}

func (r *BatchReader) fail(err error) (Message, bool, error) {
	r.rest = nil
	return Message{}, false, err
}

// DecodeBatch decodes a whole batch payload (see BatchReader) and appends
// its messages to dst, in order.
func DecodeBatch(dst []Message, b []byte) ([]Message, error) {
	r, err := NewBatchReader(b)
	if err != nil {
		return dst, err
	}
	for {
		m, ok, err := r.Next()
		if err != nil {
			return dst, err
		}
		if !ok {
			return dst, nil
		}
		dst = append(dst, m)
	}
}

// Batch builds a batch frame the way JS protomux does when corked:
//
//	00 00 ‖ uint first channel ‖ items
//
// with `00 ‖ uint channel` before an item whose channel differs from the
// previous item's. The zero value is an empty batch.
type Batch struct {
	buf     []byte
	channel uint64
	count   int
}

// Add appends a message. A control message (channel 0) is added as its
// type and payload, like any other.
func (w *Batch) Add(channel, typ uint64, payload []byte) {
	if w.count == 0 {
		w.buf = append(w.buf[:0], 0, TypeBatch)
		w.buf = cenc.AppendUint(w.buf, channel)
	} else if channel != w.channel {
		w.buf = append(w.buf, 0)
		w.buf = cenc.AppendUint(w.buf, channel)
	}
	w.channel = channel
	w.count++
	w.buf = cenc.AppendUint(w.buf, uint64(cenc.UintSize(typ)+len(payload)))
	w.buf = cenc.AppendUint(w.buf, typ)
	w.buf = append(w.buf, payload...)
}

// Count is the number of messages added since the last Reset.
func (w *Batch) Count() int { return w.count }

// Size is the size of the frame so far (0 when empty).
func (w *Batch) Size() int {
	if w.count == 0 {
		return 0
	}
	return len(w.buf)
}

// SizeAfter is the frame size after adding a message of payloadLen bytes
// with this channel and type.
func (w *Batch) SizeAfter(channel, typ uint64, payloadLen int) int {
	n := w.Size()
	if w.count == 0 {
		n = 2 + cenc.UintSize(channel)
	} else if channel != w.channel {
		n += 1 + cenc.UintSize(channel)
	}
	item := cenc.UintSize(typ) + payloadLen
	return n + cenc.UintSize(uint64(item)) + item
}

// Frame returns the batch frame. It aliases the builder's buffer until the
// next Add or Reset. An empty batch has no frame (nil).
func (w *Batch) Frame() []byte {
	if w.count == 0 {
		return nil
	}
	return w.buf
}

// Reset empties the batch, keeping its buffer.
func (w *Batch) Reset() {
	w.buf = w.buf[:0]
	w.count = 0
	w.channel = 0
}
