package hypercore

import (
	"fmt"

	"github.com/fieldsync/fieldsync/hypercore/wire"
)

// The `request` (type 1) and `data` (type 3) message bodies on their own,
// strictly (no trailing bytes), for proofs stored or handed over outside a
// replication channel (evidence bundles). Package wire codes them; these
// wrap its errors in this package's.

// AppendDataMessage appends the `data` message body answering request
// requestID (0 for pushed data) with p (wire.AppendData).
func AppendDataMessage(b []byte, requestID uint64, p *Proof) []byte {
	if p == nil {
		p = &Proof{}
	}
	return wire.AppendData(b, wire.Data{Request: requestID, Proof: *p})
}

// DecodeDataMessage decodes a `data` message body. It accepts exactly one
// message with no trailing bytes; unknown flag bits are ignored, as JS
// does. The returned proof does not alias b. Errors wrap ErrInvalidProof.
func DecodeDataMessage(b []byte) (requestID uint64, p *Proof, err error) {
	m, err := wire.DecodeDataExact(b)
	if err != nil {
		return 0, nil, fmt.Errorf("decode data message: %w: %w", err, ErrInvalidProof)
	}
	return m.Request, &m.Proof, nil
}

// AppendRequestMessage appends the `request` message body with id and req
// (wire.AppendRequest).
func AppendRequestMessage(b []byte, id uint64, req ProofRequest) []byte {
	return wire.AppendRequest(b, wire.Request{ID: id, ProofRequest: req})
}

// DecodeRequestMessage decodes a `request` message body. It accepts
// exactly one message with no trailing bytes; unknown flag bits are
// ignored, as JS does. Errors wrap ErrBadInput.
func DecodeRequestMessage(b []byte) (id uint64, req ProofRequest, err error) {
	m, err := wire.DecodeRequestExact(b)
	if err != nil {
		return 0, ProofRequest{}, fmt.Errorf("decode request message: %w: %w", err, ErrBadInput)
	}
	return m.ID, m.ProofRequest, nil
}
