package hypercore

import (
	"encoding/json"
	"os"
	"sync"
	"testing"

	"github.com/fieldsync/fieldsync/hypercore/hypercoretest"
)

// loadVectors returns all of testdata/hypercore-v11.json that the tests
// use: everything loadCoreVectors gives, plus each core's proofs and the
// wire message vectors. It parses the file once per test binary; callers
// must not modify the result.
//
// It builds on the types of core_vectors_test.go (hexBytes, vNode, vCore,
// coreVectors).
func loadVectors(t testing.TB) *vectors {
	t.Helper()
	path := hypercoretest.VectorFile(t)
	vectorsOnce.Do(func() {
		b, err := os.ReadFile(path)
		if err != nil {
			vectorsErr = err
			return
		}
		var v vectors
		if err := json.Unmarshal(b, &v); err != nil {
			vectorsErr = err
			return
		}
		vectorsVal = &v
	})
	if vectorsErr != nil {
		t.Fatalf("load vectors: %v", vectorsErr)
	}
	if len(vectorsVal.Cores) == 0 || len(vectorsVal.Wire.HypercoreMessages) == 0 {
		t.Fatal("vectors hold no cores or wire messages")
	}
	return vectorsVal
}

var (
	vectorsOnce sync.Once
	vectorsVal  *vectors
	vectorsErr  error
)

// vectors is the whole vector file. Its Cores field shadows the embedded
// coreVectors.Cores with the richer vProofCore.
type vectors struct {
	coreVectors
	Cores []vProofCore `json:"cores"`
	Wire  struct {
		HypercoreMessages []vWireMessage `json:"hypercore_messages"`
	} `json:"wire"`
}

// vProofCore is a core with its proofs.
type vProofCore struct {
	vCore
	Proofs []vProof `json:"proofs"`
}

// vProof is one proof made by the JS Hypercore#proof(request) against the
// core's final state, with its `data` message bytes.
type vProof struct {
	AtLength uint64        `json:"at_length"`
	Request  vProofRequest `json:"request"`
	Proof    vProofBody    `json:"proof"`
	Wire     struct {
		RequestID uint64   `json:"request_id"`
		Hex       hexBytes `json:"hex"`
	} `json:"wire_data_message"`
}

type vIndexNodes struct {
	Index uint64 `json:"index"`
	Nodes uint64 `json:"nodes"`
}

type vProofRequest struct {
	Block *vIndexNodes `json:"block"`
	Hash  *vIndexNodes `json:"hash"`
	Seek  *struct {
		Bytes   uint64 `json:"bytes"`
		Padding uint64 `json:"padding"`
	} `json:"seek"`
	Upgrade *struct {
		Start  uint64 `json:"start"`
		Length uint64 `json:"length"`
	} `json:"upgrade"`
	Manifest bool `json:"manifest"`
}

// request converts r to a ProofRequest on fork.
func (r vProofRequest) request(fork uint64) ProofRequest {
	req := ProofRequest{Fork: fork, Manifest: r.Manifest}
	if r.Block != nil {
		req.Block = &BlockRequest{Index: r.Block.Index, Nodes: r.Block.Nodes}
	}
	if r.Hash != nil {
		req.Hash = &HashRequest{Index: r.Hash.Index, Nodes: r.Hash.Nodes}
	}
	if r.Seek != nil {
		req.Seek = &SeekRequest{Bytes: r.Seek.Bytes, Padding: r.Seek.Padding}
	}
	if r.Upgrade != nil {
		req.Upgrade = &UpgradeRequest{Start: r.Upgrade.Start, Length: r.Upgrade.Length}
	}
	return req
}

type vProofBody struct {
	Fork  uint64 `json:"fork"`
	Block *struct {
		Index uint64   `json:"index"`
		Value hexBytes `json:"value"`
		Nodes []vNode  `json:"nodes"`
	} `json:"block"`
	Hash *struct {
		Index uint64  `json:"index"`
		Nodes []vNode `json:"nodes"`
	} `json:"hash"`
	Seek *struct {
		Bytes uint64  `json:"bytes"`
		Nodes []vNode `json:"nodes"`
	} `json:"seek"`
	Upgrade *struct {
		Start           uint64   `json:"start"`
		Length          uint64   `json:"length"`
		Nodes           []vNode  `json:"nodes"`
		AdditionalNodes []vNode  `json:"additionalNodes"`
		Signature       hexBytes `json:"signature"`
	} `json:"upgrade"`
}

func vNodes(ns []vNode) []Node {
	out := make([]Node, len(ns))
	for i, n := range ns {
		out[i] = n.node()
	}
	return out
}

// proof converts b to a Proof (no manifest).
func (b vProofBody) proof() *Proof {
	p := &Proof{Fork: b.Fork}
	if b.Block != nil {
		p.Block = &BlockProof{Index: b.Block.Index, Value: b.Block.Value, Nodes: vNodes(b.Block.Nodes)}
	}
	if b.Hash != nil {
		p.Hash = &HashProof{Index: b.Hash.Index, Nodes: vNodes(b.Hash.Nodes)}
	}
	if b.Seek != nil {
		p.Seek = &SeekProof{Bytes: b.Seek.Bytes, Nodes: vNodes(b.Seek.Nodes)}
	}
	if b.Upgrade != nil {
		u := b.Upgrade
		p.Upgrade = &UpgradeProof{Start: u.Start, Length: u.Length, Nodes: vNodes(u.Nodes),
			AdditionalNodes: vNodes(u.AdditionalNodes), Signature: u.Signature}
	}
	return p
}

// vWireMessage is one replication message: its type name, protomux
// message id (null for the channel handshake), decoded value (raw JSON,
// byte strings as {"hex": ...}) and encoding.
type vWireMessage struct {
	Type      string          `json:"type"`
	MessageID *int            `json:"protomux_message_id"`
	Value     json.RawMessage `json:"value"`
	Hex       hexBytes        `json:"hex"`
}
