package hypercore

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/fieldsync/fieldsync/hypercore/hypercoretest"
)

// capVectors is the part of testdata/hypercore-v11.json that pins the
// replication capability: wire.capability, and the capabilities of the
// live transcript together with the open frames that carried them.
type capVectors struct {
	Wire struct {
		Capability []struct {
			CoreKey       hexBytes `json:"core_key"`
			HandshakeHash hexBytes `json:"handshake_hash"`
			Initiator     hexBytes `json:"initiator_capability"`
			Responder     hexBytes `json:"responder_capability"`
		} `json:"capability"`
		LiveTranscript struct {
			CoreKey       hexBytes `json:"core_key"`
			HandshakeHash hexBytes `json:"handshake_hash"`
			Initiator     hexBytes `json:"initiator_capability"`
			Responder     hexBytes `json:"responder_capability"`
			Frames        []struct {
				Dir     string `json:"dir"`
				Decoded struct {
					Name  string `json:"name"`
					Value struct {
						Handshake struct {
							Capability struct {
								Hex hexBytes `json:"hex"`
							} `json:"capability"`
						} `json:"handshake"`
					} `json:"value"`
				} `json:"decoded"`
			} `json:"frames"`
		} `json:"live_transcript"`
	} `json:"wire"`
}

func loadCapVectors(t *testing.T) *capVectors {
	t.Helper()
	var v capVectors
	hypercoretest.LoadVectors(t, &v)
	if len(v.Wire.Capability) == 0 || len(v.Wire.LiveTranscript.Frames) == 0 {
		t.Fatal("vectors hold no capability cases")
	}
	return &v
}

func TestReplicationCapabilityMatchesJS(t *testing.T) {
	v := loadCapVectors(t)
	type tc struct {
		name                  string
		key, hh, init, respon []byte
	}
	var cases []tc
	for i, c := range v.Wire.Capability {
		cases = append(cases, tc{fmt.Sprintf("capability/%d", i), c.CoreKey, c.HandshakeHash, c.Initiator, c.Responder})
	}
	lt := v.Wire.LiveTranscript
	cases = append(cases, tc{"live_transcript", lt.CoreKey, lt.HandshakeHash, lt.Initiator, lt.Responder})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if len(c.key) != 32 || len(c.hh) != 64 {
				t.Fatalf("vector has a %d-byte key and a %d-byte handshake hash", len(c.key), len(c.hh))
			}
			var key Hash
			copy(key[:], c.key)
			if got := ReplicationCapability(true, key, c.hh); !bytes.Equal(got[:], c.init) {
				t.Errorf("initiator capability %x, JS %x", got, c.init)
			}
			if got := ReplicationCapability(false, key, c.hh); !bytes.Equal(got[:], c.respon) {
				t.Errorf("responder capability %x, JS %x", got, c.respon)
			}
			// The receiver checks the capability for the remote's role.
			if !CheckReplicationCapability(true, key, c.hh, c.init) || !CheckReplicationCapability(false, key, c.hh, c.respon) {
				t.Error("CheckReplicationCapability refuses the JS capability")
			}
			if CheckReplicationCapability(false, key, c.hh, c.init) || CheckReplicationCapability(true, key, c.hh, c.respon) {
				t.Error("CheckReplicationCapability accepts the capability of the other role")
			}
			other := key
			other[0] ^= 1
			if CheckReplicationCapability(true, other, c.hh, c.init) {
				t.Error("CheckReplicationCapability accepts a capability for another core key")
			}
			hh := bytes.Clone(c.hh)
			hh[63] ^= 1
			if CheckReplicationCapability(true, key, hh, c.init) {
				t.Error("CheckReplicationCapability accepts a capability of another session")
			}
			if CheckReplicationCapability(true, key, c.hh, c.init[:31]) || CheckReplicationCapability(true, key, c.hh, nil) {
				t.Error("CheckReplicationCapability accepts a short capability")
			}
		})
	}
}

// The open frames of the live transcript carry exactly these capabilities:
// the initiator's from the initiator, the responder's from the responder.
func TestLiveTranscriptOpensCarryCapabilities(t *testing.T) {
	lt := loadCapVectors(t).Wire.LiveTranscript
	var key Hash
	copy(key[:], lt.CoreKey)
	seen := 0
	for i, f := range lt.Frames {
		if f.Decoded.Name != "open" {
			continue
		}
		seen++
		initiator := f.Dir == "initiator->responder"
		want := ReplicationCapability(initiator, key, lt.HandshakeHash)
		if got := f.Decoded.Value.Handshake.Capability.Hex; !bytes.Equal(got, want[:]) {
			t.Errorf("frame %d (%s) carries capability %x, want %x", i, f.Dir, got, want)
		}
	}
	if seen != 2 {
		t.Fatalf("transcript has %d open frames, want 2", seen)
	}
}

func TestReplicationCapabilityRefusesLongHandshakeHash(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("a 65-byte handshake hash did not panic")
		}
	}()
	ReplicationCapability(true, Hash{}, make([]byte, 65))
}
