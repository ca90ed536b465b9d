package wire

import (
	"errors"
	"fmt"

	"github.com/fieldsync/fieldsync/hypercore/internal/cenc"
)

// requestLen and dataLen measure the encoded length of a request or data
// message at the start of b, so that trailing bytes can be cut off before
// the strict decoders of package hypercore see the message. They walk the
// same fields as those decoders, skipping values without allocating, and
// report truncation with the same bounds (buffer lengths and array counts
// checked against the bytes left, arrays of at most cenc.MaxArray).

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

// Flag bits shared by request and data (hypercore proof_codec.go).
const (
	flagBlock    = 1
	flagHash     = 2
	flagSeek     = 4
	flagUpgrade  = 8
	flagManifest = 16
	flagPriority = 32 // request only
)

// nodeMinSize is the smallest encoding of a tree node: uint index ‖ uint
// size ‖ 32-byte hash.
const nodeMinSize = 34

func requestLen(b []byte) (int, error) {
	d := cenc.NewDecoder(b)
	flags := readUint(d)
	readUint(d) // id
	readUint(d) // fork
	for _, bit := range []uint64{flagBlock, flagHash, flagSeek, flagUpgrade} {
		if flags&bit != 0 {
			readUint(d)
			readUint(d)
		}
	}
	if flags&flagPriority != 0 {
		readUint(d)
	}
	if err := d.Err(); err != nil {
		return 0, err
	}
	return len(b) - d.Len(), nil
}

func dataLen(b []byte) (int, error) {
	d := cenc.NewDecoder(b)
	flags := readUint(d)
	readUint(d) // request id
	readUint(d) // fork
	if flags&flagBlock != 0 {
		readUint(d) // index
		d.Buffer()
		skipNodes(d)
	}
	if flags&flagHash != 0 {
		readUint(d) // index
		skipNodes(d)
	}
	if flags&flagSeek != 0 {
		readUint(d) // bytes
		skipNodes(d)
	}
	if flags&flagUpgrade != 0 {
		readUint(d) // start
		readUint(d) // length
		skipNodes(d)
		skipNodes(d) // additional nodes
		d.Buffer()   // signature
	}
	if flags&flagManifest != 0 {
		skipManifest(d)
	}
	if err := d.Err(); err != nil {
		return 0, err
	}
	return len(b) - d.Len(), nil
}

func skipNodes(d *cenc.Decoder) {
	n := d.ArrayLen(nodeMinSize)
	for range n {
		readUint(d)
		readUint(d)
		d.Fixed(32)
	}
}

// Manifest flag bits (version ≥ 1).
const (
	manifestPrologue = 2
	manifestLinked   = 4
	manifestUserData = 8
)

// signerMinSize is the smallest encoding of a signer: uint signature type ‖
// namespace ‖ public key.
const signerMinSize = 65

// skipManifest walks a manifest (spec §3.3) the way hypercore's decoder
// reads it.
func skipManifest(d *cenc.Decoder) {
	version := readUint(d)
	if d.Err() != nil {
		return
	}
	if version == 0 {
		readUint(d) // hash type
		switch layout := readUint(d); layout {
		case 0:
			d.Fixed(32) // prologue hash
		case 1:
			skipSigner(d)
		case 2:
			readUint(d) // flags
			readUint(d) // quorum
			skipSigners(d)
		default:
			if d.Err() == nil {
				d.Fail(fmt.Errorf("unknown v0 manifest layout %d", layout))
			}
		}
		return
	}
	if version > 3 {
		d.Fail(fmt.Errorf("unknown manifest version %d", version))
		return
	}
	flags := readUint(d)
	readUint(d) // hash type
	readUint(d) // quorum
	skipSigners(d)
	if flags&manifestPrologue != 0 {
		d.Fixed(32)
		readUint(d)
	}
	if flags&manifestLinked != 0 {
		n := d.ArrayLen(32)
		d.Fixed(32 * n)
	}
	if flags&manifestUserData != 0 {
		d.Buffer()
	}
}

func skipSigner(d *cenc.Decoder) {
	readUint(d) // signature type
	d.Fixed(64)
}

func skipSigners(d *cenc.Decoder) {
	n := d.ArrayLen(signerMinSize)
	for range n {
		skipSigner(d)
	}
}
