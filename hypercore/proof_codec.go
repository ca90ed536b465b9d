package hypercore

import (
	"fmt"

	"github.com/fieldsync/fieldsync/hypercore/internal/cenc"
)

// Wire encodings of the replication `request` (type 1) and `data` (type 3)
// message bodies (spec §7.2, JS lib/messages.js wire.request / wire.data).

// Flag bits of the request and data messages.
const (
	proofFlagBlock    = 1
	proofFlagHash     = 2
	proofFlagSeek     = 4
	proofFlagUpgrade  = 8
	proofFlagManifest = 16
	proofFlagPriority = 32 // request only
)

// AppendDataMessage appends the `data` message body answering request
// requestID (0 for pushed data) with p. Absent parts are left out; a nil
// block value or signature encodes as empty.
func AppendDataMessage(b []byte, requestID uint64, p *Proof) []byte {
	if p == nil {
		p = &Proof{}
	}
	var flags uint64
	if p.Block != nil {
		flags |= proofFlagBlock
	}
	if p.Hash != nil {
		flags |= proofFlagHash
	}
	if p.Seek != nil {
		flags |= proofFlagSeek
	}
	if p.Upgrade != nil {
		flags |= proofFlagUpgrade
	}
	if p.Manifest != nil {
		flags |= proofFlagManifest
	}
	b = cenc.AppendUint(b, flags)
	b = cenc.AppendUint(b, requestID)
	b = cenc.AppendUint(b, p.Fork)
	if p.Block != nil {
		b = cenc.AppendUint(b, p.Block.Index)
		b = cenc.AppendBuffer(b, p.Block.Value)
		b = appendNodes(b, p.Block.Nodes)
	}
	if p.Hash != nil {
		b = cenc.AppendUint(b, p.Hash.Index)
		b = appendNodes(b, p.Hash.Nodes)
	}
	if p.Seek != nil {
		b = cenc.AppendUint(b, p.Seek.Bytes)
		b = appendNodes(b, p.Seek.Nodes)
	}
	if p.Upgrade != nil {
		b = cenc.AppendUint(b, p.Upgrade.Start)
		b = cenc.AppendUint(b, p.Upgrade.Length)
		b = appendNodes(b, p.Upgrade.Nodes)
		b = appendNodes(b, p.Upgrade.AdditionalNodes)
		b = cenc.AppendBuffer(b, p.Upgrade.Signature) // optionalBuffer: absent = empty
	}
	if p.Manifest != nil {
		b = append(b, p.Manifest.Encode()...)
	}
	return b
}

// DecodeDataMessage decodes a `data` message body. It accepts exactly one
// message with no trailing bytes; unknown flag bits are ignored, as JS
// does. The returned proof does not alias b. Errors wrap ErrInvalidProof.
func DecodeDataMessage(b []byte) (requestID uint64, p *Proof, err error) {
	d := cenc.NewDecoder(b)
	flags := d.Uint()
	requestID = d.Uint()
	p = &Proof{Fork: d.Uint()}
	if flags&proofFlagBlock != 0 {
		blk := &BlockProof{Index: d.Uint()}
		blk.Value = proofCopyBytes(d.Buffer())
		blk.Nodes = decodeNodes(d)
		p.Block = blk
	}
	if flags&proofFlagHash != 0 {
		h := &HashProof{Index: d.Uint()}
		h.Nodes = decodeNodes(d)
		p.Hash = h
	}
	if flags&proofFlagSeek != 0 {
		s := &SeekProof{Bytes: d.Uint()}
		s.Nodes = decodeNodes(d)
		p.Seek = s
	}
	if flags&proofFlagUpgrade != 0 {
		u := &UpgradeProof{Start: d.Uint(), Length: d.Uint()}
		u.Nodes = decodeNodes(d)
		u.AdditionalNodes = decodeNodes(d)
		u.Signature = proofCopyBytes(d.Buffer())
		p.Upgrade = u
	}
	if flags&proofFlagManifest != 0 {
		p.Manifest = decodeManifest(d)
	}
	if err := d.Err(); err != nil {
		return 0, nil, fmt.Errorf("decode data message: %v: %w", err, ErrInvalidProof)
	}
	if d.Len() != 0 {
		return 0, nil, errorf(ErrInvalidProof, "decode data message: %d trailing bytes", d.Len())
	}
	return requestID, p, nil
}

// proofCopyBytes copies b; empty and nil give nil.
func proofCopyBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}

// AppendRequestMessage appends the `request` message body with id and req.
// The priority flag and field are written only for a non-zero Priority.
func AppendRequestMessage(b []byte, id uint64, req ProofRequest) []byte {
	var flags uint64
	if req.Block != nil {
		flags |= proofFlagBlock
	}
	if req.Hash != nil {
		flags |= proofFlagHash
	}
	if req.Seek != nil {
		flags |= proofFlagSeek
	}
	if req.Upgrade != nil {
		flags |= proofFlagUpgrade
	}
	if req.Manifest {
		flags |= proofFlagManifest
	}
	if req.Priority != 0 {
		flags |= proofFlagPriority
	}
	b = cenc.AppendUint(b, flags)
	b = cenc.AppendUint(b, id)
	b = cenc.AppendUint(b, req.Fork)
	if req.Block != nil {
		b = cenc.AppendUint(b, req.Block.Index)
		b = cenc.AppendUint(b, req.Block.Nodes)
	}
	if req.Hash != nil {
		b = cenc.AppendUint(b, req.Hash.Index)
		b = cenc.AppendUint(b, req.Hash.Nodes)
	}
	if req.Seek != nil {
		b = cenc.AppendUint(b, req.Seek.Bytes)
		b = cenc.AppendUint(b, req.Seek.Padding)
	}
	if req.Upgrade != nil {
		b = cenc.AppendUint(b, req.Upgrade.Start)
		b = cenc.AppendUint(b, req.Upgrade.Length)
	}
	if req.Priority != 0 {
		b = cenc.AppendUint(b, req.Priority)
	}
	return b
}

// DecodeRequestMessage decodes a `request` message body. It accepts
// exactly one message with no trailing bytes; unknown flag bits are
// ignored, as JS does. Errors wrap ErrBadInput.
func DecodeRequestMessage(b []byte) (id uint64, req ProofRequest, err error) {
	d := cenc.NewDecoder(b)
	flags := d.Uint()
	id = d.Uint()
	req.Fork = d.Uint()
	if flags&proofFlagBlock != 0 {
		req.Block = &BlockRequest{Index: d.Uint(), Nodes: d.Uint()}
	}
	if flags&proofFlagHash != 0 {
		req.Hash = &HashRequest{Index: d.Uint(), Nodes: d.Uint()}
	}
	if flags&proofFlagSeek != 0 {
		req.Seek = &SeekRequest{Bytes: d.Uint(), Padding: d.Uint()}
	}
	if flags&proofFlagUpgrade != 0 {
		req.Upgrade = &UpgradeRequest{Start: d.Uint(), Length: d.Uint()}
	}
	req.Manifest = flags&proofFlagManifest != 0
	if flags&proofFlagPriority != 0 {
		req.Priority = d.Uint()
	}
	if err := d.Err(); err != nil {
		return 0, ProofRequest{}, fmt.Errorf("decode request message: %v: %w", err, ErrBadInput)
	}
	if d.Len() != 0 {
		return 0, ProofRequest{}, errorf(ErrBadInput, "decode request message: %d trailing bytes", d.Len())
	}
	return id, req, nil
}
